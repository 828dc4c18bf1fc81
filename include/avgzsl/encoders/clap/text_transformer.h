// BERT / RoBERTa text transformer on LibTorch (the text towers of CLAP), module and parameter
// names as Hugging Face's BertModel / RobertaModel / ClapTextModel, so their state_dicts load one
// to one:
//
//   ids [B, L] -> word + token type (0) + position embeddings -> LayerNorm        (embeddings.*)
//              -> N post-LayerNorm blocks (encoder.layer.N.*):
//                   h = LN(h + attention.output.dense(self-attention(h, mask)))
//                   h = LN(h + output.dense(act(intermediate.dense(h))))
//              -> last_hidden_state [B, L, H]
//   pooler:    tanh(pooler.dense(last_hidden_state[:, 0]))  [B, H]
//
// Position ids, as transformers computes them:
//   bert:    0 .. L-1 for every row (BertEmbeddings' position_ids buffer);
//   roberta: from the ids, fairseq-style: non-padding tokens count 1, 2, ... after pad_token_id
//            (pad+1, pad+2, ...), padding tokens get pad_token_id (ClapTextEmbeddings /
//            RobertaEmbeddings, create_position_ids_from_input_ids). Computed from input_ids !=
//            pad_token_id, not from the attention mask, exactly like transformers.
// The attention mask is added to the scores as (1 - mask) * lowest float (transformers'
// get_extended_attention_mask), so padded keys get exactly zero weight: a text gives the same
// hidden states alone or padded in a batch.
// Inference only: no dropout modules (eval-mode transformers has none in effect).
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include <filesystem>
#include <string>

namespace avgzsl::encoders {

enum class PositionIdStyle { kBert, kRoberta };

struct TextTransformerConfig {
  // Defaults: bert-base-uncased (= transformers' BertConfig defaults).
  int64_t vocab_size = 30522;
  int64_t hidden_size = 768;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 12;
  int64_t intermediate_size = 3072;
  std::string hidden_act = "gelu";  // gelu (erf), gelu_new / gelu_pytorch_tanh (tanh), relu, silu / swish
  int64_t max_position_embeddings = 512;
  int64_t type_vocab_size = 2;
  double layer_norm_eps = 1e-12;
  int64_t pad_token_id = 0;
  PositionIdStyle position_ids = PositionIdStyle::kBert;
  // BertModel(add_pooling_layer=...): WavCaps builds its BERT without the pooler.
  bool add_pooling_layer = true;

  // bert-base-uncased.
  static TextTransformerConfig bert_base_uncased();
  // transformers' ClapTextConfig() defaults (RoBERTa-base sizes, vocab 50265, 514 positions,
  // type_vocab_size 1, pad 1, layer_norm_eps 1e-12 as transformers defaults it; LAION's released
  // config.json files state their own value), roberta position ids.
  static TextTransformerConfig clap_text_defaults();

  // Reads the Hugging Face fields present in `j` (a BERT config.json, or a ClapConfig's
  // text_config) over `defaults`; a field absent keeps the default. Throws std::invalid_argument
  // naming `source` and the field on wrong values (types, non-positive sizes, hidden_size not
  // divisible by the heads, position_embedding_type other than "absolute", unknown hidden_act).
  static TextTransformerConfig from_json(const nlohmann::json& j, const TextTransformerConfig& defaults,
                                         const std::string& source);
  // A BERT config.json file (bert-base-uncased defaults); std::runtime_error naming the file.
  static TextTransformerConfig from_bert_config_file(const std::filesystem::path& config_json);

  // Throws std::invalid_argument("<source>: ...") on an inconsistent configuration.
  void validate(const std::string& source) const;
  // The longest input (tokens incl. specials) the position table admits: bert
  // max_position_embeddings; roberta max_position_embeddings - pad_token_id - 1 (514 -> 512).
  int64_t max_tokens() const;
  // One line: "bert 12x768 (12 heads, ffn 3072, gelu), vocab 30522, 512 positions, eps 1e-12".
  std::string summary() const;
};

std::string to_string(PositionIdStyle style);

class TextTransformerEmbeddingsImpl : public torch::nn::Module {
 public:
  explicit TextTransformerEmbeddingsImpl(const TextTransformerConfig& config);
  // input_ids [B, L] int64 -> [B, L, H]. token_type_ids: [B, L] int64 or undefined (all 0, as
  // transformers' token_type_ids buffer).
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& token_type_ids = {});
  // [B, L] int64, by the configured style (see the file comment).
  torch::Tensor position_ids(const torch::Tensor& input_ids) const;

  torch::nn::Embedding word_embeddings{nullptr};        // [V, H]
  torch::nn::Embedding position_embeddings{nullptr};    // [P, H]
  torch::nn::Embedding token_type_embeddings{nullptr};  // [T, H]
  torch::nn::LayerNorm LayerNorm{nullptr};              // (sic) Hugging Face's name

