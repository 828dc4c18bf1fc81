// HTS-AT (Chen et al. 2022), the audio tower of CLAP, on LibTorch: a Swin transformer over the
// log-mel spectrogram folded into a square image, plus CLAP's projection head.
//
//   log-mel [B, C, T, M] -> batch_norm over the M mel bins -> bicubic resize of T to
//   spec_size * freq_ratio (align_corners) -> the frames cut into freq_ratio chunks stacked along
//   the mel axis: image [B, C, spec_size, spec_size] (row r*M + m = chunk r, mel m)
//   -> patch_embed (conv patch x patch / stride, LayerNorm) -> [B, H*W, E]
//   -> stages of (shifted) window-attention blocks with relative position bias, PatchMerging
//   between stages -> final LayerNorm -> mean over tokens: pooled [B, num_features]
//   -> audio_projection: linear1 -> act -> linear2: [B, projection_dim] (normalised by callers)
//
// Module and tensor names are Hugging Face's ClapAudioModel / ClapModel names without the
// leading "audio_model." (HF is the authority): `audio_encoder.layers.0.blocks.1.attention.self.query.weight`,
// `audio_projection.linear1.weight`. WavCaps' and LAION's original names (fused `qkv`, `norm1`,
// `mlp.fc1`, `bn0`, `audio_proj.0`, ...) load through `clap_audio_file_name`.
//
// Fused models (`enable_fusion`, laion/clap-htsat-fused): patch_embed also holds `mel_conv2d` and
// the attentional feature fusion block (`fusion_model`, AFF 2D). Input then has 4 channels (the
// global mel + 3 local crops); rows whose `is_longer` flag is false use channel 0 only, exactly
// as in transformers; rows flagged longer go through mel_conv2d and the fusion block.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include <array>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "avgzsl/encoders/pretrained_weights.h"

namespace avgzsl::encoders {

// Tensor names of the three checkpoint layouts:
//   hugging_face: `audio_model.audio_encoder.*`, `audio_projection.linear1/linear2.*`, split q/k/v
//   wavcaps:      `audio_encoder.audio_enc.*`, `audio_proj.0/2.*`, fused qkv (WavCaps ASE checkpoints)
//   laion:        `audio_branch.*`, `audio_projection.0/2.*`, fused qkv (LAION-AI/CLAP checkpoints)
enum class WeightNaming { kHuggingFace, kWavCaps, kLaion };
std::string to_string(WeightNaming naming);

struct HtsatConfig {
  int64_t num_mel_bins = 64;
  int64_t spec_size = 256;
  int64_t patch_size = 4;
  std::array<int64_t, 2> patch_stride = {4, 4};
  int64_t in_channels = 1;  // patch_embed_input_channels
  int64_t embed_dim = 96;   // patch_embeds_hidden_size
  std::vector<int64_t> depths = {2, 2, 6, 2};
  std::vector<int64_t> num_heads = {4, 8, 16, 32};
  int64_t window_size = 8;
  double mlp_ratio = 4.0;
  bool qkv_bias = true;
  std::string hidden_act = "gelu";  // gelu (erf), gelu_new, relu, silu
  double layer_norm_eps = 1e-5;     // the blocks' LayerNorms (the others use 1e-5, as upstream)
  bool patch_norm = true;           // enable_patch_layer_norm
  bool enable_fusion = false;
  std::string fusion_type;          // "aff_2d" when fused (the only kind supported)
  int64_t aff_block_r = 4;
  // The projection head.
  int64_t projection_dim = 512;
  std::string projection_act = "relu";  // relu, gelu, gelu_new, silu

  int64_t num_stages() const { return static_cast<int64_t>(depths.size()); }
  int64_t num_features() const;  // embed_dim * 2^(stages - 1): the pooled embedding's size
  int64_t freq_ratio() const;    // spec_size / num_mel_bins
  int64_t max_frames() const;    // spec_size * freq_ratio: longest log-mel the model takes
  // Patch grid of stage i: {rows, columns}.
  std::array<int64_t, 2> resolution(int64_t stage) const;
  // Throws std::invalid_argument("<where>: ...") for impossible sizes.
  void validate(const std::string& where) const;
  // "htsat embed 96 depths 2,2,6,2 heads 4,8,16,32 window 8 mels 64 spec 256, proj 512 relu".
  std::string summary() const;

