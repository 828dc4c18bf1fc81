// GPT-2's bytes_to_unicode() (CLIP and RoBERTa tokenizers) written out once for the tests,
// independently of the library's own table, so that tokenizer tests use it as an oracle and the
// tiny-model writers build vocabularies with it. Torch-free.
#pragma once

#include <string>
#include <vector>

namespace avgzsl::testing {

// Bytes that stand for themselves: printable ASCII and printable Latin-1.
inline bool byte_is_printable(int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); }

// UTF-8 of a code point below U+0800 (every symbol of the table is).
inline std::string utf8_below_0800(char32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s.push_back(static_cast<char>(cp));
  } else {
    s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
  return s;
}

// The symbol of byte `b`: itself when printable, else U+0100 onwards in byte order
// (0x0A -> "Ċ" U+010A, ' ' -> "Ġ" U+0120).
inline std::string gpt2_byte_symbol(int b) {
  char32_t cp = static_cast<char32_t>(b);
  if (!byte_is_printable(b)) {
    cp = 256;
    for (int c = 0; c < b; ++c) cp += byte_is_printable(c) ? 0 : 1;
  }
  return utf8_below_0800(cp);
}

// The 256 symbols in bytes_to_unicode()'s own order (printable bytes first), as OpenAI's and
// Hugging Face's CLIP vocabularies list them.
inline std::vector<std::string> gpt2_byte_symbols_in_table_order() {
  std::vector<std::string> symbols;
  for (int b = 0; b < 256; ++b) {
    if (byte_is_printable(b)) symbols.push_back(gpt2_byte_symbol(b));
  }
  for (int b = 0; b < 256; ++b) {
    if (!byte_is_printable(b)) symbols.push_back(gpt2_byte_symbol(b));
  }
  return symbols;
}

}  // namespace avgzsl::testing