 private:
  TextTransformerConfig config_;
};
TORCH_MODULE(TextTransformerEmbeddings);

class TextTransformerSelfAttentionImpl : public torch::nn::Module {
 public:
  TextTransformerSelfAttentionImpl(int64_t hidden_size, int64_t heads);
  // x [B, L, H]; additive_mask [B, 1, 1, L] (0 or lowest float) or undefined -> context [B, L, H].
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& additive_mask);

  torch::nn::Linear query{nullptr}, key{nullptr}, value{nullptr};

 private:
  int64_t heads_;
};
TORCH_MODULE(TextTransformerSelfAttention);

// dense + residual + LayerNorm: BertSelfOutput (hidden -> hidden) and BertOutput
// (intermediate -> hidden) share this shape.
class TextTransformerResidualOutputImpl : public torch::nn::Module {
 public:
  TextTransformerResidualOutputImpl(int64_t in_features, int64_t hidden_size, double eps);
  // LayerNorm(dense(x) + residual)
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& residual);

  torch::nn::Linear dense{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};
};
TORCH_MODULE(TextTransformerResidualOutput);

class TextTransformerAttentionImpl : public torch::nn::Module {
 public:
  explicit TextTransformerAttentionImpl(const TextTransformerConfig& config);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& additive_mask);

  TextTransformerSelfAttention self{nullptr};
  TextTransformerResidualOutput output{nullptr};
};
TORCH_MODULE(TextTransformerAttention);

class TextTransformerIntermediateImpl : public torch::nn::Module {
 public:
  explicit TextTransformerIntermediateImpl(const TextTransformerConfig& config);
  torch::Tensor forward(const torch::Tensor& x);  // act(dense(x)): [B, L, H] -> [B, L, I]

  torch::nn::Linear dense{nullptr};

 private:
  std::string activation_;
};
TORCH_MODULE(TextTransformerIntermediate);

class TextTransformerLayerImpl : public torch::nn::Module {
 public:
  explicit TextTransformerLayerImpl(const TextTransformerConfig& config);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& additive_mask);

  TextTransformerAttention attention{nullptr};
  TextTransformerIntermediate intermediate{nullptr};
  TextTransformerResidualOutput output{nullptr};
};
TORCH_MODULE(TextTransformerLayer);

class TextTransformerEncoderImpl : public torch::nn::Module {
 public:
  explicit TextTransformerEncoderImpl(const TextTransformerConfig& config);
  torch::Tensor forward(torch::Tensor x, const torch::Tensor& additive_mask);

  torch::nn::ModuleList layer{nullptr};  // Hugging Face's name: encoder.layer.N
};
TORCH_MODULE(TextTransformerEncoder);

class TextTransformerPoolerImpl : public torch::nn::Module {
 public:
  explicit TextTransformerPoolerImpl(int64_t hidden_size);
  // last_hidden_state [B, L, H] -> tanh(dense(h[:, 0])) [B, H]
  torch::Tensor forward(const torch::Tensor& last_hidden_state);

  torch::nn::Linear dense{nullptr};
};
TORCH_MODULE(TextTransformerPooler);

class TextTransformerImpl : public torch::nn::Module {
 public:
  explicit TextTransformerImpl(const TextTransformerConfig& config);

  // input_ids [B, L] int64 (ids < vocab_size, L <= max_tokens()); attention_mask [B, L] of any
  // numeric or bool dtype, 1 = token, 0 = padding, or undefined (all tokens)
  // -> last_hidden_state [B, L, H].
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask = {});

  const TextTransformerConfig& config() const { return config_; }

  TextTransformerEmbeddings embeddings{nullptr};
  TextTransformerEncoder encoder{nullptr};
  // tanh(dense(h[:, 0])): call as pooler(last_hidden_state). Null when !add_pooling_layer.
  TextTransformerPooler pooler{nullptr};

 private:
  TextTransformerConfig config_;
};
TORCH_MODULE(TextTransformer);

// Linear -> activation -> Linear: ClapProjectionLayer (names linear1, linear2) and WavCaps'
// text_proj nn.Sequential (names 0, 2; the ReLU is 1 and has no parameters).
class TextProjectionHeadImpl : public torch::nn::Module {
 public:
  TextProjectionHeadImpl(int64_t in_features, int64_t out_features, std::string activation,
                         const std::string& first_name = "linear1", const std::string& second_name = "linear2");
  torch::Tensor forward(const torch::Tensor& x);  // [B, H] -> [B, D]

  int64_t out_features() const { return second->options.out_features(); }
  const std::string& activation() const { return activation_; }

  torch::nn::Linear first{nullptr}, second{nullptr};

 private:
  std::string activation_;  // relu, gelu, gelu_new / gelu_pytorch_tanh, silu / swish, tanh
};
TORCH_MODULE(TextProjectionHead);


}  // namespace avgzsl::encoders
