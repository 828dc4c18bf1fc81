#pragma once
// The text tokenizer of WavCaps' HTSAT-BERT (the paper's audio-text model): Hugging Face's slow
// `BertTokenizer` with bert-base-uncased's settings (BasicTokenizer, then greedy WordPiece) in C++.
//
// How WavCaps feeds it (XinhaoMei/WavCaps retrieval/models/text_encoder.py, which ClipClap-GZSL
// vendors as WavCaps/retrieval/models/text_encoder.py; settings/inference.yaml names
// 'bert-base-uncased'): tokenizer(text, padding='longest', truncation=True, max_length=30), then
// BertModel with that attention_mask; ASE.encode_text (ase_model.py) projects the [CLS] position.
// Padding is masked out and BERT's positions count from 0, so only the truncation length changes
// the embedding: encode() truncates and leaves padding, with pad_token_id(), to the caller.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace avgzsl::preprocessing {

// WavCaps' text length (text_encoder.py: max_length=30, [CLS] and [SEP] included).
inline constexpr int kWavcapsTextMaxLength = 30;

// Immutable once loaded: every const member may be called from several threads at once; copies
// share the vocabulary.
class WordPieceTokenizer {
 public:
  // `vocab_txt`: one token per line, id = line index (a repeated token keeps its last line), as
  // BERT's vocab.txt; it must hold [CLS], [SEP], [PAD], [UNK] and [MASK]. `do_lower_case` as
  // Hugging Face's option (true for the uncased models): lower-case and strip accents. Throws
  // std::runtime_error "<path>: <problem>" when the file is missing, empty, not UTF-8 or lacks a
  // special token.
  static WordPieceTokenizer from_file(const std::filesystem::path& vocab_txt,
                                      bool do_lower_case = true);

  // [CLS], the text's word pieces, [SEP]: Hugging Face's tokenizer(text, truncation=True,
  // max_length=max_length)["input_ids"] without padding. A longer text keeps its first
  // max_length - 2 pieces, still followed by [SEP]. The special tokens written in the text (in
  // capitals) become their ids, as in Hugging Face. Throws std::invalid_argument when `text` is
  // not valid UTF-8 or max_length < 2.
  std::vector<std::int64_t> encode(const std::string& text,
                                   int max_length = kWavcapsTextMaxLength) const;

  std::int64_t cls_token_id() const;
  std::int64_t sep_token_id() const;
  std::int64_t pad_token_id() const;  // fill to a common length, with attention mask 0
  std::int64_t unk_token_id() const;  // a word WordPiece cannot spell, or one over 100 characters
  // Lines of vocab.txt: the rows of the token embedding (30522 for bert-base-uncased).
  std::int64_t vocab_size() const;

 private:
  struct State;
  explicit WordPieceTokenizer(std::shared_ptr<const State> state);
  std::shared_ptr<const State> state_;
};

}  // namespace avgzsl::preprocessing
