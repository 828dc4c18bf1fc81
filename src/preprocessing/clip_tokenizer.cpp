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
#include <fstream>
#include <iterator>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <shared_mutex>
#include <sstream>
#include <stdexcept>
#include <unordered_map>
#include <utility>

namespace avgzsl::preprocessing {

// Everything private to this file lives in a named namespace, not an anonymous one: the project
// compiles sources in unity batches, where the anonymous namespaces of two files merge.
namespace clip_text {

// ----------------------------------------------------------------------------------------------
// UTF-8 <-> code points. Python hands the tokenizer a str, so only valid UTF-8 has a meaning.

[[noreturn]] void throw_invalid_utf8() {
  throw std::invalid_argument("CLIP tokenizer: text is not valid UTF-8");
}

// Calls sink(code point) for each character; throws std::invalid_argument on invalid UTF-8.
template <class Sink>
void decode_utf8_into(std::string_view text, Sink&& sink) {
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
      throw_invalid_utf8();
    }
    if (end - p < extra) throw_invalid_utf8();
    for (int i = 0; i < extra; ++i) {
      if ((p[i] & 0xC0) != 0x80) throw_invalid_utf8();
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    p += extra;
    // Overlong forms, UTF-16 surrogates and values past U+10FFFF are not Unicode text.
    if (cp < min || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) throw_invalid_utf8();
    sink(cp);
  }
}

std::u32string decode_utf8(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  decode_utf8_into(text, [&out](char32_t cp) { out.push_back(cp); });
  return out;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string encode_utf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t cp : text) append_utf8(out, cp);
  return out;
}

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

// Py_UNICODE_ISSPACE: what `re`'s \s and str.strip() treat as whitespace (note U+001C..U+001F,
// which Unicode's White_Space property leaves out).
bool is_python_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}

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

// OpenAI's bytes_to_unicode(): printable Latin-1 bytes stand for themselves, the others (controls,
// space, soft hyphen...) for U+0100 onwards, so every byte has a visible, non-space symbol.
// Returned in OpenAI's order, which is also the order of the first 256 vocabulary ids.
std::vector<std::pair<unsigned char, std::string>> byte_symbols() {
  std::vector<std::pair<unsigned char, char32_t>> table;
  auto printable = [](int b) {
    return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
  };
  for (int b = 0; b < 256; ++b) {
    if (printable(b)) table.emplace_back(static_cast<unsigned char>(b), static_cast<char32_t>(b));
  }
  char32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    if (!printable(b)) table.emplace_back(static_cast<unsigned char>(b), next++);
  }
  std::vector<std::pair<unsigned char, std::string>> out;
  for (const auto& [byte, cp] : table) {
    std::string symbol;
    append_utf8(symbol, cp);
    out.emplace_back(byte, std::move(symbol));
  }
  return out;
}

const std::string kEndOfWord = "</w>";
const std::string kStartOfText = "<|startoftext|>";
const std::string kEndOfText = "<|endoftext|>";
// Both reference implementations use lines [1, 49152 - 256 - 2 + 1) of the merges file.
constexpr std::size_t kMergeLinesEnd = 49152 - 256 - 2 + 1;

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& problem) {
  throw std::runtime_error(path.string() + ": " + problem);
}

std::string read_text_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, std::string("cannot open (") + std::strerror(errno) + ")");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) fail(path, "read error");
  return buffer.str();
}

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

std::vector<std::string_view> split_ascii_whitespace(std::string_view line) {
  std::vector<std::string_view> parts;
  std::size_t i = 0;
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; };
  while (i < line.size()) {
    while (i < line.size() && space(line[i])) ++i;
    const std::size_t start = i;
    while (i < line.size() && !space(line[i])) ++i;
    if (i > start) parts.push_back(line.substr(start, i - start));
  }
  return parts;
}

struct MergeLine {
  std::string left;
  std::string right;
  std::size_t line_number;  // 1-based, for error messages
};

