#include "avgzsl/encoders/clip/clip_model.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <stdexcept>

#include "avgzsl/encoders/config_json.h"
#include "avgzsl/encoders/pretrained_weights.h"

namespace avgzsl::encoders {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

void read_encoder(const json& j, ClipEncoderConfig& c, const std::string& where) {
  read_config_field(j, "hidden_size", c.hidden_size, where);
  read_config_field(j, "intermediate_size", c.intermediate_size, where);
  read_config_field(j, "num_attention_heads", c.num_attention_heads, where);
  read_config_field(j, "num_hidden_layers", c.num_hidden_layers, where);
  read_config_field(j, "layer_norm_eps", c.layer_norm_eps, where);
  read_config_field(j, "hidden_act", c.hidden_act, where);
  require_positive_field(c.hidden_size, "hidden_size", where);
  require_positive_field(c.intermediate_size, "intermediate_size", where);
  require_positive_field(c.num_attention_heads, "num_attention_heads", where);
  require_positive_field(c.num_hidden_layers, "num_hidden_layers", where);
  if (c.hidden_size % c.num_attention_heads != 0) {
    throw std::invalid_argument(where + ": hidden_size " + std::to_string(c.hidden_size) +
                                " is not divisible by num_attention_heads " + std::to_string(c.num_attention_heads));
  }
  if (!(c.layer_norm_eps > 0)) throw std::invalid_argument(where + ": field 'layer_norm_eps' must be positive");
  if (c.hidden_act != "quick_gelu" && c.hidden_act != "gelu" && c.hidden_act != "gelu_new" &&
      c.hidden_act != "gelu_pytorch_tanh") {
    throw std::invalid_argument(where + ": unsupported hidden_act '" + c.hidden_act +
                                "' (supported: quick_gelu, gelu, gelu_new, gelu_pytorch_tanh)");
  }
}

}  // namespace

ClipConfig ClipConfig::from_json(const json& j, const std::string& source) {
  if (!j.is_object()) throw std::invalid_argument(source + ": not a JSON object");
  ClipConfig c;
  // transformers' defaults: ViT-B/32.
  c.text.hidden_size = 512;
  c.text.intermediate_size = 2048;
  c.text.num_attention_heads = 8;
  c.text.num_hidden_layers = 12;
  c.vision.hidden_size = 768;
  c.vision.intermediate_size = 3072;
  c.vision.num_attention_heads = 12;
  c.vision.num_hidden_layers = 12;
  read_config_field(j, "projection_dim", c.projection_dim, source);
  read_config_field(j, "logit_scale_init_value", c.logit_scale_init_value, source);
  require_positive_field(c.projection_dim, "projection_dim", source);

  const std::string text_where = source + " text_config";
  const json& text = config_section(j, "text_config");
  read_encoder(text, c.text, text_where);
  read_config_field(text, "vocab_size", c.text.vocab_size, text_where);
  read_config_field(text, "max_position_embeddings", c.text.max_position_embeddings, text_where);
  read_config_field(text, "eos_token_id", c.text.eos_token_id, text_where);
  require_positive_field(c.text.vocab_size, "vocab_size", text_where);
  require_positive_field(c.text.max_position_embeddings, "max_position_embeddings", text_where);
  if (c.text.eos_token_id < 0 || c.text.eos_token_id >= c.text.vocab_size) {
    throw std::invalid_argument(text_where + ": eos_token_id " + std::to_string(c.text.eos_token_id) + " is outside the vocabulary");
  }

  const std::string vision_where = source + " vision_config";
  const json& vision = config_section(j, "vision_config");
  read_encoder(vision, c.vision, vision_where);
  read_config_field(vision, "image_size", c.vision.image_size, vision_where);
  read_config_field(vision, "patch_size", c.vision.patch_size, vision_where);
  read_config_field(vision, "num_channels", c.vision.num_channels, vision_where);
  require_positive_field(c.vision.image_size, "image_size", vision_where);
  require_positive_field(c.vision.patch_size, "patch_size", vision_where);
  require_positive_field(c.vision.num_channels, "num_channels", vision_where);
  if (c.vision.image_size % c.vision.patch_size != 0) {
    throw std::invalid_argument(vision_where + ": image_size " + std::to_string(c.vision.image_size) +
                                " is not a multiple of patch_size " + std::to_string(c.vision.patch_size));
  }
  return c;
}

ClipConfig ClipConfig::from_file(const fs::path& config_json) {
  return parse_config_file(config_json, [](const json& j, const std::string& source) { return from_json(j, source); });
}

