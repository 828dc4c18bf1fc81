#include "avgzsl/preprocessing/clip_tokenizer.h"

#include <re2/re2.h>
#include <unicode/ustring.h>
#include <unicode/utypes.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <stdexcept>
#include <unordered_map>
#include <utility>
#include <optional>

#include "byte_level_bpe.h"
#include "tokenizer_common.h"

namespace avgzsl::preprocessing {

// Everything private to this file lives in a named namespace, not an anonymous one: the project
// compiles sources in unity batches, where the anonymous namespaces of two files merge.
namespace clip_text {

// ----------------------------------------------------------------------------------------------
// UTF-8 <-> code points (tokenizer_common.h), naming this tokenizer in the error.

constexpr const char* kWho = "CLIP tokenizer";

template <class Sink>
void decode_utf8_into(std::string_view text, Sink&& sink) {
  tokenizer_common::decode_utf8_into(text, kWho, std::forward<Sink>(sink));
}

std::u32string decode_utf8(std::string_view text) {
  return tokenizer_common::decode_utf8(text, kWho);
}

using tokenizer_common::append_utf8;
using tokenizer_common::encode_utf8;

// ----------------------------------------------------------------------------------------------
// html.unescape, following CPython 3.11's Lib/html/__init__.py line by line.

struct Entity {
  const char* name;
  const char* value;
};

constexpr Entity kHtml5Entities[] = {
#include "html5_entities.inc"
};

const char* find_entity(std::string_view name) {
  const auto* end = std::end(kHtml5Entities);
  const auto* it = std::lower_bound(std::begin(kHtml5Entities), end, name,
                                    [](const Entity& e, std::string_view n) { return e.name < n; });
  return it != end && it->name == name ? it->value : nullptr;
}

// Python's _invalid_charrefs: what HTML5 substitutes for references to C1 controls (the
// Windows-1252 characters at those positions), NUL and CR.
bool invalid_charref(std::uint32_t num, char32_t& replacement) {
  static constexpr char32_t kC1[32] = {
      0x20AC, 0x81,   0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
      0x2039, 0x0152, 0x8D,   0x017D, 0x8F,   0x90,   0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
      0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D,   0x017E, 0x0178};
  if (num == 0x00) {
    replacement = 0xFFFD;
  } else if (num == 0x0D) {
    replacement = U'\r';
  } else if (num >= 0x80 && num <= 0x9F) {
    replacement = kC1[num - 0x80];
  } else {
    return false;
  }
  return true;
}

// Python's _invalid_codepoints: references to these expand to nothing.
bool invalid_codepoint(std::uint32_t num) {
  return (num >= 0x01 && num <= 0x08) || num == 0x0B || (num >= 0x0E && num <= 0x1F) ||
         (num >= 0x7F && num <= 0x9F) || (num >= 0xFDD0 && num <= 0xFDEF) ||
         (num <= 0x10FFFF && (num & 0xFFFE) == 0xFFFE);
}

bool is_ascii_digit(char32_t c) { return c >= U'0' && c <= U'9'; }
bool is_ascii_hex_digit(char32_t c) {
  return is_ascii_digit(c) || (c >= U'a' && c <= U'f') || (c >= U'A' && c <= U'F');
}
int hex_value(char32_t c) {
  if (is_ascii_digit(c)) return static_cast<int>(c - U'0');
  if (c >= U'a' && c <= U'f') return static_cast<int>(c - U'a') + 10;
  return static_cast<int>(c - U'A') + 10;
}

// The characters that may form a named reference: [^\t\n\f <&#;] in Python's pattern.
bool is_entity_name_char(char32_t c) {
  return c != U'\t' && c != U'\n' && c != U'\f' && c != U' ' && c != U'<' && c != U'&' &&
         c != U'#' && c != U';';
}

std::u32string unescape(const std::u32string& s) {
  if (s.find(U'&') == std::u32string::npos) return s;
  std::u32string out;
  out.reserve(s.size());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    if (s[i] != U'&') {
      out.push_back(s[i++]);
      continue;
    }
    const std::size_t start = i + 1;
    if (start < n && s[start] == U'#') {
      // Alternatives 1 and 2 of _charref: #[0-9]+;? and #[xX][0-9a-fA-F]+;?
      std::size_t k = start + 1;
      const bool hex = k + 1 < n && (s[k] == U'x' || s[k] == U'X') && is_ascii_hex_digit(s[k + 1]);
      const bool dec = k < n && is_ascii_digit(s[k]);
      if (!hex && !dec) {
        out.push_back(s[i++]);  // "&#" without digits is no reference; '#' can't start a name
        continue;
      }
      if (hex) ++k;
      // Python's int() is unbounded; anything past U+10FFFF gets the same answer, so saturate.
      std::uint32_t num = 0;
      while (k < n && (hex ? is_ascii_hex_digit(s[k]) : is_ascii_digit(s[k]))) {
        const std::uint32_t digit = static_cast<std::uint32_t>(hex_value(s[k]));
        num = std::min<std::uint32_t>(num * (hex ? 16 : 10) + digit, 0x110000);
        ++k;
      }
      if (k < n && s[k] == U';') ++k;
      char32_t replacement;
      if (invalid_charref(num, replacement)) {
        out.push_back(replacement);
      } else if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) {
        out.push_back(0xFFFD);
      } else if (!invalid_codepoint(num)) {
        out.push_back(static_cast<char32_t>(num));
      }
      i = k;
      continue;
    }
    // Alternative 3: [^\t\n\f <&#;]{1,32};?
    std::size_t k = start;
    while (k < n && k - start < 32 && is_entity_name_char(s[k])) ++k;
    if (k == start) {
      out.push_back(s[i++]);
      continue;
    }
    if (k < n && s[k] == U';') ++k;
    const std::u32string_view name(s.data() + start, k - start);
    if (const char* value = find_entity(encode_utf8(name))) {
      out.append(decode_utf8(value));
    } else {
      // The longest prefix (at least 2 characters) that is a legacy name without ';' wins.
      bool found = false;
      for (std::size_t x = name.size() - 1; x >= 2 && x < name.size(); --x) {
        if (const char* prefix_value = find_entity(encode_utf8(name.substr(0, x)))) {
          out.append(decode_utf8(prefix_value));
          out.append(name.substr(x));
          found = true;
          break;
        }
      }
      if (!found) {
        out.push_back(U'&');
        out.append(name);
      }
    }
    i = k;
  }
  return out;
}

