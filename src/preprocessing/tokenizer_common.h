// What the library's three text tokenizers (CLIP, RoBERTa, BERT WordPiece) share: UTF-8 <-> code
// points, Python's idea of whitespace, and the loaders' one-line file errors. Private to
// src/preprocessing/.
#pragma once

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>

namespace avgzsl::preprocessing::tokenizer_common {

// Python hands its tokenizers a str, so only valid UTF-8 has a meaning here.
[[noreturn]] inline void throw_invalid_utf8(const char* who) {
  throw std::invalid_argument(std::string(who) + ": text is not valid UTF-8");
}

// Calls sink(code point) for each character; throws std::invalid_argument "<who>: text is not
// valid UTF-8" on malformed input (overlong forms, surrogates and values past U+10FFFF included).
template <class Sink>
void decode_utf8_into(std::string_view text, const char* who, Sink&& sink) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  while (p < end) {
    const unsigned char lead = *p++;
    if (lead < 0x80) {
      sink(static_cast<char32_t>(lead));
      continue;
    }
    int extra = 0;
    char32_t cp = 0;
    char32_t min = 0;
    if ((lead & 0xE0) == 0xC0) {
      extra = 1, cp = lead & 0x1F, min = 0x80;
    } else if ((lead & 0xF0) == 0xE0) {
      extra = 2, cp = lead & 0x0F, min = 0x800;
    } else if ((lead & 0xF8) == 0xF0) {
      extra = 3, cp = lead & 0x07, min = 0x10000;
    } else {
      throw_invalid_utf8(who);
    }
    if (end - p < extra) throw_invalid_utf8(who);
    for (int i = 0; i < extra; ++i) {
      if ((p[i] & 0xC0) != 0x80) throw_invalid_utf8(who);
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    p += extra;
    if (cp < min || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) throw_invalid_utf8(who);
    sink(cp);
  }
}

std::u32string decode_utf8(std::string_view text, const char* who);
void append_utf8(std::string& out, char32_t cp);
std::string encode_utf8(std::u32string_view text);

// Py_UNICODE_ISSPACE: what Python's str.split(), str.strip() and `re`'s \s treat as whitespace
// (note U+001C..U+001F, which Unicode's White_Space property leaves out).
bool is_python_space(char32_t c);

// Loader errors are one line, "<path>: <problem>", as std::runtime_error.
[[noreturn]] void fail(const std::filesystem::path& path, const std::string& problem);
std::string read_text_file(const std::filesystem::path& path);

}  // namespace avgzsl::preprocessing::tokenizer_common
