#include "avgzsl/preprocessing/roberta_tokenizer.h"

#include <re2/re2.h>

#include <algorithm>
#include <array>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <utility>

#include "byte_level_bpe.h"
#include "tokenizer_common.h"

namespace avgzsl::preprocessing {

// Named, not anonymous: the library compiles in unity batches, where anonymous namespaces merge.
namespace roberta_text {

constexpr const char* kWho = "RoBERTa tokenizer";

// GPT-2's pre-tokenisation regex, which RobertaTokenizer compiles with Python's `regex` module
// (no flags, so the contractions are case-sensitive: "'S" is not one):
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// RE2 differs from `regex` in two places, bridged here:
// - \s: RE2's is ASCII only, `regex`'s is Unicode's White_Space, spelled out below (checked
//   against `regex` on every code point).
// - RE2 has no lookahead. `\s+(?!\S)|\s+` together match a run of whitespace, except that a
//   run of two or more followed by a non-space gives its last character to the next token (so
//   that " word" keeps its space). The run is captured as group 1 and shortened in encode().
// Letters and digits assigned after the engines' Unicode versions can still differ.
#define AVGZSL_GPT2_WHITESPACE \
  R"(\t\n\x{0B}\f\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000})"
constexpr const char* kPreTokenPattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^)" AVGZSL_GPT2_WHITESPACE
    R"(\p{L}\p{N}]+|([)" AVGZSL_GPT2_WHITESPACE R"(]+))";
#undef AVGZSL_GPT2_WHITESPACE

// Bytes of the last code point of `text` (valid UTF-8, non-empty).
std::size_t last_code_point_size(std::string_view text) {
  std::size_t size = 1;
  while (size < text.size() &&
         (static_cast<unsigned char>(text[text.size() - size]) & 0xC0) == 0x80) {
    ++size;
  }
  return size;
}

// Python's str.rstrip() with no argument.
std::string_view rstrip_python_space(std::string_view text) {
  while (!text.empty()) {
    const std::size_t size = last_code_point_size(text);
    char32_t cp = 0;
    tokenizer_common::decode_utf8_into(text.substr(text.size() - size), kWho,
                                       [&cp](char32_t c) { cp = c; });
    if (!tokenizer_common::is_python_space(cp)) break;
    text.remove_suffix(size);
  }
  return text;
}

bool starts_with_python_space(std::string_view text) {
  if (text.empty()) return false;
  std::size_t size = 1;
  while (size < text.size() && (static_cast<unsigned char>(text[size]) & 0xC0) == 0x80) ++size;
  char32_t cp = 0;
  tokenizer_common::decode_utf8_into(text.substr(0, size), kWho, [&cp](char32_t c) { cp = c; });
  return tokenizer_common::is_python_space(cp);
}

struct Special {
  std::string text;
  std::int64_t id;
  bool takes_space_before;  // Hugging Face's AddedToken(lstrip=True): only <mask>
};

}  // namespace roberta_text

struct RobertaTokenizer::State {
  std::int64_t cls = 0, sep = 0, pad = 0, unk = 0, vocab_size = 0;
  bool add_prefix_space = false;
  std::vector<roberta_text::Special> specials;
  re2::RE2 pre_token_pattern{roberta_text::kPreTokenPattern};
  std::optional<byte_level_bpe::Encoder> bpe;  // optional: built after the checks below

  State(const byte_level_bpe::Vocabulary& vocab,
        const std::vector<byte_level_bpe::MergeLine>& merges,
        const std::filesystem::path& vocab_path, bool prefix_space)
      : add_prefix_space(prefix_space) {
    if (!pre_token_pattern.ok()) {
      throw std::logic_error("GPT-2 pre-token pattern: " + pre_token_pattern.error());
    }
    auto id_of = [&](const std::string& token) {
      const auto it = vocab.find(token);
      if (it == vocab.end()) tokenizer_common::fail(vocab_path, "no special token " + token);
      return it->second;
    };
    cls = id_of("<s>");
    sep = id_of("</s>");
    pad = id_of("<pad>");
    unk = id_of("<unk>");
    // Hugging Face splits the text on every special token before pre-tokenising the pieces.
    specials = {{"<s>", cls, false},
                {"</s>", sep, false},
                {"<pad>", pad, false},
                {"<unk>", unk, false},
                {"<mask>", id_of("<mask>"), true}};
    vocab_size = byte_level_bpe::vocab_size(vocab);
    bpe.emplace(vocab, merges, /*end_of_word=*/"", unk);
  }

