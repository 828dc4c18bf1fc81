// CLIP (Radford et al. 2021) on LibTorch, module and parameter names as Hugging Face's
// CLIPModel, so a downloaded `model.safetensors` loads one to one. Every size comes from the
// model's `config.json` (ViT-B/32, B/16, L/14, ...).
//
//   vision: pixels [N, 3, S, S] -> patch conv (no bias) -> [class | patches] + positions
//           -> pre_layrnorm -> encoder (pre-norm blocks) -> post_layernorm(class token)
//           -> visual_projection (no bias) -> image embedding [N, E]
//   text:   ids [N, L] -> token + position embeddings -> causal encoder -> final_layer_norm
//           -> the end-of-text token's feature -> text_projection (no bias) -> [N, E]
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include <filesystem>
#include <string>

#include "avgzsl/nn/parameter_count.h"

namespace avgzsl::encoders {

// What both towers share: a stack of pre-norm transformer blocks.
struct ClipEncoderConfig {
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_attention_heads = 0;
  int64_t num_hidden_layers = 0;
  double layer_norm_eps = 1e-5;
  std::string hidden_act = "quick_gelu";  // "quick_gelu" (OpenAI's models) or "gelu"
};

struct ClipVisionConfig : ClipEncoderConfig {
  int64_t image_size = 224;
  int64_t patch_size = 32;
  int64_t num_channels = 3;
};

struct ClipTextConfig : ClipEncoderConfig {
  int64_t vocab_size = 49408;
  int64_t max_position_embeddings = 77;
  // Hugging Face's legacy configs (openai/clip-vit-*) say 2 here; then, as in transformers, the
  // end of the text is found as the argmax of the ids (the end-of-text token has the largest id).
  int64_t eos_token_id = 49407;
};

struct ClipConfig {
  ClipVisionConfig vision;
  ClipTextConfig text;
  int64_t projection_dim = 512;
  double logit_scale_init_value = 2.6592;

  // Hugging Face CLIPConfig JSON; a field absent there takes transformers' default (ViT-B/32's
  // sizes). Throws std::invalid_argument naming `source` and the field on wrong values.
  static ClipConfig from_json(const nlohmann::json& j, const std::string& source);
  static ClipConfig from_file(const std::filesystem::path& config_json);
};

class ClipAttentionImpl : public torch::nn::Module {
 public:
  ClipAttentionImpl(int64_t hidden_size, int64_t heads);
  // x: [N, L, W]; mask: additive [L, L] or undefined.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask);

  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, out_proj{nullptr};

 private:
  int64_t heads_;
};
TORCH_MODULE(ClipAttention);

class ClipMlpImpl : public torch::nn::Module {
 public:
  ClipMlpImpl(int64_t hidden_size, int64_t intermediate_size, std::string activation);
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::Linear fc1{nullptr}, fc2{nullptr};

 private:
  std::string activation_;
};
TORCH_MODULE(ClipMlp);

class ClipEncoderLayerImpl : public torch::nn::Module {
 public:
  explicit ClipEncoderLayerImpl(const ClipEncoderConfig& config);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask);

  ClipAttention self_attn{nullptr};
  torch::nn::LayerNorm layer_norm1{nullptr}, layer_norm2{nullptr};
  ClipMlp mlp{nullptr};
};
TORCH_MODULE(ClipEncoderLayer);

class ClipTransformerEncoderImpl : public torch::nn::Module {
 public:
  explicit ClipTransformerEncoderImpl(const ClipEncoderConfig& config);
  torch::Tensor forward(torch::Tensor x, const torch::Tensor& mask);

  torch::nn::ModuleList layers{nullptr};
};
TORCH_MODULE(ClipTransformerEncoder);

struct ClipTowerOutput {
  torch::Tensor last_hidden_state;  // vision: before post_layernorm; text: after final_layer_norm
  torch::Tensor pooled;             // vision: post_layernorm(class token); text: end-of-text feature
};