// Lines [1, kMergeLinesEnd) of a merges file, as OpenAI's and Hugging Face's readers slice it.
std::vector<MergeLine> parse_merges(const std::filesystem::path& path, std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t pos = 0;
  while (pos <= text.size() && lines.size() < kMergeLinesEnd) {
    const std::size_t eol = std::min(text.find('\n', pos), text.size());
    lines.push_back(text.substr(pos, eol - pos));
    pos = eol + 1;
  }
  // Both readers skip the first line blindly; checking it is the header catches a headerless or
  // unrelated file instead of silently dropping its first merge.
  if (lines.empty() || lines[0].find("#version") == std::string_view::npos) {
    fail(path, "line 1 is not a '#version' header");
  }
  // Hugging Face strips the file first, so trailing blank lines are not merges.
  while (lines.size() > 1 && split_ascii_whitespace(lines.back()).empty()) lines.pop_back();
  std::vector<MergeLine> merges;
  merges.reserve(lines.size());
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const auto parts = split_ascii_whitespace(lines[i]);
    if (parts.size() != 2) {
      fail(path, "line " + std::to_string(i + 1) + ": expected two symbols separated by a space");
    }
    merges.push_back({std::string(parts[0]), std::string(parts[1]), i + 1});
  }
  return merges;
}

// One BPE merge: the pair's rank (lower merges first) and the id of the merged symbol.
struct Merge {
  int rank;
  std::int64_t merged;
};

std::uint64_t pair_key(std::int64_t left, std::int64_t right) {
  return (static_cast<std::uint64_t>(left) << 32) | static_cast<std::uint64_t>(right);
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
  std::array<std::int64_t, 256> byte_id{};      // symbol of a byte inside a word
  std::array<std::int64_t, 256> byte_end_id{};  // symbol of a word's last byte, with "</w>"
  std::unordered_map<std::uint64_t, clip_text::Merge> merges;
  std::int64_t start_of_text = 0;
  std::int64_t end_of_text = 0;
  std::int64_t vocab_size = 0;
  re2::RE2 word_pattern{clip_text::kWordPattern, clip_text::word_pattern_options()};

  // Words recur constantly (prompt templates, class names), so their BPE is memoised as
  // OpenAI's tokenizer does; bounded so that a long-lived process can't grow it without end.
  static constexpr std::size_t kCacheCapacity = 1 << 17;
  mutable std::shared_mutex cache_mutex;
  mutable std::unordered_map<std::string, std::vector<std::int64_t>> cache;

  // `encoder`: token -> id; `merges`: in rank order. Paths only name the files in errors.
  State(const std::unordered_map<std::string, std::int64_t>& encoder,
        const std::vector<clip_text::MergeLine>& merge_lines,
        const std::filesystem::path& vocab_path, const std::filesystem::path& merges_path) {
    if (!word_pattern.ok()) throw std::logic_error("CLIP word pattern: " + word_pattern.error());
    auto id_of = [&](const std::string& token) -> const std::int64_t* {
      const auto it = encoder.find(token);
      return it == encoder.end() ? nullptr : &it->second;
    };
    for (const auto& [byte, symbol] : clip_text::byte_symbols()) {
      const std::int64_t* id = id_of(symbol);
      const std::int64_t* end_id = id_of(symbol + clip_text::kEndOfWord);
      if (id == nullptr || end_id == nullptr) {
        clip_text::fail(vocab_path, "no token for byte " + std::to_string(byte) + " ('" + symbol +
                                        "' or '" + symbol + clip_text::kEndOfWord + "')");
      }
      byte_id[byte] = *id;
      byte_end_id[byte] = *end_id;
    }
    for (const std::string* special : {&clip_text::kStartOfText, &clip_text::kEndOfText}) {
      if (id_of(*special) == nullptr) clip_text::fail(vocab_path, "no token " + *special);
    }
    start_of_text = *id_of(clip_text::kStartOfText);
    end_of_text = *id_of(clip_text::kEndOfText);
    for (const auto& [token, id] : encoder) vocab_size = std::max(vocab_size, id + 1);

    merges.reserve(merge_lines.size());
    for (std::size_t rank = 0; rank < merge_lines.size(); ++rank) {
      const clip_text::MergeLine& m = merge_lines[rank];
      const std::int64_t* left = id_of(m.left);
      const std::int64_t* right = id_of(m.right);
      const std::int64_t* merged = id_of(m.left + m.right);
      if (left == nullptr || right == nullptr || merged == nullptr) {
        const std::string missing = left == nullptr    ? m.left
                                    : right == nullptr ? m.right
                                                       : m.left + m.right;
        clip_text::fail(merges_path, "line " + std::to_string(m.line_number) + ": token '" +
                                         missing + "' is not in the vocabulary");
      }
      // A repeated pair keeps its last rank, as Python's dict(zip(merges, range(...))).
      merges[clip_text::pair_key(*left, *right)] = {static_cast<int>(rank), *merged};
    }
    // OpenAI seeds its cache with the special tokens: written in a text, they are not split.
    cache[clip_text::kStartOfText] = {start_of_text};
    cache[clip_text::kEndOfText] = {end_of_text};
  }

  // OpenAI's bpe(): repeatedly merge every occurrence (left to right) of the adjacent pair with
  // the lowest rank. Symbols are vocabulary ids: every symbol BPE can produce is a token, which
  // the constructor checked.
  std::vector<std::int64_t> bpe(std::string_view word) const {
    std::vector<std::int64_t> symbols;
    symbols.reserve(word.size());
    for (std::size_t i = 0; i < word.size(); ++i) {
      const auto byte = static_cast<unsigned char>(word[i]);
      symbols.push_back(i + 1 == word.size() ? byte_end_id[byte] : byte_id[byte]);
    }
    std::vector<std::int64_t> merged;
    merged.reserve(symbols.size());
    while (symbols.size() > 1) {
      const clip_text::Merge* best = nullptr;
      std::uint64_t best_key = 0;
      for (std::size_t i = 0; i + 1 < symbols.size(); ++i) {
        const std::uint64_t key = clip_text::pair_key(symbols[i], symbols[i + 1]);
        const auto it = merges.find(key);
        if (it != merges.end() && (best == nullptr || it->second.rank < best->rank)) {
          best = &it->second;
          best_key = key;
        }
      }
      if (best == nullptr) break;
      merged.clear();
      for (std::size_t i = 0; i < symbols.size();) {
        if (i + 1 < symbols.size() && clip_text::pair_key(symbols[i], symbols[i + 1]) == best_key) {
          merged.push_back(best->merged);
          i += 2;
        } else {
          merged.push_back(symbols[i]);
          i += 1;
        }
      }
      symbols.swap(merged);
    }
    return symbols;
  }

  void append_word(std::string_view word, std::vector<std::int64_t>& ids) const {
    const std::string key(word);
    {
      std::shared_lock lock(cache_mutex);
      const auto it = cache.find(key);
      if (it != cache.end()) {
        ids.insert(ids.end(), it->second.begin(), it->second.end());
        return;
      }
    }
    std::vector<std::int64_t> word_ids = bpe(word);
    ids.insert(ids.end(), word_ids.begin(), word_ids.end());
    std::unique_lock lock(cache_mutex);
    if (cache.size() < kCacheCapacity) cache.emplace(key, std::move(word_ids));
  }
};