// ----------------------------------------------------------------------------------------------
// Whitespace and case, as Python's str.

using tokenizer_common::is_python_space;

std::u32string collapse_whitespace(const std::u32string& s) {
  std::u32string out;
  out.reserve(s.size());
  bool pending_space = false;
  for (char32_t c : s) {
    if (is_python_space(c)) {
      pending_space = !out.empty();  // leading runs vanish (strip)
    } else {
      if (pending_space) out.push_back(U' ');
      pending_space = false;
      out.push_back(c);
    }
  }
  return out;  // a trailing run is never flushed (strip)
}

// Python's str.lower() is Unicode's full lower-case mapping (SpecialCasing's unconditional
// entries, e.g. U+0130 -> "i̇") plus the Final_Sigma rule, which is what ICU's root locale does.
// Checked against Python 3.11 on every code point, alone and before / after a capital sigma: the
// only differences are code points that Python's Unicode 14 leaves unassigned and ICU 72's
// Unicode 15 makes case-ignorable marks.
std::string to_lower_utf8(const std::u32string& s) {
  const bool ascii = std::all_of(s.begin(), s.end(), [](char32_t c) { return c < 0x80; });
  if (ascii) {
    std::string out(s.size(), '\0');
    std::transform(s.begin(), s.end(), out.begin(), [](char32_t c) {
      return static_cast<char>(c >= U'A' && c <= U'Z' ? c + (U'a' - U'A') : c);
    });
    return out;
  }
  std::u16string utf16;
  utf16.reserve(s.size() + 8);
  for (char32_t c : s) {
    if (c < 0x10000) {
      utf16.push_back(static_cast<char16_t>(c));
    } else {
      utf16.push_back(static_cast<char16_t>(0xD800 + ((c - 0x10000) >> 10)));
      utf16.push_back(static_cast<char16_t>(0xDC00 + ((c - 0x10000) & 0x3FF)));
    }
  }
  // Lower-casing can lengthen the text (U+0130 becomes two code units); ICU says by how much.
  std::u16string lowered(utf16.size() + 16, u'\0');
  for (int attempt = 0; attempt < 2; ++attempt) {
    UErrorCode status = U_ZERO_ERROR;
    const int32_t length =
        u_strToLower(reinterpret_cast<UChar*>(lowered.data()), static_cast<int32_t>(lowered.size()),
                     reinterpret_cast<const UChar*>(utf16.data()),
                     static_cast<int32_t>(utf16.size()), "", &status);
    if (status == U_BUFFER_OVERFLOW_ERROR && attempt == 0) {
      lowered.assign(static_cast<std::size_t>(length), u'\0');
      continue;
    }
    if (U_FAILURE(status)) {
      throw std::runtime_error(std::string("CLIP tokenizer: ICU u_strToLower failed: ") +
                               u_errorName(status));
    }
    lowered.resize(static_cast<std::size_t>(length));
    break;
  }
  std::string out;
  out.reserve(lowered.size() + lowered.size() / 2);
  for (std::size_t i = 0; i < lowered.size(); ++i) {
    char32_t c = lowered[i];
    if (c >= 0xD800 && c <= 0xDBFF && i + 1 < lowered.size()) {
      c = 0x10000 + ((c - 0xD800) << 10) + (lowered[++i] - 0xDC00);
    }
    append_utf8(out, c);
  }
  return out;
}

