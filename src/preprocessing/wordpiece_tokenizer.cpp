#include "avgzsl/preprocessing/wordpiece_tokenizer.h"

#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>
#include <unicode/utypes.h>

#include <algorithm>
#include <stdexcept>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "tokenizer_common.h"

namespace avgzsl::preprocessing {

// Named, not anonymous: the library compiles in unity batches, where anonymous namespaces merge.
namespace wordpiece_text {

constexpr const char* kWho = "WordPiece tokenizer";
// BERT's WordpieceTokenizer(max_input_chars_per_word=100).
constexpr std::size_t kMaxCharsPerWord = 100;
const char* const kSpecialTokens[] = {"[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]"};

// ----------------------------------------------------------------------------------------------
// Character classes of tokenization_bert.py / tokenization_utils.py, with ICU's Unicode data
// standing in for Python's unicodedata.

// _is_whitespace: \t \n \r and category Zs.
bool is_bert_whitespace(char32_t c) {
  return c == U' ' || c == U'\t' || c == U'\n' || c == U'\r' ||
         u_charType(static_cast<UChar32>(c)) == U_SPACE_SEPARATOR;
}

// _is_control: every category C* (Cc, Cf, Cn, Co, Cs) but \t \n \r. So \v, \f and U+0085 are
// dropped, not spaces, and so are unassigned code points.
bool is_bert_control(char32_t c) {
  if (c == U'\t' || c == U'\n' || c == U'\r') return false;
  switch (u_charType(static_cast<UChar32>(c))) {
    case U_CONTROL_CHAR:
    case U_FORMAT_CHAR:
    case U_UNASSIGNED:
    case U_PRIVATE_USE_CHAR:
    case U_SURROGATE:
      return true;
    default:
      return false;
  }
}

// _is_punctuation: all non-alphanumeric ASCII ($, +, <, ^, ` ... are symbols in Unicode but
// punctuation to BERT), plus category P*.
bool is_bert_punctuation(char32_t c) {
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
      (c >= 123 && c <= 126)) {
    return true;
  }
  return u_ispunct(static_cast<UChar32>(c)) != 0;
}

// _is_chinese_char: the CJK Unified Ideographs blocks (not Hangul, Hiragana or Katakana, whose
// words are space-separated).
bool is_cjk_ideograph(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

// ----------------------------------------------------------------------------------------------
// Case and accents through ICU (UTF-16).

std::u16string to_utf16(std::u32string_view s) {
  std::u16string out;
  out.reserve(s.size());
  for (char32_t c : s) {
    if (c < 0x10000) {
      out.push_back(static_cast<char16_t>(c));
    } else {
      out.push_back(static_cast<char16_t>(0xD800 + ((c - 0x10000) >> 10)));
      out.push_back(static_cast<char16_t>(0xDC00 + ((c - 0x10000) & 0x3FF)));
    }
  }
  return out;
}

void append_from_utf16(std::u32string& out, std::u16string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    char32_t c = s[i];
    if (c >= 0xD800 && c <= 0xDBFF && i + 1 < s.size()) {
      c = 0x10000 + ((c - 0xD800) << 10) + (s[++i] - 0xDC00);
    }
    out.push_back(c);
  }
}

[[noreturn]] void throw_icu(const char* what, UErrorCode status) {
  throw std::runtime_error(std::string(kWho) + ": ICU " + what + " failed: " + u_errorName(status));
}

// Hugging Face lower-cases a BERT text one character at a time (PreTrainedTokenizer.tokenize:
// re.sub(r"(<special tokens>)|(.+?)", ... .lower())), so Python's full lower-case mapping applies
// without context: U+0130 becomes "i̇", and a capital sigma is always σ, never the final ς.
// ('\n' is not lowered there, `.` not matching it, but lower-casing leaves it alone anyway.)
void append_lower(std::u32string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(c >= U'A' && c <= U'Z' ? c + (U'a' - U'A') : c);
    return;
  }
  const std::u16string in = to_utf16(std::u32string_view(&c, 1));
  char16_t buffer[8];  // full mappings are at most 3 code points
  UErrorCode status = U_ZERO_ERROR;
  const int32_t length =
      u_strToLower(reinterpret_cast<UChar*>(buffer), 8, reinterpret_cast<const UChar*>(in.data()),
                   static_cast<int32_t>(in.size()), "", &status);
  if (U_FAILURE(status)) throw_icu("u_strToLower", status);
  append_from_utf16(out, std::u16string_view(buffer, static_cast<std::size_t>(length)));
}

