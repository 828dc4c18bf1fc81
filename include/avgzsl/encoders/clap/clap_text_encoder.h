// The text half of a CLAP model: tokenizer -> text transformer -> projection -> L2 norm, for the
// two families avgzsl loads (models/clap_model_dir.h).
//
// Hugging Face CLAP (laion/clap-htsat-*; transformers' ClapModel.get_text_features):
//   RoBERTa BPE ids (<s> ... </s>, pad 1) -> text_model (ClapTextModel: RoBERTa position ids)
//   -> pooler_output = tanh(text_model.pooler.dense(h[:, 0]))
//   -> text_projection (linear1 -> projection_hidden_act (relu) -> linear2) -> F.normalize.
// WavCaps HTSAT-BERT (the reference's ASE.encode_text, WavCaps retrieval/models/ase_model.py and
// text_encoder.py):
//   bert-base-uncased WordPiece ids ([CLS] ... [SEP], pad 0; max_length 30, truncation,
//   padding 'longest') -> text_encoder.text_encoder (BertModel built with add_pooling_layer=False)
//   -> last_hidden_state[:, 0] (the [CLS] token; no pooler)
//   -> text_proj (nn.Sequential: Linear 0 -> ReLU -> Linear 2) -> F.normalize.
// The attention mask keeps padding out, so a text's embedding does not depend on the batch it is
// encoded in (RoBERTa's position ids come from the non-pad tokens, as in transformers).
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <torch/nn/module.h>
#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "avgzsl/encoders/clap/text_transformer.h"

namespace avgzsl::encoders {

class PretrainedWeights;

// What feeds the projection: HF CLAP's pooler_output or WavCaps' [CLS] last hidden state.
enum class ClapTextPooling { kPoolerOutput, kClsToken };

struct ClapTextTowerConfig {
  TextTransformerConfig text = TextTransformerConfig::clap_text_defaults();
  int64_t projection_dim = 512;
  std::string projection_hidden_act = "relu";
  ClapTextPooling pooling = ClapTextPooling::kPoolerOutput;
  // Parameter names of the projection's two linear layers: "linear1"/"linear2" (HF) or "0"/"2" (WavCaps).
  std::string projection_first = "linear1";
  std::string projection_second = "linear2";

  // A Hugging Face ClapConfig (config.json, model_type "clap"): text_config (or text_config_dict)
  // over transformers' ClapTextConfig defaults; projection_dim and projection_hidden_act from the
  // top level (ClapConfig overrides the text config's with them; defaults 512 and relu).
  // std::invalid_argument naming `source` and the field.
  static ClapTextTowerConfig from_clap_json(const nlohmann::json& j, const std::string& source);
  static ClapTextTowerConfig from_clap_config_file(const std::filesystem::path& config_json);
  // The WavCaps layout (CLS pooling, no pooler, projection 0/2, relu) around a BERT config.
  static ClapTextTowerConfig wavcaps(const TextTransformerConfig& bert, int64_t embed_size);
};

class ClapTextTowerImpl : public torch::nn::Module {
 public:
  explicit ClapTextTowerImpl(const ClapTextTowerConfig& config);

  // input_ids [B, L] int64, attention_mask [B, L] (1 token, 0 padding) -> projected text
  // features [B, D], not normalised.
  torch::Tensor features(const torch::Tensor& input_ids, const torch::Tensor& attention_mask);
  // The same, L2-normalised (F.normalize: x / max(|x|, 1e-12)).
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask);

  const ClapTextTowerConfig& config() const { return config_; }

  TextTransformer transformer{nullptr};
  TextProjectionHead projection{nullptr};

 private:
  ClapTextTowerConfig config_;
};
TORCH_MODULE(ClapTextTower);

// Checkpoint prefixes of the two families.
inline constexpr const char* kHfClapTextPrefix = "text_model.";
inline constexpr const char* kHfClapProjectionPrefix = "text_projection.";
inline constexpr const char* kWavCapsTextPrefix = "text_encoder.text_encoder.";
inline constexpr const char* kWavCapsProjectionPrefix = "text_proj.";

// Loads the text tower strictly: every tensor of the tower must be in `weights` with its shape,
// and a tensor under the tower's prefixes that the tower lacks is an error, except the stale
// buffers embeddings.position_ids / embeddings.token_type_ids and (WavCaps only) pooler.dense.*,
// which WavCaps never uses. Everything else in the file (the audio tower, logit scales, temp) is
// not looked at. Errors are one line naming the file and the tensor. Returns the tower in eval mode.
ClapTextTower load_hf_clap_text_tower(const std::filesystem::path& config_json, const PretrainedWeights& weights);
// WavCaps: the BERT sizes come from `bert_config_json` when given (not empty), else from the
// tensor shapes (vocab, hidden, max positions, type vocab, layers, intermediate) with
// bert-base-uncased's remaining settings: heads = hidden / 64 (bert-base's head size), gelu,
// layer_norm_eps 1e-12, pad 0. embed_size from text_proj.2.weight.
ClapTextTower load_wavcaps_text_tower(const PretrainedWeights& weights, const std::filesystem::path& bert_config_json = {});
// The BERT configuration the shapes of a WavCaps checkpoint imply (see above).
TextTransformerConfig infer_wavcaps_bert_config(const PretrainedWeights& weights);

class ClapTextEncoder {
 public:
  // Uses locate_clap_model: a Hugging Face CLAP folder (config.json, weights, vocab.json +
  // merges.txt) or a WavCaps checkpoint (folder or .pt file; vocab.txt beside it, optional BERT
  // config.json). Throws std::runtime_error naming the file at fault.
  explicit ClapTextEncoder(const std::filesystem::path& model_dir_or_checkpoint, torch::Device device = torch::kCPU);
  ~ClapTextEncoder();
  ClapTextEncoder(ClapTextEncoder&&) noexcept;
  ClapTextEncoder& operator=(ClapTextEncoder&&) noexcept;

  // Texts -> L2-normalised embeddings [N, D], CPU float32, in the order given. Tokenised with
  // truncation to max_length() tokens (specials included); encoded in batches of similar length,
  // each padded to its own longest text, with the attention mask; equal texts are encoded once.
  torch::Tensor encode(const std::vector<std::string>& texts);
  // The same from token ids (specials included, each list non-empty and at most
  // max_length() long): what encode() does after tokenising.
  torch::Tensor encode_ids(const std::vector<std::vector<int64_t>>& ids);
  // The token ids encode() feeds the model for `text`.
  std::vector<int64_t> tokenize(const std::string& text) const;

  int64_t embedding_dim() const;
  // Tokens per text incl. specials: 77 for Hugging Face CLAP (LAION's CLAP training tokenises
  // with max_length 77), 30 for WavCaps (its TextEncoder's tokenizer call); never more than the
  // model's position table admits.
  int64_t max_length() const;
  // Texts per forward pass (default 64); must be positive.
  void set_batch_size(int64_t batch_size);
  // "<folder or checkpoint name> <family> text <summary>, projection <D> <act>, <pooling>,
  // max_length <n>, weights <bytes> bytes".
  std::string fingerprint() const;
  ClapTextTower& tower();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace avgzsl::encoders