// ----------------------------------------------------------------------------------------------
// Vocabulary files.

const std::string kEndOfWord = "</w>";
const std::string kStartOfText = "<|startoftext|>";
const std::string kEndOfText = "<|endoftext|>";
// Both reference implementations use lines [1, 49152 - 256 - 2 + 1) of the merges file.
constexpr std::size_t kMergeLinesEnd = 49152 - 256 - 2 + 1;

using tokenizer_common::fail;

std::string read_gzip_file(const std::filesystem::path& path) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) fail(path, std::string("cannot open (") + std::strerror(errno) + ")");
  std::string out;
  std::array<char, 1 << 16> chunk;
  std::string error;
  for (;;) {
    const int n = gzread(file, chunk.data(), static_cast<unsigned>(chunk.size()));
    if (n < 0) {
      int code = Z_OK;
      const char* message = gzerror(file, &code);
      error = message != nullptr ? message : "";
      // zlib prefixes its message with the path, which our own prefix already gives.
      const std::string prefix = path.string() + ": ";
      if (error.compare(0, prefix.size(), prefix) == 0) error.erase(0, prefix.size());
      if (error.empty()) error = "zlib error " + std::to_string(code);
      break;
    }
    if (n == 0) break;
    out.append(chunk.data(), static_cast<std::size_t>(n));
  }
  // zlib passes files that are not gzip through unchanged; OpenAI's gzip.open refuses them.
  const bool direct = gzdirect(file) != 0;
  const int close_code = gzclose_r(file);
  if (!error.empty()) fail(path, "corrupt gzip data (" + error + ")");
  if (close_code == Z_BUF_ERROR) fail(path, "truncated gzip data");
  if (close_code != Z_OK) fail(path, "gzip read error " + std::to_string(close_code));
  if (direct && !out.empty()) fail(path, "not a gzip file");
  return out;
}

// Lines [1, kMergeLinesEnd) of a merges file, as OpenAI's and Hugging Face's readers slice it.
std::vector<byte_level_bpe::MergeLine> parse_merges(const std::filesystem::path& path,
                                                    std::string_view text) {
  return byte_level_bpe::parse_merges(path, text, kMergeLinesEnd);
}