  // A Hugging Face ClapConfig (its "audio_config" section plus the top-level projection_dim /
  // projection_hidden_act, which ClapConfig copies into the audio config) or a bare
  // ClapAudioConfig. Absent fields take transformers' defaults (laion/clap-htsat-* sizes).
  // `hidden_size` must equal num_features(). Throws std::invalid_argument naming `source`.
  static HtsatConfig from_hf_json(const nlohmann::json& j, const std::string& source);
  static HtsatConfig from_hf_file(const std::filesystem::path& config_json);  // std::runtime_error
  // ClapConfig form {"model_type": "clap", "projection_dim", "projection_hidden_act",
  // "audio_config": {...}} (no text_config): from_hf_json of it gives this config back.
  nlohmann::json to_hf_json() const;
  // The sizes read off a checkpoint's tensor shapes (WavCaps / LAION checkpoints carry no
  // config): embed_dim and patch size from patch_embed.proj, depths from the block counts, heads
  // and window from the relative position bias tables, mlp_ratio from the MLPs, mel bins from
  // bn0, the projection from its linears, fusion from mel_conv2d. spec_size 256 and a stride equal
  // to the patch size (every released HTSAT) are assumed; activations are GELU / ReLU.
  static HtsatConfig infer_from_weights(const PretrainedWeights& weights, WeightNaming naming);
};

// A Linear named `dense` (Hugging Face's wrapper modules: attention.output, intermediate, output).
class HtsatDenseImpl : public torch::nn::Module {
 public:
  HtsatDenseImpl(int64_t in, int64_t out);
  torch::Tensor forward(const torch::Tensor& x) { return dense(x); }
  torch::nn::Linear dense{nullptr};
};
TORCH_MODULE(HtsatDense);

// Window multi-head self-attention with relative position bias (HF ClapAudioSelfAttention).
class HtsatSelfAttentionImpl : public torch::nn::Module {
 public:
  HtsatSelfAttentionImpl(int64_t dim, int64_t heads, int64_t window, bool qkv_bias);
  // windows [B * nW, N, C] (N = window^2); mask [nW, N, N] (0 / -100) or undefined
  // -> context [B * nW, N, C] (before the output projection).
  torch::Tensor forward(const torch::Tensor& windows, const torch::Tensor& mask);

  torch::nn::Linear query{nullptr}, key{nullptr}, value{nullptr};
  torch::Tensor relative_position_bias_table;  // [(2w - 1)^2, heads]
  torch::Tensor relative_position_index;       // [N, N] int64, computed (not loaded)

 private:
  int64_t heads_;
};
TORCH_MODULE(HtsatSelfAttention);

class HtsatAttentionImpl : public torch::nn::Module {
 public:
  HtsatAttentionImpl(int64_t dim, int64_t heads, int64_t window, bool qkv_bias);
  torch::Tensor forward(const torch::Tensor& windows, const torch::Tensor& mask) {
    return output(self_attention(windows, mask));
  }
  HtsatSelfAttention self_attention{nullptr};  // "self"
  HtsatDense output{nullptr};
};
TORCH_MODULE(HtsatAttention);

// One Swin block (HF ClapAudioLayer): pre-norm window attention (shifted on odd blocks when the
// grid is larger than the window) and pre-norm MLP, both residual.
class HtsatBlockImpl : public torch::nn::Module {
 public:
  HtsatBlockImpl(const HtsatConfig& config, int64_t dim, std::array<int64_t, 2> resolution, int64_t heads, bool shifted);
  torch::Tensor forward(const torch::Tensor& x);  // [B, H*W, C] -> [B, H*W, C]