  // re.findall(pattern, piece), each match handed to `sink`.
  template <class Sink>
  void for_each_pre_token(std::string_view piece, Sink&& sink) const {
    re2::StringPiece match[2];
    std::size_t pos = 0;
    while (pos < piece.size() &&
           pre_token_pattern.Match(piece, pos, piece.size(), re2::RE2::UNANCHORED, match, 2)) {
      std::string_view token(match[0].data(), match[0].size());
      if (token.empty()) break;  // cannot happen: every alternative consumes a character
      const auto end = static_cast<std::size_t>(token.data() - piece.data()) + token.size();
      // \s+(?!\S): a run of 2+ followed by a non-space (the run is maximal, so anything after it
      // is one) leaves its last character to the next token.
      if (match[1].data() != nullptr && end < piece.size()) {
        const std::size_t last = roberta_text::last_code_point_size(token);
        if (last < token.size()) token.remove_suffix(last);
      }
      sink(token);
      pos = static_cast<std::size_t>(token.data() - piece.data()) + token.size();
    }
  }

  // Hugging Face's tokenize(): the special tokens' trie split, then each piece's BPE.
  std::vector<std::int64_t> encode_text(std::string_view text) const {
    std::vector<std::int64_t> ids;
    std::size_t pos = 0;
    while (pos < text.size()) {
      // The leftmost special token (none is a prefix of another, so there is no tie).
      std::size_t found = std::string_view::npos;
      const roberta_text::Special* special = nullptr;
      for (const auto& s : specials) {
        const std::size_t at = text.find(s.text, pos);
        if (at < found) found = at, special = &s;
      }
      std::string_view piece =
          text.substr(pos, found == std::string_view::npos ? found : found - pos);
      if (special != nullptr && special->takes_space_before) {
        piece = roberta_text::rstrip_python_space(piece);
      }
      // Hugging Face's _tokenize: each pre-token's bytes through BPE.
      for_each_pre_token(piece, [&](std::string_view word) { bpe->encode_word(word, ids); });
      if (special == nullptr) break;
      ids.push_back(special->id);
      pos = found + special->text.size();
    }
    return ids;
  }
};

RobertaTokenizer::RobertaTokenizer(std::shared_ptr<State> state) : state_(std::move(state)) {}

RobertaTokenizer RobertaTokenizer::from_files(const std::filesystem::path& vocab_json,
                                              const std::filesystem::path& merges_txt,
                                              bool add_prefix_space) {
  const byte_level_bpe::Vocabulary vocab = byte_level_bpe::read_vocab_json(vocab_json);
  const std::string merges_text = tokenizer_common::read_text_file(merges_txt);
  try {
    tokenizer_common::decode_utf8_into(merges_text, roberta_text::kWho, [](char32_t) {});
  } catch (const std::invalid_argument&) {
    tokenizer_common::fail(merges_txt, "content is not valid UTF-8");
  }
  const auto merges = byte_level_bpe::parse_merges(merges_txt, merges_text);
  return RobertaTokenizer(std::make_shared<State>(vocab, merges, vocab_json, add_prefix_space));
}

std::vector<std::int64_t> RobertaTokenizer::encode(const std::string& text, int max_length) const {
  if (max_length < 2) {
    throw std::invalid_argument(
        "RoBERTa tokenizer: max_length must be at least 2 (<s> and </s>), got " +
        std::to_string(max_length));
  }
  tokenizer_common::decode_utf8_into(text, roberta_text::kWho, [](char32_t) {});  // validate
  std::string_view input(text);
  std::string prefixed;
  // Hugging Face's prepare_for_tokenization: a space before a text that does not start with one.
  if (state_->add_prefix_space && !roberta_text::starts_with_python_space(input) &&
      !input.empty()) {
    prefixed = " " + text;
    input = prefixed;
  }
  std::vector<std::int64_t> body = state_->encode_text(input);
  const auto room = static_cast<std::size_t>(max_length - 2);
  if (body.size() > room) body.resize(room);
  std::vector<std::int64_t> ids;
  ids.reserve(body.size() + 2);
  ids.push_back(state_->cls);
  ids.insert(ids.end(), body.begin(), body.end());
  ids.push_back(state_->sep);
  return ids;
}

std::int64_t RobertaTokenizer::cls_token_id() const { return state_->cls; }
std::int64_t RobertaTokenizer::sep_token_id() const { return state_->sep; }
std::int64_t RobertaTokenizer::pad_token_id() const { return state_->pad; }
std::int64_t RobertaTokenizer::unk_token_id() const { return state_->unk; }
std::int64_t RobertaTokenizer::vocab_size() const { return state_->vocab_size; }

}  // namespace avgzsl::preprocessing