// unicodedata.normalize with ICU's NFC or NFD instance.
std::u32string normalize(const std::u32string& text, bool decompose) {
  UErrorCode status = U_ZERO_ERROR;
  const UNormalizer2* form =
      decompose ? unorm2_getNFDInstance(&status) : unorm2_getNFCInstance(&status);
  if (U_FAILURE(status)) throw_icu("unorm2_get*Instance", status);
  const std::u16string in = to_utf16(text);
  std::u16string normalized(in.size() * 3 + 8, u'\0');  // ICU says when more room is needed
  for (int attempt = 0; attempt < 2; ++attempt) {
    status = U_ZERO_ERROR;
    const int32_t length = unorm2_normalize(
        form, reinterpret_cast<const UChar*>(in.data()), static_cast<int32_t>(in.size()),
        reinterpret_cast<UChar*>(normalized.data()), static_cast<int32_t>(normalized.size()),
        &status);
    if (status == U_BUFFER_OVERFLOW_ERROR && attempt == 0) {
      normalized.assign(static_cast<std::size_t>(length), u'\0');
      continue;
    }
    if (U_FAILURE(status)) throw_icu("unorm2_normalize", status);
    normalized.resize(static_cast<std::size_t>(length));
    break;
  }
  std::u32string out;
  append_from_utf16(out, normalized);
  return out;
}

bool is_ascii(const std::u32string& text) {
  return std::all_of(text.begin(), text.end(), [](char32_t c) { return c < 0x80; });
}

// _run_strip_accents: NFD, then drop the non-spacing marks (category Mn).
std::u32string strip_accents(const std::u32string& word) {
  if (is_ascii(word)) return word;
  std::u32string out;
  for (char32_t c : normalize(word, /*decompose=*/true)) {
    if (u_charType(static_cast<UChar32>(c)) != U_NON_SPACING_MARK) out.push_back(c);
  }
  return out;
}

// ----------------------------------------------------------------------------------------------
// Vocabulary file.

// Python's readlines() on a file opened as UTF-8 text: universal newlines (\n, \r\n and a lone
// \r end a line), no empty line after a final newline; then rstrip("\n") of each.
std::vector<std::string> read_vocab_lines(const std::filesystem::path& path) {
  const std::string text = tokenizer_common::read_text_file(path);
  try {
    tokenizer_common::decode_utf8_into(text, kWho, [](char32_t) {});
  } catch (const std::invalid_argument&) {
    tokenizer_common::fail(path, "content is not valid UTF-8");
  }
  std::vector<std::string> lines;
  std::size_t start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\n' && text[i] != '\r') continue;
    lines.push_back(text.substr(start, i - start));
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
    start = i + 1;
  }
  if (start < text.size()) lines.push_back(text.substr(start));
  return lines;
}

}  // namespace wordpiece_text

struct WordPieceTokenizer::State {
  std::unordered_map<std::string, std::int64_t> vocab;
  std::int64_t vocab_size = 0;
  bool do_lower_case = true;
  std::int64_t cls = 0, sep = 0, pad = 0, unk = 0;
  std::vector<std::pair<std::u32string, std::int64_t>> specials;

  // WordpieceTokenizer.tokenize on one word of BasicTokenizer's output.
  void append_word_pieces(const std::u32string& word, std::vector<std::int64_t>& ids) const {
    if (word.size() > wordpiece_text::kMaxCharsPerWord) {
      ids.push_back(unk);
      return;
    }
    // Byte offset of each code point, so that pieces are substrings of the UTF-8 word.
    std::string utf8;
    std::vector<std::size_t> offset;
    offset.reserve(word.size() + 1);
    for (char32_t c : word) {
      offset.push_back(utf8.size());
      tokenizer_common::append_utf8(utf8, c);
    }
    offset.push_back(utf8.size());
    const std::size_t first = ids.size();
    std::string candidate;
    for (std::size_t start = 0; start < word.size();) {
      // Greedy longest match first; a piece after the first is looked up with "##".
      std::size_t end = word.size();
      const std::int64_t* found = nullptr;
      for (; end > start; --end) {
        candidate.assign(start > 0 ? "##" : "");
        candidate.append(utf8, offset[start], offset[end] - offset[start]);
        const auto it = vocab.find(candidate);
        if (it != vocab.end()) {
          found = &it->second;
          break;
        }
      }
      if (found == nullptr) {  // one unspellable piece makes the whole word [UNK]
        ids.resize(first);
        ids.push_back(unk);
        return;
      }
      ids.push_back(*found);
      start = end;
    }
  }