  torch::nn::LayerNorm layernorm_before{nullptr}, layernorm_after{nullptr};
  HtsatAttention attention{nullptr};
  HtsatDense intermediate{nullptr}, output{nullptr};
  torch::Tensor attn_mask;  // [nW, N, N] of 0 / -100 when shifted, computed (not loaded)

  int64_t window() const { return window_; }
  int64_t shift() const { return shift_; }

 private:
  std::array<int64_t, 2> resolution_;
  int64_t window_, shift_;
  std::string act_;
};
TORCH_MODULE(HtsatBlock);

// 2x2 neighbours concatenated (row-odd before column-odd), LayerNorm(4C), Linear(4C -> 2C, no bias).
class HtsatPatchMergingImpl : public torch::nn::Module {
 public:
  HtsatPatchMergingImpl(int64_t dim, std::array<int64_t, 2> resolution);
  torch::Tensor forward(const torch::Tensor& x);  // [B, H*W, C] -> [B, H/2*W/2, 2C]

  torch::nn::Linear reduction{nullptr};
  torch::nn::LayerNorm norm{nullptr};

 private:
  std::array<int64_t, 2> resolution_;
};
TORCH_MODULE(HtsatPatchMerging);

class HtsatStageImpl : public torch::nn::Module {
 public:
  HtsatStageImpl(const HtsatConfig& config, int64_t stage);
  torch::Tensor forward(torch::Tensor x);

  torch::nn::ModuleList blocks{nullptr};
  HtsatPatchMerging downsample{nullptr};  // absent in the last stage
};
TORCH_MODULE(HtsatStage);

// Attentional feature fusion (2D), HF ClapAudioAFFBlock / LAION AFF: local_att (1x1 conv, BN,
// ReLU, 1x1 conv, BN) and global_att (average pool, the same), sigmoid weights.
class HtsatFusionImpl : public torch::nn::Module {
 public:
  HtsatFusionImpl(int64_t channels, int64_t r);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& residual);  // [b, C, H, W] each

  torch::nn::Sequential local_att{nullptr}, global_att{nullptr};
};
TORCH_MODULE(HtsatFusion);

class HtsatPatchEmbedImpl : public torch::nn::Module {
 public:
  explicit HtsatPatchEmbedImpl(const HtsatConfig& config);
  // image [B, C, S, S]; is_longer [B] bool or undefined (fused models only) -> [B, H*W, E].
  torch::Tensor forward(const torch::Tensor& image, const torch::Tensor& is_longer);

  torch::nn::Conv2d proj{nullptr};
  torch::nn::LayerNorm norm{nullptr};          // absent without patch_norm
  torch::nn::Conv2d mel_conv2d{nullptr};       // fused only
  HtsatFusion fusion_model{nullptr};           // fused only

 private:
  HtsatConfig config_;
};
TORCH_MODULE(HtsatPatchEmbed);

// The HTSAT audio encoder (HF ClapAudioEncoder): forward(log_mel) -> pooled embedding.
class HtsatAudioEncoderImpl : public torch::nn::Module {
 public:
  explicit HtsatAudioEncoderImpl(const HtsatConfig& config);
  // log_mel [B, C, T, num_mel_bins], T <= max_frames(); C = in_channels, or 4 / 1 for a fused
  // model (1: every row is not longer); is_longer [B] bool or undefined (= all false)
  // -> pooled [B, num_features].
  torch::Tensor forward(const torch::Tensor& log_mel, const torch::Tensor& is_longer = {});
  // The folded image the patch embedding sees: [B, C, spec_size, spec_size] (after batch_norm).
  torch::Tensor spectrogram_image(const torch::Tensor& log_mel);
  // How many clips the CPU forward runs at once (bigger batches go in chunks of this many, so
  // temporaries stay below ~16 MB and malloc reuses them: fresh pages cost more than the
  // arithmetic). Automatic unless set; 0 restores automatic.
  int64_t cpu_chunk_rows() const;
  void set_cpu_chunk_rows(int64_t rows);

