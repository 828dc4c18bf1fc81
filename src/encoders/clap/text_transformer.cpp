#include "avgzsl/encoders/clap/text_transformer.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>

#include "avgzsl/encoders/config_json.h"
#include "avgzsl/nn/activations.h"

namespace avgzsl::encoders {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {
// Named inside the anonymous namespace: the library is a unity build, so helper names must not
// meet those of other files.
namespace text_tf {

torch::nn::LayerNorm layer_norm(int64_t hidden_size, double eps) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({hidden_size}).eps(eps));
}

std::string format_eps(double eps) {
  std::ostringstream s;
  s << eps;
  return s.str();
}

}  // namespace text_tf
}  // namespace

std::string to_string(PositionIdStyle style) { return style == PositionIdStyle::kBert ? "bert" : "roberta"; }

TextTransformerConfig TextTransformerConfig::bert_base_uncased() { return TextTransformerConfig{}; }

TextTransformerConfig TextTransformerConfig::clap_text_defaults() {
  TextTransformerConfig c;
  c.vocab_size = 50265;
  c.max_position_embeddings = 514;
  c.type_vocab_size = 1;
  c.layer_norm_eps = 1e-12;
  c.pad_token_id = 1;
  c.position_ids = PositionIdStyle::kRoberta;
  return c;
}

TextTransformerConfig TextTransformerConfig::from_json(const json& j, const TextTransformerConfig& defaults,
                                                       const std::string& source) {
  if (!j.is_object()) throw std::invalid_argument(source + ": not a JSON object");
  TextTransformerConfig c = defaults;
  read_config_field(j, "vocab_size", c.vocab_size, source);
  read_config_field(j, "hidden_size", c.hidden_size, source);
  read_config_field(j, "num_hidden_layers", c.num_hidden_layers, source);
  read_config_field(j, "num_attention_heads", c.num_attention_heads, source);
  read_config_field(j, "intermediate_size", c.intermediate_size, source);
  read_config_field(j, "hidden_act", c.hidden_act, source);
  read_config_field(j, "max_position_embeddings", c.max_position_embeddings, source);
  read_config_field(j, "type_vocab_size", c.type_vocab_size, source);
  read_config_field(j, "layer_norm_eps", c.layer_norm_eps, source);
  read_config_field(j, "pad_token_id", c.pad_token_id, source);
  std::string position_embedding_type = "absolute";
  read_config_field(j, "position_embedding_type", position_embedding_type, source);
  if (position_embedding_type != "absolute") {
    throw std::invalid_argument(source + ": position_embedding_type '" + position_embedding_type +
                                "' is not supported (only \"absolute\")");
  }
  c.validate(source);
  return c;
}

TextTransformerConfig TextTransformerConfig::from_bert_config_file(const fs::path& config_json) {
  return parse_config_file(config_json, [](const json& j, const std::string& source) {
    return from_json(j, bert_base_uncased(), source);
  });
}

void TextTransformerConfig::validate(const std::string& source) const {
  require_positive_field(vocab_size, "vocab_size", source);
  require_positive_field(hidden_size, "hidden_size", source);
  require_positive_field(num_hidden_layers, "num_hidden_layers", source);
  require_positive_field(num_attention_heads, "num_attention_heads", source);
  require_positive_field(intermediate_size, "intermediate_size", source);
  require_positive_field(max_position_embeddings, "max_position_embeddings", source);
  require_positive_field(type_vocab_size, "type_vocab_size", source);
  if (hidden_size % num_attention_heads != 0) {
    throw std::invalid_argument(source + ": hidden_size " + std::to_string(hidden_size) +
                                " is not divisible by num_attention_heads " + std::to_string(num_attention_heads));
  }
  if (!(layer_norm_eps > 0)) throw std::invalid_argument(source + ": field 'layer_norm_eps' must be positive");
  if (!nn::is_supported_activation(hidden_act)) {
    throw std::invalid_argument(source + ": unsupported hidden_act '" + hidden_act +
                                "' (supported: gelu, gelu_new, gelu_pytorch_tanh, relu, silu, swish, tanh)");
  }
  if (pad_token_id < 0 || pad_token_id >= vocab_size) {
    throw std::invalid_argument(source + ": pad_token_id " + std::to_string(pad_token_id) + " is outside the vocabulary of " +
                                std::to_string(vocab_size));
  }
  if (max_tokens() < 2) {
    throw std::invalid_argument(source + ": max_position_embeddings " + std::to_string(max_position_embeddings) +
                                " leaves no room for a text (" + to_string(position_ids) + " position ids)");
  }
}

int64_t TextTransformerConfig::max_tokens() const {
  return position_ids == PositionIdStyle::kBert ? max_position_embeddings : max_position_embeddings - pad_token_id - 1;
}

