#pragma once
// The text tokenizer of LAION / Hugging Face CLAP: Hugging Face's slow `RobertaTokenizer` (GPT-2's
// byte-level BPE) in C++, from the vocab.json + merges.txt that `laion/clap-htsat-unfused` ships.
//
// How CLAP feeds it (checked in the sources):
// - LAION-AI/CLAP src/laion_clap/hook.py, CLAP_Module.tokenizer(): RobertaTokenizer('roberta-base')
//   called with padding="max_length", truncation=True, max_length=77; the text branch
//   (clap_module/model.py, encode_text) runs RobertaModel with that attention_mask and takes
//   pooler_output, i.e. the <s> position.
// - Hugging Face transformers ClapProcessor (models/clap/processing_clap.py) forwards its keyword
//   arguments to the tokenizer and sets no length itself: without truncation=True a text may run
//   to RoBERTa's 512 positions (ClapTextConfig.max_position_embeddings = 514 = 512 + pad id + 1).
// The padding tokens are masked out and RoBERTa numbers positions from the mask, so padding (to
// 77, to the batch's longest or none) does not change the text embedding; only the truncation
// length does. Hence encode() truncates and leaves padding, with pad_token_id(), to the caller.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace avgzsl::preprocessing {

// LAION CLAP's text length (hook.py: max_length=77, special tokens included).
inline constexpr int kClapTextMaxLength = 77;

// Thread-safety: every const member may be called from several threads at once (the per-word BPE
// cache is guarded by a shared mutex); copies share the vocabulary and the cache.
class RobertaTokenizer {
 public:
  // `vocab_json`: token -> id (it holds the special tokens <s>, </s>, <pad>, <unk>, <mask>;
  // roberta-base: 0, 2, 1, 3, 50264). `merges_txt`: a "#version" line, then one "left right"
  // pair per line in rank order. `add_prefix_space` as Hugging Face's option of that name (false
  // there and in CLAP): a text not starting with whitespace gets one, so its first word encodes
  // like the others ("Ġword"). Throws std::runtime_error "<path>: <problem>" when a file is
  // missing or malformed or a special token is absent.
  static RobertaTokenizer from_files(const std::filesystem::path& vocab_json,
                                     const std::filesystem::path& merges_txt,
                                     bool add_prefix_space = false);

  // <s>, the text's tokens, </s>: Hugging Face's tokenizer(text, truncation=True,
  // max_length=max_length)["input_ids"] without padding. A longer text keeps its first
  // max_length - 2 tokens, still followed by </s>. The special tokens written in the text
  // become their ids, as in Hugging Face (<mask> also takes the whitespace before it). Throws
  // std::invalid_argument when `text` is not valid UTF-8 or max_length < 2.
  std::vector<std::int64_t> encode(const std::string& text,
                                   int max_length = kClapTextMaxLength) const;

  std::int64_t cls_token_id() const;  // <s>, also the beginning of sequence
  std::int64_t sep_token_id() const;  // </s>, also the end of sequence
  std::int64_t pad_token_id() const;  // <pad>: fill to a common length, with attention mask 0
  std::int64_t unk_token_id() const;  // <unk>: a BPE symbol the vocabulary lacks
  // Largest token id + 1: the rows of the token embedding (50265 for roberta-base).
  std::int64_t vocab_size() const;

 private:
  struct State;
  explicit RobertaTokenizer(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

}  // namespace avgzsl::preprocessing