  // BasicTokenizer.tokenize + WordPiece on a piece of text between special tokens.
  void encode_piece(const std::u32string& piece, std::vector<std::int64_t>& ids) const {
    using namespace wordpiece_text;
    // _clean_text and _tokenize_chinese_chars, then whitespace_tokenize (str.split(): after the
    // cleaning, ' ' and the line / paragraph separators U+2028 / U+2029 are left to split on).
    std::vector<std::u32string> words;
    std::u32string word;
    auto end_word = [&] {
      if (!word.empty()) words.push_back(std::move(word));
      word.clear();
    };
    for (const char32_t c : piece) {
      if (c == 0 || c == 0xFFFD || is_bert_control(c)) continue;
      if (is_bert_whitespace(c) || tokenizer_common::is_python_space(c)) {
        end_word();
      } else if (is_cjk_ideograph(c)) {
        end_word();
        word.push_back(c);
        end_word();
      } else {
        word.push_back(c);
      }
    }
    end_word();
    for (std::u32string& w : words) {
      // Recent Hugging Face versions (2023 on) compose the text to NFC here. That cannot change
      // what accent stripping's NFD gives, so only the cased models see it.
      if (!do_lower_case && !is_ascii(w)) w = normalize(w, /*decompose=*/false);
      // A never-split word (a special token that only appears once the text is cleaned, e.g.
      // "[C\x01LS]" in a cased model) is kept whole; WordPiece then finds it in the vocabulary.
      const bool never_split = std::any_of(specials.begin(), specials.end(),
                                           [&](const auto& s) { return s.first == w; });
      if (never_split) {
        append_word_pieces(w, ids);
        continue;
      }
      // An uncased text was lower-cased already (encode()), so only the accents remain to strip.
      const std::u32string text = do_lower_case ? strip_accents(w) : w;
      // _run_split_on_punc: each punctuation character is a word of its own.
      std::u32string run;
      for (const char32_t c : text) {
        if (is_bert_punctuation(c)) {
          if (!run.empty()) append_word_pieces(run, ids);
          run.clear();
          append_word_pieces(std::u32string(1, c), ids);
        } else {
          run.push_back(c);
        }
      }
      if (!run.empty()) append_word_pieces(run, ids);
    }
  }
};

WordPieceTokenizer::WordPieceTokenizer(std::shared_ptr<const State> state)
    : state_(std::move(state)) {}

WordPieceTokenizer WordPieceTokenizer::from_file(const std::filesystem::path& vocab_txt,
                                                 bool do_lower_case) {
  const std::vector<std::string> lines = wordpiece_text::read_vocab_lines(vocab_txt);
  if (lines.empty()) tokenizer_common::fail(vocab_txt, "empty vocabulary");
  auto state = std::make_shared<State>();
  state->do_lower_case = do_lower_case;
  state->vocab_size = static_cast<std::int64_t>(lines.size());
  state->vocab.reserve(lines.size());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    state->vocab[lines[i]] = static_cast<std::int64_t>(i);
  }
  for (const char* token : wordpiece_text::kSpecialTokens) {
    const auto it = state->vocab.find(token);
    if (it == state->vocab.end()) {
      tokenizer_common::fail(vocab_txt, std::string("no special token ") + token);
    }
    state->specials.emplace_back(tokenizer_common::decode_utf8(token, wordpiece_text::kWho),
                                 it->second);
  }
  state->cls = state->vocab.at("[CLS]");
  state->sep = state->vocab.at("[SEP]");
  state->pad = state->vocab.at("[PAD]");
  state->unk = state->vocab.at("[UNK]");
  return WordPieceTokenizer(std::move(state));
}

std::vector<std::int64_t> WordPieceTokenizer::encode(const std::string& text,
                                                     int max_length) const {
  if (max_length < 2) {
    throw std::invalid_argument(
        "WordPiece tokenizer: max_length must be at least 2 ([CLS] and [SEP]), got " +
        std::to_string(max_length));
  }
  const State& s = *state_;
  const std::u32string input = tokenizer_common::decode_utf8(text, wordpiece_text::kWho);
  std::vector<std::int64_t> body;
  // PreTrainedTokenizer.tokenize: the special tokens are split off first (leftmost; none is a
  // prefix of another) and are not lower-cased; every other character is, one at a time.
  std::u32string piece;
  for (std::size_t pos = 0; pos < input.size();) {
    const std::pair<std::u32string, std::int64_t>* special = nullptr;
    for (const auto& candidate : s.specials) {
      if (input.compare(pos, candidate.first.size(), candidate.first) == 0) {
        special = &candidate;
        break;
      }
    }
    if (special == nullptr) {
      if (s.do_lower_case) {
        wordpiece_text::append_lower(piece, input[pos]);
      } else {
        piece.push_back(input[pos]);
      }
      ++pos;
      continue;
    }
    s.encode_piece(piece, body);
    piece.clear();
    body.push_back(special->second);
    pos += special->first.size();
  }
  s.encode_piece(piece, body);
  const auto room = static_cast<std::size_t>(max_length - 2);
  if (body.size() > room) body.resize(room);
  std::vector<std::int64_t> ids;
  ids.reserve(body.size() + 2);
  ids.push_back(s.cls);
  ids.insert(ids.end(), body.begin(), body.end());
  ids.push_back(s.sep);
  return ids;
}

std::int64_t WordPieceTokenizer::cls_token_id() const { return state_->cls; }
std::int64_t WordPieceTokenizer::sep_token_id() const { return state_->sep; }
std::int64_t WordPieceTokenizer::pad_token_id() const { return state_->pad; }
std::int64_t WordPieceTokenizer::unk_token_id() const { return state_->unk; }
std::int64_t WordPieceTokenizer::vocab_size() const { return state_->vocab_size; }

}  // namespace avgzsl::preprocessing