// OpenAI's pre-tokenisation regex (Python `regex` module, IGNORECASE), in RE2 syntax:
//   <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
// Two differences between the engines are bridged (checked on every code point against Python):
// - \s: RE2's is ASCII only, `regex`'s is Unicode's White_Space, spelled out here. (Cleaned text
//   holds no whitespace but ' ', so this only keeps the pattern honest.)
// - U+0345 (combining ypogegrammeni, Mn) case-folds to the letter U+03B9. With IGNORECASE,
//   `regex` leaves it out of [\p{L}] and, as a case variant of a letter, out of [^\s\p{L}\p{N}]
//   too: it matches no alternative and is dropped like a space. RE2 folds it into \p{L}, so the
//   classes are matched case-sensitively here (folding a letter gives a letter, a digit a digit:
//   nothing else changes) and U+0345 is excluded by hand.
// Case-insensitivity still matters for the contractions: "'\u017F" (long s) matches 's in both.
// Letters assigned after the engines' Unicode versions can still differ.
constexpr const char* kWordPattern =
    R"((<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|(?-i:\p{L}+|\p{N}|)"
    R"([^\t\n\x{0B}\f\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F})"
    R"(\x{3000}\x{345}\p{L}\p{N}]+)))";

re2::RE2::Options word_pattern_options() {
  re2::RE2::Options options;
  options.set_case_sensitive(false);
  return options;
}

}  // namespace clip_text

std::string html_unescape(std::string_view utf8) {
  return clip_text::encode_utf8(clip_text::unescape(clip_text::decode_utf8(utf8)));
}

std::string clip_clean_text(std::string_view utf8) {
  const std::u32string unescaped =
      clip_text::unescape(clip_text::unescape(clip_text::decode_utf8(utf8)));
  return clip_text::to_lower_utf8(clip_text::collapse_whitespace(unescaped));
}

struct ClipTokenizer::State {
  std::int64_t start_of_text = 0;
  std::int64_t end_of_text = 0;
  std::int64_t vocab_size = 0;
  re2::RE2 word_pattern{clip_text::kWordPattern, clip_text::word_pattern_options()};
  std::optional<byte_level_bpe::Encoder> bpe;  // optional: built after the checks below

  // `encoder`: token -> id; `merges`: in rank order. Paths only name the files in errors.
  State(const byte_level_bpe::Vocabulary& encoder,
        const std::vector<byte_level_bpe::MergeLine>& merge_lines,
        const std::filesystem::path& vocab_path, const std::filesystem::path& merges_path) {
    if (!word_pattern.ok()) throw std::logic_error("CLIP word pattern: " + word_pattern.error());
    auto has = [&](const std::string& token) { return encoder.count(token) != 0; };
    // CLIP's vocabulary has a token for every symbol BPE can make (OpenAI's tokenizer has no
    // unknown token), so a missing one is a corrupt file, reported as such.
    for (const auto& [byte, symbol] : byte_level_bpe::byte_symbols()) {
      if (!has(symbol) || !has(symbol + clip_text::kEndOfWord)) {
        clip_text::fail(vocab_path, "no token for byte " + std::to_string(byte) + " ('" + symbol +
                                        "' or '" + symbol + clip_text::kEndOfWord + "')");
      }
    }
    for (const std::string* special : {&clip_text::kStartOfText, &clip_text::kEndOfText}) {
      if (!has(*special)) clip_text::fail(vocab_path, "no token " + *special);
    }
    start_of_text = encoder.at(clip_text::kStartOfText);
    end_of_text = encoder.at(clip_text::kEndOfText);
    vocab_size = byte_level_bpe::vocab_size(encoder);
    for (const byte_level_bpe::MergeLine& m : merge_lines) {
      for (const std::string& token : {m.left, m.right, m.left + m.right}) {
        if (!has(token)) {
          clip_text::fail(merges_path, "line " + std::to_string(m.line_number) + ": token '" +
                                           token + "' is not in the vocabulary");
        }
      }
    }
    bpe.emplace(encoder, merge_lines, clip_text::kEndOfWord, /*unknown_id=*/-1);
    // OpenAI seeds its cache with the special tokens: written in a text, they are not split.
    bpe->pin_word(clip_text::kStartOfText, {start_of_text});
    bpe->pin_word(clip_text::kEndOfText, {end_of_text});
  }
};