class ClipVisionEmbeddingsImpl : public torch::nn::Module {
 public:
  explicit ClipVisionEmbeddingsImpl(const ClipVisionConfig& config);
  torch::Tensor forward(const torch::Tensor& pixel_values);  // [N, C, S, S] -> [N, 1 + P, W]

  torch::nn::Conv2d patch_embedding{nullptr};
  torch::Tensor class_embedding;  // [W]
  torch::nn::Embedding position_embedding{nullptr};
};
TORCH_MODULE(ClipVisionEmbeddings);

class ClipVisionTransformerImpl : public torch::nn::Module {
 public:
  explicit ClipVisionTransformerImpl(const ClipVisionConfig& config);
  ClipTowerOutput forward(const torch::Tensor& pixel_values);

  ClipVisionEmbeddings embeddings{nullptr};
  torch::nn::LayerNorm pre_layrnorm{nullptr};  // (sic) Hugging Face's name
  ClipTransformerEncoder encoder{nullptr};
  torch::nn::LayerNorm post_layernorm{nullptr};

 private:
  ClipVisionConfig config_;
};
TORCH_MODULE(ClipVisionTransformer);

class ClipTextEmbeddingsImpl : public torch::nn::Module {
 public:
  explicit ClipTextEmbeddingsImpl(const ClipTextConfig& config);
  torch::Tensor forward(const torch::Tensor& input_ids);  // [N, L] -> [N, L, W]

  torch::nn::Embedding token_embedding{nullptr}, position_embedding{nullptr};
};
TORCH_MODULE(ClipTextEmbeddings);

class ClipTextTransformerImpl : public torch::nn::Module {
 public:
  explicit ClipTextTransformerImpl(const ClipTextConfig& config);
  // input_ids: [N, L] int64, L <= max_position_embeddings; every row holds an end-of-text token.
  ClipTowerOutput forward(const torch::Tensor& input_ids);
  // The position of each row's end-of-text token: [N] int64.
  torch::Tensor end_of_text_positions(const torch::Tensor& input_ids) const;

  ClipTextEmbeddings embeddings{nullptr};
  ClipTransformerEncoder encoder{nullptr};
  torch::nn::LayerNorm final_layer_norm{nullptr};

 private:
  ClipTextConfig config_;
};
TORCH_MODULE(ClipTextTransformer);

class ClipModelImpl : public torch::nn::Module {
 public:
  explicit ClipModelImpl(const ClipConfig& config);

  // pixel_values [N, 3, S, S] (preprocessed) -> image embeddings [N, E], not normalised.
  torch::Tensor encode_image(const torch::Tensor& pixel_values);
  // input_ids [N, L] -> text embeddings [N, E], not normalised. Columns after the last
  // end-of-text token of the batch are dropped first: the mask is causal, so they cannot change
  // the result, and prompts are ~10 of the 77 tokens.
  torch::Tensor encode_text(const torch::Tensor& input_ids);
  // exp(logit_scale) * normalised images @ normalised texts^T: [N_images, N_texts].
  torch::Tensor logits_per_image(const torch::Tensor& image_embeds, const torch::Tensor& text_embeds) const;

  const ClipConfig& config() const { return config_; }

  ClipTextTransformer text_model{nullptr};
  ClipVisionTransformer vision_model{nullptr};
  torch::nn::Linear visual_projection{nullptr}, text_projection{nullptr};
  torch::Tensor logit_scale;  // [] log of the temperature's inverse

 private:
  ClipConfig config_;
};
TORCH_MODULE(ClipModel);

// A Hugging Face CLIP model directory: config.json and model.safetensors (or pytorch_model.bin).
// The model is in eval mode on the CPU. Errors name the file and the tensor.
ClipModel load_clip_model(const std::filesystem::path& model_dir);

}  // namespace avgzsl::encoders