ClipAttentionImpl::ClipAttentionImpl(int64_t hidden_size, int64_t heads) : heads_(heads) {
  q_proj = register_module("q_proj", torch::nn::Linear(hidden_size, hidden_size));
  k_proj = register_module("k_proj", torch::nn::Linear(hidden_size, hidden_size));
  v_proj = register_module("v_proj", torch::nn::Linear(hidden_size, hidden_size));
  out_proj = register_module("out_proj", torch::nn::Linear(hidden_size, hidden_size));
}

torch::Tensor ClipAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& mask) {
  const int64_t n = x.size(0), length = x.size(1), width = x.size(2), head_dim = width / heads_;
  // [N, L, W] -> [N, H, L, D]
  auto split = [&](const torch::Tensor& t) { return t.view({n, length, heads_, head_dim}).transpose(1, 2); };
  const torch::Tensor q = split(q_proj(x) * (1.0 / std::sqrt(static_cast<double>(head_dim))));
  const torch::Tensor k = split(k_proj(x));
  const torch::Tensor v = split(v_proj(x));
  torch::Tensor scores = torch::matmul(q, k.transpose(-2, -1));  // [N, H, L, L]
  if (mask.defined()) scores = scores + mask;
  const torch::Tensor context = torch::matmul(torch::softmax(scores, -1), v);  // [N, H, L, D]
  return out_proj(context.transpose(1, 2).reshape({n, length, width}));
}

ClipMlpImpl::ClipMlpImpl(int64_t hidden_size, int64_t intermediate_size, std::string activation)
    : activation_(std::move(activation)) {
  fc1 = register_module("fc1", torch::nn::Linear(hidden_size, intermediate_size));
  fc2 = register_module("fc2", torch::nn::Linear(intermediate_size, hidden_size));
}

torch::Tensor ClipMlpImpl::forward(const torch::Tensor& x) {
  torch::Tensor h = fc1(x);
  if (activation_ == "quick_gelu") {
    h = h * torch::sigmoid(1.702 * h);
  } else if (activation_ == "gelu") {
    h = torch::gelu(h);
  } else {  // gelu_new, gelu_pytorch_tanh: the tanh approximation
    h = torch::gelu(h, "tanh");
  }
  return fc2(h);
}

ClipEncoderLayerImpl::ClipEncoderLayerImpl(const ClipEncoderConfig& c) {
  auto norm = [&] { return torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)); };
  self_attn = register_module("self_attn", ClipAttention(c.hidden_size, c.num_attention_heads));
  layer_norm1 = register_module("layer_norm1", norm());
  mlp = register_module("mlp", ClipMlp(c.hidden_size, c.intermediate_size, c.hidden_act));
  layer_norm2 = register_module("layer_norm2", norm());
}

torch::Tensor ClipEncoderLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& mask) {
  torch::Tensor h = x + self_attn(layer_norm1(x), mask);
  return h + mlp(layer_norm2(h));
}

ClipTransformerEncoderImpl::ClipTransformerEncoderImpl(const ClipEncoderConfig& c) {
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) layers->push_back(ClipEncoderLayer(c));
}

torch::Tensor ClipTransformerEncoderImpl::forward(torch::Tensor x, const torch::Tensor& mask) {
  for (const auto& layer : *layers) x = layer->as<ClipEncoderLayer>()->forward(x, mask);
  return x;
}

ClipVisionEmbeddingsImpl::ClipVisionEmbeddingsImpl(const ClipVisionConfig& c) {
  patch_embedding = register_module(
      "patch_embedding",
      torch::nn::Conv2d(torch::nn::Conv2dOptions(c.num_channels, c.hidden_size, c.patch_size).stride(c.patch_size).bias(false)));
  class_embedding = register_parameter("class_embedding", torch::randn({c.hidden_size}));
  const int64_t patches_per_side = c.image_size / c.patch_size;
  position_embedding =
      register_module("position_embedding", torch::nn::Embedding(patches_per_side * patches_per_side + 1, c.hidden_size));
}

torch::Tensor ClipVisionEmbeddingsImpl::forward(const torch::Tensor& pixel_values) {
  const int64_t n = pixel_values.size(0);
  const torch::Tensor patches = patch_embedding(pixel_values).flatten(2).transpose(1, 2);  // [N, P, W]
  const torch::Tensor cls = class_embedding.view({1, 1, -1}).expand({n, 1, class_embedding.size(0)});
  return torch::cat({cls, patches}, 1) + position_embedding->weight.unsqueeze(0);  // [N, 1 + P, W]
}