std::string TextTransformerConfig::summary() const {
  return to_string(position_ids) + " " + std::to_string(num_hidden_layers) + "x" + std::to_string(hidden_size) + " (" +
         std::to_string(num_attention_heads) + " heads, ffn " + std::to_string(intermediate_size) + ", " + hidden_act +
         "), vocab " + std::to_string(vocab_size) + ", " + std::to_string(max_position_embeddings) + " positions, eps " +
         text_tf::format_eps(layer_norm_eps) + (add_pooling_layer ? "" : ", no pooler");
}

// --- embeddings ---------------------------------------------------------------------------------

TextTransformerEmbeddingsImpl::TextTransformerEmbeddingsImpl(const TextTransformerConfig& c) : config_(c) {
  word_embeddings = register_module("word_embeddings", torch::nn::Embedding(c.vocab_size, c.hidden_size));
  position_embeddings = register_module("position_embeddings", torch::nn::Embedding(c.max_position_embeddings, c.hidden_size));
  token_type_embeddings = register_module("token_type_embeddings", torch::nn::Embedding(c.type_vocab_size, c.hidden_size));
  LayerNorm = register_module("LayerNorm", text_tf::layer_norm(c.hidden_size, c.layer_norm_eps));
}

torch::Tensor TextTransformerEmbeddingsImpl::position_ids(const torch::Tensor& input_ids) const {
  const int64_t batch = input_ids.size(0), length = input_ids.size(1);
  if (config_.position_ids == PositionIdStyle::kBert) {
    return torch::arange(length, input_ids.options()).unsqueeze(0).expand({batch, length});  // [B, L]
  }
  // RoBERTa: tokens count from pad+1 on; padding keeps pad_token_id.
  const torch::Tensor is_token = input_ids.ne(config_.pad_token_id).to(torch::kInt64);  // [B, L]
  return torch::cumsum(is_token, 1) * is_token + config_.pad_token_id;               // [B, L]
}

torch::Tensor TextTransformerEmbeddingsImpl::forward(const torch::Tensor& input_ids, const torch::Tensor& token_type_ids) {
  const torch::Tensor positions = position_ids(input_ids);  // [B, L]
  TORCH_CHECK(positions.max().item<int64_t>() < config_.max_position_embeddings, "text transformer: ",
              input_ids.size(1), " tokens exceed the ", config_.max_position_embeddings, " position embeddings (",
              to_string(config_.position_ids), " position ids: at most ", config_.max_tokens(), " tokens)");
  torch::Tensor h = word_embeddings(input_ids);  // [B, L, H]
  if (token_type_ids.defined()) {
    h = h + token_type_embeddings(token_type_ids);
  } else {
    h = h + token_type_embeddings->weight[0];  // type 0 everywhere, broadcast over [B, L]
  }
  h = h + position_embeddings(positions);  // [B, L, H]
  return LayerNorm(h);
}

// --- encoder ------------------------------------------------------------------------------------

TextTransformerSelfAttentionImpl::TextTransformerSelfAttentionImpl(int64_t hidden_size, int64_t heads) : heads_(heads) {
  query = register_module("query", torch::nn::Linear(hidden_size, hidden_size));
  key = register_module("key", torch::nn::Linear(hidden_size, hidden_size));
  value = register_module("value", torch::nn::Linear(hidden_size, hidden_size));
}

torch::Tensor TextTransformerSelfAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& additive_mask) {
  const int64_t batch = x.size(0), length = x.size(1), width = x.size(2), head_dim = width / heads_;
  // [B, L, H] -> [B, heads, L, D]
  auto split = [&](const torch::Tensor& t) { return t.view({batch, length, heads_, head_dim}).transpose(1, 2); };
  const torch::Tensor q = split(query(x));
  const torch::Tensor k = split(key(x));
  const torch::Tensor v = split(value(x));
  // As transformers: scores scaled after the product.
  torch::Tensor scores = torch::matmul(q, k.transpose(-1, -2)) / std::sqrt(static_cast<double>(head_dim));  // [B, heads, L, L]
  if (additive_mask.defined()) scores = scores + additive_mask;  // [B, 1, 1, L] broadcast over heads and queries
  const torch::Tensor context = torch::matmul(torch::softmax(scores, -1), v);  // [B, heads, L, D]
  return context.transpose(1, 2).reshape({batch, length, width});              // [B, L, H]
}

TextTransformerResidualOutputImpl::TextTransformerResidualOutputImpl(int64_t in_features, int64_t hidden_size, double eps) {
  dense = register_module("dense", torch::nn::Linear(in_features, hidden_size));
  LayerNorm = register_module("LayerNorm", text_tf::layer_norm(hidden_size, eps));
}

torch::Tensor TextTransformerResidualOutputImpl::forward(const torch::Tensor& x, const torch::Tensor& residual) {
  return LayerNorm(dense(x) + residual);
}

TextTransformerAttentionImpl::TextTransformerAttentionImpl(const TextTransformerConfig& c) {
  self = register_module("self", TextTransformerSelfAttention(c.hidden_size, c.num_attention_heads));
  output = register_module("output", TextTransformerResidualOutput(c.hidden_size, c.hidden_size, c.layer_norm_eps));
}