ClipTokenizer::ClipTokenizer(std::shared_ptr<State> state) : state_(std::move(state)) {}

ClipTokenizer ClipTokenizer::from_hugging_face(const std::filesystem::path& directory) {
  const std::filesystem::path vocab_path = directory / "vocab.json";
  const std::filesystem::path merges_path = directory / "merges.txt";
  const byte_level_bpe::Vocabulary encoder = byte_level_bpe::read_vocab_json(vocab_path);
  const std::string merges_text = tokenizer_common::read_text_file(merges_path);
  const auto merges = clip_text::parse_merges(merges_path, merges_text);
  return ClipTokenizer(std::make_shared<State>(encoder, merges, vocab_path, merges_path));
}

ClipTokenizer ClipTokenizer::from_openai_vocabulary(const std::filesystem::path& bpe_gz_path) {
  const std::string text = clip_text::read_gzip_file(bpe_gz_path);
  try {
    clip_text::decode_utf8_into(text, [](char32_t) {});  // OpenAI decodes it as UTF-8
  } catch (const std::invalid_argument&) {
    clip_text::fail(bpe_gz_path, "content is not valid UTF-8");
  }
  const auto merges = clip_text::parse_merges(bpe_gz_path, text);
  // OpenAI's vocabulary: byte symbols, byte symbols + "</w>", one token per merge, the two
  // special tokens; ids in that order (a repeated token keeps its last position, as dict(zip)).
  std::vector<std::string> vocab;
  vocab.reserve(512 + merges.size() + 2);
  const auto symbols = byte_level_bpe::byte_symbols();
  for (const auto& [byte, symbol] : symbols) vocab.push_back(symbol);
  for (const auto& [byte, symbol] : symbols) vocab.push_back(symbol + clip_text::kEndOfWord);
  for (const auto& m : merges) vocab.push_back(m.left + m.right);
  vocab.push_back(clip_text::kStartOfText);
  vocab.push_back(clip_text::kEndOfText);
  byte_level_bpe::Vocabulary encoder;
  encoder.reserve(vocab.size());
  for (std::size_t id = 0; id < vocab.size(); ++id) {
    encoder[vocab[id]] = static_cast<std::int64_t>(id);
  }
  return ClipTokenizer(std::make_shared<State>(encoder, merges, bpe_gz_path, bpe_gz_path));
}

std::vector<std::int64_t> ClipTokenizer::encode(const std::string& text) const {
  const std::string cleaned = clip_clean_text(text);
  std::vector<std::int64_t> ids;
  re2::StringPiece input(cleaned);
  re2::StringPiece word;
  while (re2::RE2::FindAndConsume(&input, state_->word_pattern, &word)) {
    state_->bpe->encode_word(std::string_view(word.data(), word.size()), ids);
  }
  return ids;
}

std::vector<std::int64_t> ClipTokenizer::tokenize(const std::string& text, int context_length,
                                                  bool truncate) const {
  if (context_length < 1) {
    throw std::invalid_argument("CLIP tokenize: context_length must be positive, got " +
                                std::to_string(context_length));
  }
  std::vector<std::int64_t> ids;
  ids.push_back(state_->start_of_text);
  const std::vector<std::int64_t> body = encode(text);
  ids.insert(ids.end(), body.begin(), body.end());
  ids.push_back(state_->end_of_text);
  const auto length = static_cast<std::size_t>(context_length);
  if (ids.size() > length) {
    if (!truncate) {
      throw std::invalid_argument("CLIP tokenize: text gives " + std::to_string(ids.size()) +
                                  " tokens, more than the context length " +
                                  std::to_string(context_length));
    }
    ids.resize(length);
    ids.back() = state_->end_of_text;
  }
  ids.resize(length, 0);
  return ids;
}

std::int64_t ClipTokenizer::start_of_text_id() const { return state_->start_of_text; }
std::int64_t ClipTokenizer::end_of_text_id() const { return state_->end_of_text; }
std::int64_t ClipTokenizer::vocab_size() const { return state_->vocab_size; }

}  // namespace avgzsl::preprocessing