ClipVisionTransformerImpl::ClipVisionTransformerImpl(const ClipVisionConfig& c) : config_(c) {
  auto norm = [&] { return torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)); };
  embeddings = register_module("embeddings", ClipVisionEmbeddings(c));
  pre_layrnorm = register_module("pre_layrnorm", norm());
  encoder = register_module("encoder", ClipTransformerEncoder(c));
  post_layernorm = register_module("post_layernorm", norm());
}

ClipTowerOutput ClipVisionTransformerImpl::forward(const torch::Tensor& pixel_values) {
  TORCH_CHECK(pixel_values.dim() == 4 && pixel_values.size(1) == config_.num_channels &&
                  pixel_values.size(2) == config_.image_size && pixel_values.size(3) == config_.image_size,
              "CLIP vision: expected pixel values [N, ", config_.num_channels, ", ", config_.image_size, ", ",
              config_.image_size, "], got ", pixel_values.sizes());
  ClipTowerOutput out;
  out.last_hidden_state = encoder(pre_layrnorm(embeddings(pixel_values)), torch::Tensor());
  out.pooled = post_layernorm(out.last_hidden_state.select(1, 0));
  return out;
}

ClipTextEmbeddingsImpl::ClipTextEmbeddingsImpl(const ClipTextConfig& c) {
  token_embedding = register_module("token_embedding", torch::nn::Embedding(c.vocab_size, c.hidden_size));
  position_embedding = register_module("position_embedding", torch::nn::Embedding(c.max_position_embeddings, c.hidden_size));
}

torch::Tensor ClipTextEmbeddingsImpl::forward(const torch::Tensor& input_ids) {
  const int64_t length = input_ids.size(1);
  return token_embedding(input_ids) + position_embedding->weight.slice(0, 0, length).unsqueeze(0);
}

