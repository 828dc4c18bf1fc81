#pragma once
// CLIP's text tokenizer: OpenAI's simple_tokenizer.py (= Hugging Face's CLIPTokenizer) in C++,
// giving the same ids as clip.tokenize for every text, from either distribution of the BPE files.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace avgzsl::preprocessing {

// Python's html.unescape (3.11) on UTF-8 text: numeric references (&#NN; &#xHH;, with HTML5's
// replacements for invalid code points) and all 2,231 HTML5 named references, including the
// legacy names that may omit the ';' ("&ampx" -> "&x"). Throws std::invalid_argument when `utf8`
// is not valid UTF-8.
std::string html_unescape(std::string_view utf8);

// The text OpenAI's tokenizer splits into words: html_unescape twice, every run of Python
// whitespace (str.isspace) -> one space, stripped, then lower-cased as Python's str.lower().
// ftfy.fix_text, which OpenAI applies first, is not ported: it only repairs mojibake and other
// broken text, and clean input passes through it unchanged. Throws std::invalid_argument when
// `utf8` is not valid UTF-8.
std::string clip_clean_text(std::string_view utf8);

// Byte-level BPE tokenizer of CLIP. Thread-safety: every const member may be called from several
// threads at once (the per-word BPE cache is guarded by a shared mutex); copies share the
// vocabulary and the cache.
class ClipTokenizer {
 public:
  static constexpr int kDefaultContextLength = 77;

  // From a Hugging Face tokenizer directory: `vocab.json` (token -> id) and `merges.txt` (a
  // "#version" line, then one "left right" pair per line in rank order; as Hugging Face, only the
  // first 49152 - 256 - 2 merges are used). Throws std::runtime_error "<path>: <problem>" when a
  // file is missing or malformed.
  static ClipTokenizer from_hugging_face(const std::filesystem::path& directory);

  // From OpenAI's `bpe_simple_vocab_16e6.txt.gz`: the vocabulary is built as OpenAI does (256
  // byte symbols, the same with "</w>", one token per merge, <|startoftext|>, <|endoftext|>).
  // Throws std::runtime_error "<path>: <problem>" when the file is missing, not gzip, or corrupt.
  static ClipTokenizer from_openai_vocabulary(const std::filesystem::path& bpe_gz_path);

  // Ids of the text's BPE tokens, no start/end tokens added. "<|startoftext|>" and
  // "<|endoftext|>" written in the text become those special tokens (as OpenAI's tokenizer).
  // Throws std::invalid_argument when `text` is not valid UTF-8.
  std::vector<std::int64_t> encode(const std::string& text) const;

  // clip.tokenize for one text: <|startoftext|>, encode(text), <|endoftext|>, zero-padded to
  // `context_length`. A longer sequence is cut to `context_length` with its last id overwritten
  // by <|endoftext|> when `truncate`, and throws std::invalid_argument otherwise (also when
  // context_length < 1).
  std::vector<std::int64_t> tokenize(const std::string& text,
                                     int context_length = kDefaultContextLength,
                                     bool truncate = true) const;

  std::int64_t start_of_text_id() const;
  std::int64_t end_of_text_id() const;
  // Largest token id + 1: the number of rows of the token embedding (49408 for CLIP).
  std::int64_t vocab_size() const;

 private:
  struct State;
  explicit ClipTokenizer(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

}  // namespace avgzsl::preprocessing