  const HtsatConfig& config() const { return config_; }

  HtsatPatchEmbed patch_embed{nullptr};
  torch::nn::ModuleList layers{nullptr};
  torch::nn::BatchNorm2d batch_norm{nullptr};  // over the mel bins (WavCaps/LAION "bn0")
  torch::nn::LayerNorm norm{nullptr};

 private:
  HtsatConfig config_;
  int64_t chunk_rows_ = 0;  // 0: automatic
};
TORCH_MODULE(HtsatAudioEncoder);

// CLAP's projection head (HF ClapProjectionLayer): linear1 -> act -> linear2.
class ClapProjectionImpl : public torch::nn::Module {
 public:
  ClapProjectionImpl(int64_t in, int64_t out, std::string activation);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Linear linear1{nullptr}, linear2{nullptr};

 private:
  std::string activation_;
};
TORCH_MODULE(ClapProjection);

// The audio half of a CLAP model: encoder + projection, in eval mode after loading.
class ClapAudioModelImpl : public torch::nn::Module {
 public:
  explicit ClapAudioModelImpl(const HtsatConfig& config);
  // log_mel [B, C, T, M] -> projected [B, projection_dim], not normalised.
  torch::Tensor forward(const torch::Tensor& log_mel, const torch::Tensor& is_longer = {});
  // The same, L2-normalised (eps 1e-12): WavCaps encode_audio / HF get_audio_features.
  torch::Tensor embed(const torch::Tensor& log_mel, const torch::Tensor& is_longer = {});

  const HtsatConfig& config() const { return config_; }

  HtsatAudioEncoder audio_encoder{nullptr};
  ClapProjection audio_projection{nullptr};

 private:
  HtsatConfig config_;
};
TORCH_MODULE(ClapAudioModel);

// ---- checkpoint names ----

// The file name of the module tensor `module_tensor` (a name of ClapAudioModel: "audio_encoder.…"
// or "audio_projection.…") under `naming`, with the slice for split q/k/v (wavcaps/laion: part 0/1/2
// of 3 of `…attn.qkv.*`); nullopt when that layout does not store the tensor (HF has no attn_mask).
std::optional<PretrainedWeights::Source> clap_audio_file_name(const std::string& module_tensor, WeightNaming naming);
// Whether a tensor the module computes itself (relative_position_index, attn_mask,
// num_batches_tracked): present in files, never loaded.
bool is_computed_clap_audio_tensor(const std::string& module_tensor);
// Whether a file tensor the audio model does not read may be there: the other tower, logit
// scales / temperature, the torchlibrosa front end, tscam_conv / head, recomputed buffers.
bool is_ignorable_clap_audio_file_tensor(const std::string& file_tensor, WeightNaming naming);
// The layout of a checkpoint, from its names (audio_model.audio_encoder.* | audio_encoder.audio_enc.*
// | audio_branch.*); throws std::runtime_error naming the file when none matches.
WeightNaming detect_clap_audio_naming(const PretrainedWeights& weights);

// Strict load (PretrainedWeights::load_mapped): every tensor present with its shape, unexpected
// audio tensors are errors. Leaves the model in eval mode.
void load_clap_audio_weights(ClapAudioModelImpl& model, const PretrainedWeights& weights, WeightNaming naming);
// Builds and loads: the config is inferred from the tensors unless given (HF: from config.json).
ClapAudioModel load_clap_audio_model(const PretrainedWeights& weights, WeightNaming naming,
                                     const std::optional<HtsatConfig>& config = std::nullopt);

// Every tensor of `model` under `naming`'s names, as a checkpoint of that layout holds them:
// q/k/v fused into qkv for wavcaps/laion; relative_position_index included (HF keeps it too),
// attn_mask for wavcaps/laion, num_batches_tracked. Save with io::save_safetensors.
std::vector<std::pair<std::string, torch::Tensor>> clap_audio_named_tensors(ClapAudioModelImpl& model,
                                                                            WeightNaming naming);

}  // namespace avgzsl::encoders