ClipTextTransformerImpl::ClipTextTransformerImpl(const ClipTextConfig& c) : config_(c) {
  embeddings = register_module("embeddings", ClipTextEmbeddings(c));
  encoder = register_module("encoder", ClipTransformerEncoder(c));
  final_layer_norm = register_module(
      "final_layer_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)));
}

torch::Tensor ClipTextTransformerImpl::end_of_text_positions(const torch::Tensor& input_ids) const {
  if (config_.eos_token_id == 2) return input_ids.argmax(-1);
  const torch::Tensor is_end = input_ids == config_.eos_token_id;
  const torch::Tensor has_end = is_end.any(-1);
  TORCH_CHECK(has_end.all().item<bool>(), "CLIP text: a row of input ids holds no end-of-text token (id ",
              config_.eos_token_id, ")");
  return is_end.to(torch::kInt32).argmax(-1);  // the first one
}

ClipTowerOutput ClipTextTransformerImpl::forward(const torch::Tensor& input_ids) {
  TORCH_CHECK(input_ids.dim() == 2 && input_ids.scalar_type() == torch::kInt64,
              "CLIP text: expected int64 input ids [N, L], got ", input_ids.sizes(), " ", input_ids.scalar_type());
  const int64_t length = input_ids.size(1);
  TORCH_CHECK(length >= 1 && length <= config_.max_position_embeddings, "CLIP text: ", length,
              " tokens, the model takes 1 to ", config_.max_position_embeddings);
  TORCH_CHECK(input_ids.min().item<int64_t>() >= 0 && input_ids.max().item<int64_t>() < config_.vocab_size,
              "CLIP text: a token id is outside the vocabulary of ", config_.vocab_size);
  const auto options = torch::TensorOptions().dtype(torch::kFloat32).device(input_ids.device());
  // Causal: position i sees positions <= i only.
  const torch::Tensor causal_mask =
      torch::full({length, length}, -std::numeric_limits<float>::infinity(), options).triu(1);
  ClipTowerOutput out;
  out.last_hidden_state = final_layer_norm(encoder(embeddings(input_ids), causal_mask));
  const torch::Tensor rows = torch::arange(input_ids.size(0), input_ids.options());
  out.pooled = out.last_hidden_state.index({rows, end_of_text_positions(input_ids)});
  return out;
}

ClipModelImpl::ClipModelImpl(const ClipConfig& c) : config_(c) {
  text_model = register_module("text_model", ClipTextTransformer(c.text));
  vision_model = register_module("vision_model", ClipVisionTransformer(c.vision));
  visual_projection =
      register_module("visual_projection", torch::nn::Linear(torch::nn::LinearOptions(c.vision.hidden_size, c.projection_dim).bias(false)));
  text_projection =
      register_module("text_projection", torch::nn::Linear(torch::nn::LinearOptions(c.text.hidden_size, c.projection_dim).bias(false)));
  logit_scale = register_parameter("logit_scale", torch::tensor(c.logit_scale_init_value, torch::kFloat32));
}

torch::Tensor ClipModelImpl::encode_image(const torch::Tensor& pixel_values) {
  return visual_projection(vision_model(pixel_values).pooled);
}

torch::Tensor ClipModelImpl::encode_text(const torch::Tensor& input_ids) {
  const int64_t used = text_model->end_of_text_positions(input_ids).max().item<int64_t>() + 1;
  return text_projection(text_model(input_ids.slice(1, 0, used)).pooled);
}

torch::Tensor ClipModelImpl::logits_per_image(const torch::Tensor& image_embeds, const torch::Tensor& text_embeds) const {
  const torch::Tensor images = image_embeds / image_embeds.norm(2, -1, true);
  const torch::Tensor texts = text_embeds / text_embeds.norm(2, -1, true);
  return logit_scale.exp() * torch::matmul(images, texts.t());
}

namespace {

// The configuration against the weight file's header, before any module is built: a config.json
// that does not describe these weights fails naming its field, not in an allocation of the size
// it asks for.
void check_config_matches_weights(const ClipConfig& config, const PretrainedWeights& weights, const fs::path& config_path) {
  auto check = [&](const std::string& tower, const ClipEncoderConfig& c, const std::string& width_tensor, int width_dim) {
    const std::string section = tower == "vision_model" ? "vision_config" : "text_config";
    auto fail = [&](const std::string& field, int64_t config_value, const std::string& what, int64_t file_value) {
      throw std::runtime_error(config_path.string() + ": " + section + "." + field + " is " + std::to_string(config_value) + ", but " +
                               weights.path().string() + " has " + std::to_string(file_value) + " " + what);
    };
    int64_t layers = 0;
    const std::string layer_prefix = tower + ".encoder.layers.";
    for (const std::string& name : weights.names()) {
      if (name.rfind(layer_prefix, 0) != 0 || !std::isdigit(static_cast<unsigned char>(name[layer_prefix.size()]))) continue;
      layers = std::max<int64_t>(layers, std::stoll(name.substr(layer_prefix.size())) + 1);
    }
    if (layers != c.num_hidden_layers) fail("num_hidden_layers", c.num_hidden_layers, "layers in " + tower, layers);
    if (weights.contains(tower + "." + width_tensor)) {
      const std::vector<int64_t> shape = weights.shape(tower + "." + width_tensor);
      if (int(shape.size()) > width_dim && shape[width_dim] != c.hidden_size) {
        fail("hidden_size", c.hidden_size, "as the width of " + tower + "." + width_tensor, shape[width_dim]);
      }
    }
    const std::string fc1 = layer_prefix + "0.mlp.fc1.weight";
    if (weights.contains(fc1)) {
      const std::vector<int64_t> shape = weights.shape(fc1);
      if (!shape.empty() && shape[0] != c.intermediate_size) fail("intermediate_size", c.intermediate_size, "rows in " + fc1, shape[0]);
    }
  };
  check("vision_model", config.vision, "embeddings.class_embedding", 0);
  check("text_model", config.text, "embeddings.token_embedding.weight", 1);
}

}  // namespace

ClipModel load_clip_model(const fs::path& model_dir) {
  if (!fs::is_directory(model_dir)) throw std::runtime_error(model_dir.string() + ": no such model directory");
  const ClipConfig config = ClipConfig::from_file(model_dir / "config.json");
  fs::path weights = model_dir / "model.safetensors";
  if (!fs::exists(weights) && fs::exists(model_dir / "pytorch_model.bin")) weights = model_dir / "pytorch_model.bin";
  if (!fs::exists(weights)) {
    throw std::runtime_error(model_dir.string() + ": holds neither model.safetensors nor pytorch_model.bin");
  }
  const PretrainedWeights file(weights);
  check_config_matches_weights(config, file, model_dir / "config.json");
  ClipModel model(config);
  // transformers stores position_ids buffers in some exports; they are arange(L), recomputed here.
  file.load_into(*model, "", {"position_ids"});
  model->eval();
  return model;
}

}  // namespace avgzsl::encoders