ClipTokenizer::ClipTokenizer(std::shared_ptr<State> state) : state_(std::move(state)) {}

ClipTokenizer ClipTokenizer::from_hugging_face(const std::filesystem::path& directory) {
  const std::filesystem::path vocab_path = directory / "vocab.json";
  const std::filesystem::path merges_path = directory / "merges.txt";
  nlohmann::json vocab;
  try {
    vocab = nlohmann::json::parse(clip_text::read_text_file(vocab_path));
  } catch (const nlohmann::json::exception& e) {
    clip_text::fail(vocab_path, std::string("invalid JSON: ") + e.what());
  }
  if (!vocab.is_object()) clip_text::fail(vocab_path, "expected a JSON object token -> id");
  std::unordered_map<std::string, std::int64_t> encoder;
  std::unordered_map<std::int64_t, std::string> tokens_by_id;
  encoder.reserve(vocab.size());
  for (const auto& [token, id] : vocab.items()) {
    if (!id.is_number_integer() || id.get<std::int64_t>() < 0 ||
        id.get<std::int64_t>() > std::numeric_limits<std::int32_t>::max()) {
      clip_text::fail(vocab_path, "token '" + token + "': id is not an integer in [0, 2^31)");
    }
    const auto value = id.get<std::int64_t>();
    // BPE works on ids, which needs one token per id.
    const auto [it, inserted] = tokens_by_id.emplace(value, token);
    if (!inserted) {
      clip_text::fail(vocab_path, "tokens '" + it->second + "' and '" + token + "' share id " +
                                      std::to_string(value));
    }
    encoder.emplace(token, value);
  }
  const std::string merges_text = clip_text::read_text_file(merges_path);
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
  const auto symbols = clip_text::byte_symbols();
  for (const auto& [byte, symbol] : symbols) vocab.push_back(symbol);
  for (const auto& [byte, symbol] : symbols) vocab.push_back(symbol + clip_text::kEndOfWord);
  for (const auto& m : merges) vocab.push_back(m.left + m.right);
  vocab.push_back(clip_text::kStartOfText);
  vocab.push_back(clip_text::kEndOfText);
  std::unordered_map<std::string, std::int64_t> encoder;
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
    state_->append_word(std::string_view(word.data(), word.size()), ids);
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