torch::Tensor TextTransformerAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& additive_mask) {
  return output(self(x, additive_mask), x);
}

TextTransformerIntermediateImpl::TextTransformerIntermediateImpl(const TextTransformerConfig& c) : activation_(c.hidden_act) {
  dense = register_module("dense", torch::nn::Linear(c.hidden_size, c.intermediate_size));
}

torch::Tensor TextTransformerIntermediateImpl::forward(const torch::Tensor& x) {
  return nn::apply_activation(activation_, dense(x));
}

TextTransformerLayerImpl::TextTransformerLayerImpl(const TextTransformerConfig& c) {
  attention = register_module("attention", TextTransformerAttention(c));
  intermediate = register_module("intermediate", TextTransformerIntermediate(c));
  output = register_module("output", TextTransformerResidualOutput(c.intermediate_size, c.hidden_size, c.layer_norm_eps));
}

torch::Tensor TextTransformerLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& additive_mask) {
  const torch::Tensor attended = attention(x, additive_mask);  // [B, L, H]
  return output(intermediate(attended), attended);            // [B, L, H]
}

TextTransformerEncoderImpl::TextTransformerEncoderImpl(const TextTransformerConfig& c) {
  layer = register_module("layer", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) layer->push_back(TextTransformerLayer(c));
}

torch::Tensor TextTransformerEncoderImpl::forward(torch::Tensor x, const torch::Tensor& additive_mask) {
  for (const auto& block : *layer) x = block->as<TextTransformerLayer>()->forward(x, additive_mask);
  return x;
}

TextTransformerPoolerImpl::TextTransformerPoolerImpl(int64_t hidden_size) {
  dense = register_module("dense", torch::nn::Linear(hidden_size, hidden_size));
}

torch::Tensor TextTransformerPoolerImpl::forward(const torch::Tensor& last_hidden_state) {
  TORCH_CHECK(last_hidden_state.dim() == 3, "text pooler: expected hidden states [B, L, H], got ", last_hidden_state.sizes());
  return torch::tanh(dense(last_hidden_state.select(1, 0)));  // [B, H]
}

// --- the model ----------------------------------------------------------------------------------

TextTransformerImpl::TextTransformerImpl(const TextTransformerConfig& c) : config_(c) {
  c.validate("text transformer configuration");
  embeddings = register_module("embeddings", TextTransformerEmbeddings(c));
  encoder = register_module("encoder", TextTransformerEncoder(c));
  if (c.add_pooling_layer) pooler = register_module("pooler", TextTransformerPooler(c.hidden_size));
}

torch::Tensor TextTransformerImpl::forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask) {
  TORCH_CHECK(input_ids.dim() == 2 && input_ids.scalar_type() == torch::kInt64,
              "text transformer: expected int64 input ids [B, L], got ", input_ids.sizes(), " ", input_ids.scalar_type());
  TORCH_CHECK(input_ids.size(0) >= 1 && input_ids.size(1) >= 1, "text transformer: empty input ids ", input_ids.sizes());
  TORCH_CHECK(input_ids.min().item<int64_t>() >= 0 && input_ids.max().item<int64_t>() < config_.vocab_size,
              "text transformer: a token id is outside the vocabulary of ", config_.vocab_size);
  torch::Tensor additive_mask;  // [B, 1, 1, L]: 0 for tokens, lowest float for padding
  if (attention_mask.defined()) {
    TORCH_CHECK(attention_mask.sizes() == input_ids.sizes(), "text transformer: attention mask ", attention_mask.sizes(),
                " does not match the input ids ", input_ids.sizes());
    const torch::Tensor keep = attention_mask.to(input_ids.device(), torch::kFloat32);
    additive_mask = ((1.0 - keep) * std::numeric_limits<float>::lowest()).view({input_ids.size(0), 1, 1, input_ids.size(1)});
  }
  return encoder(embeddings(input_ids), additive_mask);  // [B, L, H]
}

// --- projection ---------------------------------------------------------------------------------

TextProjectionHeadImpl::TextProjectionHeadImpl(int64_t in_features, int64_t out_features, std::string activation,
                                               const std::string& first_name, const std::string& second_name)
    : activation_(std::move(activation)) {
  if (!nn::is_supported_activation(activation_)) {
    throw std::invalid_argument("text projection: unsupported activation '" + activation_ + "'");
  }
  first = register_module(first_name, torch::nn::Linear(in_features, out_features));
  second = register_module(second_name, torch::nn::Linear(out_features, out_features));
}

torch::Tensor TextProjectionHeadImpl::forward(const torch::Tensor& x) {
  return second(nn::apply_activation(activation_, first(x)));  // [B, H] -> [B, D] -> [B, D]
}

}  // namespace avgzsl::encoders
