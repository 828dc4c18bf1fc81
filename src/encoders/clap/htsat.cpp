#include "avgzsl/encoders/clap/htsat.h"
#include "avgzsl/util/text.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

#include "avgzsl/encoders/config_json.h"
#include "avgzsl/nn/activations.h"

namespace avgzsl::encoders {

namespace {
namespace htsat_impl {

using nlohmann::json;

// Replaces the first occurrence of `from` in `s`; true when there was one.
bool replace_once(std::string& s, const std::string& from, const std::string& to) {
  const size_t at = s.find(from);
  if (at == std::string::npos) return false;
  s.replace(at, from.size(), to);
  return true;
}

std::string join(const std::vector<int64_t>& values) {
  std::string s;
  for (size_t i = 0; i < values.size(); ++i) s += (i ? "," : "") + std::to_string(values[i]);
  return s;
}

// The window a stage really uses, and its shift for odd blocks: a grid not larger than the window
// is one window without shift (WavCaps, LAION and transformers all do this).
std::pair<int64_t, int64_t> stage_window(const HtsatConfig& c, std::array<int64_t, 2> res) {
  const int64_t smallest = std::min(res[0], res[1]);
  if (smallest <= c.window_size) return {smallest, 0};
  return {c.window_size, c.window_size / 2};
}

torch::nn::LayerNorm layer_norm(int64_t dim, double eps = 1e-5) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(eps));
}

// Swin's relative position index: [N, N] with N = w^2, (dy + w - 1) * (2w - 1) + (dx + w - 1).
torch::Tensor relative_position_index(int64_t w) {
  const int64_t n = w * w;
  torch::Tensor index = torch::empty({n, n}, torch::kInt64);
  auto a = index.accessor<int64_t, 2>();
  for (int64_t p = 0; p < n; ++p) {
    for (int64_t q = 0; q < n; ++q) {
      a[p][q] = (p / w - q / w + w - 1) * (2 * w - 1) + (p % w - q % w + w - 1);
    }
  }
  return index;
}

// [B, H, W, C] -> [B * nW, w*w, C], windows in row-major order of their grid.
torch::Tensor partition_windows(const torch::Tensor& x, int64_t w) {
  const int64_t b = x.size(0), h = x.size(1), wd = x.size(2), c = x.size(3);
  return x.view({b, h / w, w, wd / w, w, c}).permute({0, 1, 3, 2, 4, 5}).reshape({b * (h / w) * (wd / w), w * w, c});
}

// The inverse: [B * nW, w*w, C] -> [B, H, W, C].
torch::Tensor merge_windows(const torch::Tensor& windows, int64_t w, int64_t h, int64_t wd) {
  const int64_t c = windows.size(2);
  const int64_t b = windows.size(0) / ((h / w) * (wd / w));
  return windows.view({b, h / w, wd / w, w, w, c}).permute({0, 1, 3, 2, 4, 5}).reshape({b, h, wd, c});
}

// The shifted-window mask [nW, N, N]: -100 between tokens of different regions of the rolled grid.
torch::Tensor shifted_window_mask(std::array<int64_t, 2> res, int64_t w, int64_t shift) {
  torch::Tensor regions = torch::zeros({1, res[0], res[1], 1}, torch::kFloat32);
  auto a = regions.accessor<float, 4>();
  auto band = [&](int64_t i, int64_t size) { return i < size - w ? 0 : (i < size - shift ? 1 : 2); };
  for (int64_t y = 0; y < res[0]; ++y) {
    for (int64_t x = 0; x < res[1]; ++x) a[0][y][x][0] = static_cast<float>(band(y, res[0]) * 3 + band(x, res[1]));
  }
  const torch::Tensor ids = partition_windows(regions, w).squeeze(-1);  // [nW, N]
  const torch::Tensor differ = ids.unsqueeze(1) != ids.unsqueeze(2);    // [nW, N, N]
  return torch::zeros(differ.sizes(), torch::kFloat32).masked_fill(differ, -100.0);
}

// The CPU forward works on as many clips as keep its largest temporary below this.
constexpr double kCpuChunkBytes = 16.0 * 1024 * 1024;

const char* encoder_prefix(WeightNaming naming) {
  switch (naming) {
    case WeightNaming::kHuggingFace: return "audio_model.audio_encoder.";
    case WeightNaming::kWavCaps: return "audio_encoder.audio_enc.";
    case WeightNaming::kLaion: return "audio_branch.";
  }
  return "";
}

}  // namespace htsat_impl
}  // namespace

std::string to_string(WeightNaming naming) {
  switch (naming) {
    case WeightNaming::kHuggingFace: return "hugging_face";
    case WeightNaming::kWavCaps: return "wavcaps";
    case WeightNaming::kLaion: return "laion";
  }
  return "?";
}

// ---- configuration ----

int64_t HtsatConfig::num_features() const { return embed_dim << (num_stages() - 1); }
int64_t HtsatConfig::freq_ratio() const { return spec_size / num_mel_bins; }
int64_t HtsatConfig::max_frames() const { return spec_size * freq_ratio(); }

std::array<int64_t, 2> HtsatConfig::resolution(int64_t stage) const {
  return {(spec_size / patch_stride[0]) >> stage, (spec_size / patch_stride[1]) >> stage};
}

void HtsatConfig::validate(const std::string& where) const {
  auto bad = [&](const std::string& what) { throw std::invalid_argument(where + ": " + what); };
  auto positive = [&](int64_t v, const char* name) {
    if (v <= 0) bad(std::string(name) + " must be positive, got " + std::to_string(v));
  };
  positive(num_mel_bins, "num_mel_bins");
  positive(spec_size, "spec_size");
  positive(patch_size, "patch_size");
  positive(patch_stride[0], "patch_stride");
  positive(patch_stride[1], "patch_stride");
  positive(in_channels, "patch_embed_input_channels");
  positive(embed_dim, "patch_embeds_hidden_size");
  positive(window_size, "window_size");
  positive(projection_dim, "projection_dim");
  if (depths.empty() || depths.size() != num_heads.size()) {
    bad("depths (" + htsat_impl::join(depths) + ") and num_attention_heads (" + htsat_impl::join(num_heads) + ") must be non-empty and as long");
  }
  if (spec_size % num_mel_bins != 0) {
    bad("spec_size " + std::to_string(spec_size) + " is not a multiple of num_mel_bins " + std::to_string(num_mel_bins));
  }
  if (patch_size < patch_stride[0] || patch_size < patch_stride[1]) bad("patch_size is smaller than patch_stride");
  if (spec_size % patch_stride[0] != 0 || spec_size % patch_stride[1] != 0) bad("spec_size is not a multiple of patch_stride");
  if (!(mlp_ratio > 0)) bad("mlp_ratio must be positive");
  if (!(layer_norm_eps > 0)) bad("layer_norm_eps must be positive");
  if (!nn::is_supported_activation(hidden_act)) bad("unsupported hidden_act '" + hidden_act + "'");
  if (!nn::is_supported_activation(projection_act)) bad("unsupported projection_hidden_act '" + projection_act + "'");
  for (int64_t i = 0; i < num_stages(); ++i) {
    positive(depths[i], "depths");
    positive(num_heads[i], "num_attention_heads");
    const int64_t dim = embed_dim << i;
    if (dim % num_heads[i] != 0) {
      bad("stage " + std::to_string(i) + " width " + std::to_string(dim) + " is not divisible by its " +
          std::to_string(num_heads[i]) + " heads");
    }
    const auto res = resolution(i);
    const auto [w, shift] = htsat_impl::stage_window(*this, res);
    (void)shift;
    if (w <= 0 || res[0] % w != 0 || res[1] % w != 0) {
      bad("stage " + std::to_string(i) + " grid " + std::to_string(res[0]) + "x" + std::to_string(res[1]) +
          " is not a whole number of " + std::to_string(w) + "x" + std::to_string(w) + " windows");
    }
    if (i + 1 < num_stages() && (res[0] % 2 != 0 || res[1] % 2 != 0)) {
      bad("stage " + std::to_string(i) + " grid " + std::to_string(res[0]) + "x" + std::to_string(res[1]) +
          " cannot be merged 2x2");
    }
  }
  if (enable_fusion) {
    if (fusion_type != "aff_2d") bad("fusion_type '" + fusion_type + "' is not supported (only aff_2d, transformers' fusion)");
    if (in_channels != 1) bad("a fused model takes patch_embed_input_channels 1");
    if (aff_block_r <= 0 || embed_dim / aff_block_r <= 0) bad("aff_block_r must be in [1, patch_embeds_hidden_size]");
  }
}

std::string HtsatConfig::summary() const {
  std::ostringstream s;
  s << "htsat embed " << embed_dim << " depths " << htsat_impl::join(depths) << " heads " << htsat_impl::join(num_heads)
    << " window " << window_size << " mels " << num_mel_bins << " spec " << spec_size << " patch " << patch_size;
  if (enable_fusion) s << " fusion " << fusion_type;
  s << ", proj " << projection_dim << " " << projection_act;
  return s.str();
}

HtsatConfig HtsatConfig::from_hf_json(const nlohmann::json& j, const std::string& source) {
  if (!j.is_object()) throw std::invalid_argument(source + ": not a JSON object");
  HtsatConfig c;
  const nlohmann::json* audio = &j;
  std::string where = source;
  const bool whole_clap = j.value("model_type", std::string()) == "clap" || j.contains("audio_config") ||
                          j.contains("audio_config_dict");
  if (whole_clap) {
    audio = &config_section(j, "audio_config");
    where = source + " audio_config";
  }
  const nlohmann::json& a = *audio;
  read_config_field(a, "num_mel_bins", c.num_mel_bins, where);
  read_config_field(a, "spec_size", c.spec_size, where);
  read_config_field(a, "patch_size", c.patch_size, where);
  if (const auto it = a.find("patch_stride"); it != a.end() && !it->is_null()) {
    if (it->is_number_integer()) {
      c.patch_stride = {it->get<int64_t>(), it->get<int64_t>()};
    } else if (it->is_array() && it->size() == 2 && (*it)[0].is_number_integer() && (*it)[1].is_number_integer()) {
      c.patch_stride = {(*it)[0].get<int64_t>(), (*it)[1].get<int64_t>()};
    } else {
      throw std::invalid_argument(where + ": field 'patch_stride' must be an integer or two (" + it->dump() + ")");
    }
  }
  read_config_field(a, "patch_embed_input_channels", c.in_channels, where);
  read_config_field(a, "patch_embeds_hidden_size", c.embed_dim, where);
  read_config_field(a, "depths", c.depths, where);
  read_config_field(a, "num_attention_heads", c.num_heads, where);
  read_config_field(a, "window_size", c.window_size, where);
  read_config_field(a, "mlp_ratio", c.mlp_ratio, where);
  read_config_field(a, "qkv_bias", c.qkv_bias, where);
  read_config_field(a, "hidden_act", c.hidden_act, where);
  read_config_field(a, "layer_norm_eps", c.layer_norm_eps, where);
  read_config_field(a, "enable_patch_layer_norm", c.patch_norm, where);
  read_config_field(a, "enable_fusion", c.enable_fusion, where);
  read_config_field(a, "aff_block_r", c.aff_block_r, where);
  std::string fusion_type;
  read_config_field(a, "fusion_type", fusion_type, where);
  // transformers builds the AFF block for every fusion_type but "channel_map".
  if (c.enable_fusion) c.fusion_type = fusion_type.empty() || fusion_type == "aff_2d" ? "aff_2d" : fusion_type;
  bool flatten = true;
  read_config_field(a, "flatten_patch_embeds", flatten, where);
  if (!flatten) throw std::invalid_argument(where + ": flatten_patch_embeds false is not supported");
  read_config_field(a, "projection_dim", c.projection_dim, where);
  read_config_field(a, "projection_hidden_act", c.projection_act, where);
  if (whole_clap) {  // ClapConfig overwrites the audio config's projection settings
    read_config_field(j, "projection_dim", c.projection_dim, source);
    read_config_field(j, "projection_hidden_act", c.projection_act, source);
  }
  c.validate(where);
  int64_t hidden_size = c.num_features();
  read_config_field(a, "hidden_size", hidden_size, where);
  if (hidden_size != c.num_features()) {
    throw std::invalid_argument(where + ": hidden_size " + std::to_string(hidden_size) +
                                " must equal patch_embeds_hidden_size * 2^(stages - 1) = " +
                                std::to_string(c.num_features()));
  }
  return c;
}

HtsatConfig HtsatConfig::from_hf_file(const std::filesystem::path& config_json) {
  return parse_config_file(config_json,
                           [](const nlohmann::json& j, const std::string& source) { return from_hf_json(j, source); });
}

nlohmann::json HtsatConfig::to_hf_json() const {
  nlohmann::json audio = {
      {"model_type", "clap_audio_model"},
      {"num_mel_bins", num_mel_bins},
      {"spec_size", spec_size},
      {"patch_size", patch_size},
      {"patch_stride", {patch_stride[0], patch_stride[1]}},
      {"patch_embed_input_channels", in_channels},
      {"patch_embeds_hidden_size", embed_dim},
      {"hidden_size", num_features()},
      {"depths", depths},
      {"num_attention_heads", num_heads},
      {"num_hidden_layers", num_stages()},
      {"window_size", window_size},
      {"mlp_ratio", mlp_ratio},
      {"qkv_bias", qkv_bias},
      {"hidden_act", hidden_act},
      {"layer_norm_eps", layer_norm_eps},
      {"enable_patch_layer_norm", patch_norm},
      {"flatten_patch_embeds", true},
      {"enable_fusion", enable_fusion},
      {"fusion_type", enable_fusion ? nlohmann::json(fusion_type) : nlohmann::json()},
      {"aff_block_r", aff_block_r},
      {"projection_dim", projection_dim},
      {"projection_hidden_act", projection_act},
  };
  return {{"model_type", "clap"},
          {"architectures", {"ClapModel"}},
          {"projection_dim", projection_dim},
          {"projection_hidden_act", projection_act},
          {"audio_config", audio}};
}

HtsatConfig HtsatConfig::infer_from_weights(const PretrainedWeights& weights, WeightNaming naming) {
  const std::string where = weights.path().string();
  auto file = [&](const std::string& module_tensor) { return clap_audio_file_name(module_tensor, naming)->name; };
  auto has = [&](const std::string& module_tensor) { return weights.contains(file(module_tensor)); };
  auto shape = [&](const std::string& module_tensor) { return weights.shape(file(module_tensor)); };
  auto fail = [&](const std::string& what) { throw std::runtime_error(where + ": " + what); };
  const std::string e = "audio_encoder.";
  if (!has(e + "patch_embed.proj.weight")) {
    fail("no HTSAT patch embedding ('" + file(e + "patch_embed.proj.weight") + "'): not an HTSAT audio encoder");
  }
  HtsatConfig c;
  const auto proj = shape(e + "patch_embed.proj.weight");
  if (proj.size() != 4 || proj[2] != proj[3]) fail("patch_embed.proj.weight is not a square 2-D convolution");
  c.embed_dim = proj[0];
  c.in_channels = proj[1];
  c.patch_size = proj[2];
  c.patch_stride = {proj[2], proj[2]};
  if (!has(e + "batch_norm.weight")) fail("missing tensor '" + file(e + "batch_norm.weight") + "'");
  c.num_mel_bins = shape(e + "batch_norm.weight").at(0);
  c.patch_norm = has(e + "patch_embed.norm.weight");
  c.depths.clear();
  c.num_heads.clear();
  for (int64_t i = 0;; ++i) {
    const std::string stage = e + "layers." + std::to_string(i) + ".blocks.";
    int64_t blocks = 0;
    while (has(stage + std::to_string(blocks) + ".layernorm_before.weight")) ++blocks;
    if (blocks == 0) break;
    const auto table = shape(stage + "0.attention.self.relative_position_bias_table");
    if (table.size() != 2) fail("a relative_position_bias_table is not 2-D");
    c.depths.push_back(blocks);
    c.num_heads.push_back(table[1]);
    if (i == 0) {
      const auto side = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(table[0]))));
      if (side * side != table[0] || side % 2 == 0) fail("relative_position_bias_table rows are not (2w - 1)^2");
      c.window_size = (side + 1) / 2;
      const auto fc1 = shape(stage + "0.intermediate.dense.weight");
      c.mlp_ratio = static_cast<double>(fc1.at(0)) / static_cast<double>(c.embed_dim);
      c.qkv_bias = has(stage + "0.attention.self.query.bias");
    }
  }
  if (c.depths.empty()) fail("no transformer blocks ('" + file(e + "layers.0.blocks.0.layernorm_before.weight") + "')");
  if (has(e + "patch_embed.mel_conv2d.weight")) {
    c.enable_fusion = true;
    c.fusion_type = "aff_2d";
    const std::string aff = e + "patch_embed.fusion_model.";
    if (!has(aff + "local_att.0.weight")) fail("a fused patch embedding without the AFF block is not supported");
    const std::string second = std::string(htsat_impl::encoder_prefix(naming)) + "patch_embed.fusion_model.local_att2.0.weight";
    if (weights.contains(second)) fail("iAFF feature fusion ('" + second + "') is not supported (only AFF 2D)");
    c.aff_block_r = c.embed_dim / shape(aff + "local_att.0.weight").at(0);
  }
  if (!has("audio_projection.linear1.weight")) fail("missing tensor '" + file("audio_projection.linear1.weight") + "'");
  c.projection_dim = shape("audio_projection.linear1.weight").at(0);
  try {
    c.validate(where);
  } catch (const std::invalid_argument& ex) {
    throw std::runtime_error(ex.what());
  }
  return c;
}

// ---- modules ----

HtsatDenseImpl::HtsatDenseImpl(int64_t in, int64_t out) { dense = register_module("dense", torch::nn::Linear(in, out)); }

HtsatSelfAttentionImpl::HtsatSelfAttentionImpl(int64_t dim, int64_t heads, int64_t window, bool qkv_bias) : heads_(heads) {
  auto linear = [&] { return torch::nn::Linear(torch::nn::LinearOptions(dim, dim).bias(qkv_bias)); };
  query = register_module("query", linear());
  key = register_module("key", linear());
  value = register_module("value", linear());
  relative_position_bias_table =
      register_parameter("relative_position_bias_table", torch::zeros({(2 * window - 1) * (2 * window - 1), heads}));
  relative_position_index = register_buffer("relative_position_index", htsat_impl::relative_position_index(window));
}

torch::Tensor HtsatSelfAttentionImpl::forward(const torch::Tensor& windows, const torch::Tensor& mask) {
  const int64_t bw = windows.size(0), n = windows.size(1), c = windows.size(2), hd = c / heads_;
  // [BW, N, C] -> [BW, heads, N, hd]
  auto split = [&](const torch::Tensor& t) { return t.view({bw, n, heads_, hd}).transpose(1, 2); };
  const torch::Tensor q = split(query(windows) * (1.0 / std::sqrt(static_cast<double>(hd))));
  const torch::Tensor k = split(key(windows));
  const torch::Tensor v = split(value(windows));
  torch::Tensor scores = torch::matmul(q, k.transpose(-2, -1));  // [BW, heads, N, N]
  const torch::Tensor bias = relative_position_bias_table.index_select(0, relative_position_index.view(-1))
                                 .view({n, n, heads_})
                                 .permute({2, 0, 1});  // [heads, N, N]
  scores.add_(bias);
  if (mask.defined()) {
    const int64_t nw = mask.size(0);
    scores.view({bw / nw, nw, heads_, n, n}).add_(mask.unsqueeze(1));  // [B, nW, heads, N, N] += [nW, 1, N, N]
  }
  const torch::Tensor context = torch::matmul(torch::softmax(scores, -1), v);  // [BW, heads, N, hd]
  return context.transpose(1, 2).reshape({bw, n, c});
}

HtsatAttentionImpl::HtsatAttentionImpl(int64_t dim, int64_t heads, int64_t window, bool qkv_bias) {
  self_attention = register_module("self", HtsatSelfAttention(dim, heads, window, qkv_bias));
  output = register_module("output", HtsatDense(dim, dim));
}

HtsatBlockImpl::HtsatBlockImpl(const HtsatConfig& c, int64_t dim, std::array<int64_t, 2> resolution, int64_t heads,
                               bool shifted)
    : resolution_(resolution), act_(c.hidden_act) {
  const auto [window, shift] = htsat_impl::stage_window(c, resolution);
  window_ = window;
  shift_ = shifted ? shift : 0;
  const auto hidden = static_cast<int64_t>(static_cast<double>(dim) * c.mlp_ratio);
  layernorm_before = register_module("layernorm_before", htsat_impl::layer_norm(dim, c.layer_norm_eps));
  attention = register_module("attention", HtsatAttention(dim, heads, window_, c.qkv_bias));
  layernorm_after = register_module("layernorm_after", htsat_impl::layer_norm(dim, c.layer_norm_eps));
  intermediate = register_module("intermediate", HtsatDense(dim, hidden));
  output = register_module("output", HtsatDense(hidden, dim));
  if (shift_ > 0) attn_mask = register_buffer("attn_mask", htsat_impl::shifted_window_mask(resolution, window_, shift_));
}

torch::Tensor HtsatBlockImpl::forward(const torch::Tensor& x) {
  const int64_t b = x.size(0), h = resolution_[0], w = resolution_[1], c = x.size(2);
  TORCH_CHECK(x.size(1) == h * w, "HTSAT block: expected ", h * w, " tokens, got ", x.size(1));
  torch::Tensor grid = layernorm_before(x).view({b, h, w, c});                           // [B, H, W, C]
  if (shift_ > 0) grid = torch::roll(grid, {-shift_, -shift_}, {1, 2});                  // cyclic shift
  torch::Tensor windows = htsat_impl::partition_windows(grid, window_);                  // [B*nW, N, C]
  windows = attention(windows, shift_ > 0 ? attn_mask : torch::Tensor());                 // [B*nW, N, C]
  grid = htsat_impl::merge_windows(windows, window_, h, w);                             // [B, H, W, C]
  if (shift_ > 0) grid = torch::roll(grid, {shift_, shift_}, {1, 2});
  const torch::Tensor y = x + grid.reshape({b, h * w, c});                              // [B, L, C]
  return y + output(nn::apply_activation(act_, intermediate(layernorm_after(y))));
}

HtsatPatchMergingImpl::HtsatPatchMergingImpl(int64_t dim, std::array<int64_t, 2> resolution) : resolution_(resolution) {
  reduction = register_module("reduction", torch::nn::Linear(torch::nn::LinearOptions(4 * dim, 2 * dim).bias(false)));
  norm = register_module("norm", htsat_impl::layer_norm(4 * dim));
}

torch::Tensor HtsatPatchMergingImpl::forward(const torch::Tensor& x) {
  const int64_t b = x.size(0), h = resolution_[0], w = resolution_[1], c = x.size(2);
  // [B, H/2, 2 (row parity), W/2, 2 (column parity), C] -> [B, H/2, W/2, column parity, row parity, C]:
  // the 4C features are x[0::2, 0::2], x[1::2, 0::2], x[0::2, 1::2], x[1::2, 1::2].
  const torch::Tensor merged =
      x.view({b, h / 2, 2, w / 2, 2, c}).permute({0, 1, 3, 4, 2, 5}).reshape({b, (h / 2) * (w / 2), 4 * c});
  return reduction(norm(merged));  // [B, L/4, 2C]
}

HtsatStageImpl::HtsatStageImpl(const HtsatConfig& c, int64_t stage) {
  const int64_t dim = c.embed_dim << stage;
  const auto res = c.resolution(stage);
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.depths[stage]; ++i) blocks->push_back(HtsatBlock(c, dim, res, c.num_heads[stage], i % 2 == 1));
  if (stage + 1 < c.num_stages()) downsample = register_module("downsample", HtsatPatchMerging(dim, res));
}

torch::Tensor HtsatStageImpl::forward(torch::Tensor x) {
  for (const auto& block : *blocks) x = block->as<HtsatBlock>()->forward(x);
  return downsample ? downsample(x) : x;
}

HtsatFusionImpl::HtsatFusionImpl(int64_t channels, int64_t r) {
  namespace nn = torch::nn;
  const int64_t inner = channels / r;
  auto conv = [](int64_t in, int64_t out) { return nn::Conv2d(nn::Conv2dOptions(in, out, 1)); };
  local_att = register_module("local_att", nn::Sequential(conv(channels, inner), nn::BatchNorm2d(inner), nn::ReLU(),
                                                          conv(inner, channels), nn::BatchNorm2d(channels)));
  global_att = register_module(
      "global_att", nn::Sequential(nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions(1)), conv(channels, inner),
                                   nn::BatchNorm2d(inner), nn::ReLU(), conv(inner, channels), nn::BatchNorm2d(channels)));
}

torch::Tensor HtsatFusionImpl::forward(const torch::Tensor& x, const torch::Tensor& residual) {
  const torch::Tensor both = x + residual;
  const torch::Tensor weight = torch::sigmoid(local_att->forward(both) + global_att->forward(both));
  return 2 * x * weight + 2 * residual * (1 - weight);
}

HtsatPatchEmbedImpl::HtsatPatchEmbedImpl(const HtsatConfig& c) : config_(c) {
  namespace nn = torch::nn;
  const int64_t pad_h = (c.patch_size - c.patch_stride[0]) / 2, pad_w = (c.patch_size - c.patch_stride[1]) / 2;
  proj = register_module("proj", nn::Conv2d(nn::Conv2dOptions(c.in_channels, c.embed_dim, c.patch_size)
                                                .stride({c.patch_stride[0], c.patch_stride[1]})
                                                .padding({pad_h, pad_w})));
  if (c.patch_norm) norm = register_module("norm", htsat_impl::layer_norm(c.embed_dim));
  if (c.enable_fusion) {
    fusion_model = register_module("fusion_model", HtsatFusion(c.embed_dim, c.aff_block_r));
    mel_conv2d = register_module("mel_conv2d", nn::Conv2d(nn::Conv2dOptions(1, c.embed_dim, {c.patch_size, 3 * c.patch_size})
                                                              .stride({c.patch_stride[0], 3 * c.patch_stride[1]})
                                                              .padding({pad_h, pad_w})));
  }
}

torch::Tensor HtsatPatchEmbedImpl::forward(const torch::Tensor& image, const torch::Tensor& is_longer) {
  torch::Tensor x;
  if (!config_.enable_fusion) {
    x = proj(image);  // [B, E, H, W]
  } else {
    x = proj(image.narrow(1, 0, 1));  // the global mel: [B, E, H, W]
    if (is_longer.defined() && is_longer.any().item<bool>()) {
      TORCH_CHECK(image.size(1) == 4, "HTSAT fusion: rows flagged longer need the 4-channel fusion input, got ",
                  image.size(1), " channel(s)");
      const torch::Tensor rows = is_longer.nonzero().view(-1).to(image.device());
      const int64_t n = rows.size(0), s0 = image.size(2), s1 = image.size(3);
      // The 3 local crops, each through mel_conv2d, side by side along time: [n, E, H, 3 * w'].
      torch::Tensor local = mel_conv2d(image.index_select(0, rows).narrow(1, 1, 3).reshape({n * 3, 1, s0, s1}));
      const int64_t e = local.size(1), lh = local.size(2), lw = local.size(3);
      local = local.view({n, 3, e, lh, lw}).permute({0, 2, 3, 1, 4}).reshape({n, e, lh, 3 * lw});
      const int64_t width = x.size(3);
      local = local.size(3) >= width ? local.narrow(3, 0, width)
                                     : torch::constant_pad_nd(local, {0, width - local.size(3)}, 0);
      x = x.index_copy(0, rows, fusion_model(x.index_select(0, rows), local));
    }
  }
  x = x.flatten(2).transpose(1, 2);  // [B, H*W, E]
  return norm ? norm(x) : x;
}

HtsatAudioEncoderImpl::HtsatAudioEncoderImpl(const HtsatConfig& c) : config_(c) {
  c.validate("HTSAT configuration");
  patch_embed = register_module("patch_embed", HtsatPatchEmbed(c));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_stages(); ++i) layers->push_back(HtsatStage(c, i));
  batch_norm = register_module("batch_norm", torch::nn::BatchNorm2d(c.num_mel_bins));
  norm = register_module("norm", htsat_impl::layer_norm(c.num_features()));
}

torch::Tensor HtsatAudioEncoderImpl::spectrogram_image(const torch::Tensor& log_mel) {
  const HtsatConfig& c = config_;
  TORCH_CHECK(log_mel.dim() == 4 && log_mel.size(3) == c.num_mel_bins && log_mel.scalar_type() == torch::kFloat32,
              "HTSAT: expected float32 log-mels [B, C, T, ", c.num_mel_bins, "], got ", log_mel.sizes(), " ",
              log_mel.scalar_type());
  const int64_t b = log_mel.size(0), channels = log_mel.size(1), frames = log_mel.size(2), mels = c.num_mel_bins;
  const bool channels_ok = c.enable_fusion ? (channels == 1 || channels == 4) : channels == c.in_channels;
  TORCH_CHECK(channels_ok, "HTSAT: the model takes ", c.enable_fusion ? "1 or 4" : std::to_string(c.in_channels),
              " log-mel channel(s), got ", channels);
  TORCH_CHECK(frames >= 1 && frames <= c.max_frames(), "HTSAT: ", frames, " frames; the model takes 1 to ",
              c.max_frames());
  // batch_norm over the mel bins (eval: running statistics), applied along the last axis.
  const auto& bn = batch_norm;
  const torch::Tensor scale = bn->weight / torch::sqrt(bn->running_var + bn->options.eps());  // [M]
  const torch::Tensor shift = bn->bias - bn->running_mean * scale;
  torch::Tensor x = log_mel * scale + shift;  // [B, C, T, M]
  const int64_t target = c.max_frames(), r = c.freq_ratio();
  if (frames < target) {
    namespace F = torch::nn::functional;
    x = F::interpolate(x, F::InterpolateFuncOptions()
                              .size(std::vector<int64_t>{target, mels})
                              .mode(torch::kBicubic)
                              .align_corners(true));  // [B, C, target, M]
  }
  // The frames in r chunks stacked along the mel axis: [B, C*r, target/r, M] -> [B, C, r*M, target/r].
  return x.reshape({b, channels * r, target / r, mels}).transpose(2, 3).reshape({b, channels, r * mels, target / r});
}

void HtsatAudioEncoderImpl::set_cpu_chunk_rows(int64_t rows) {
  if (rows < 0) throw std::invalid_argument("HTSAT: the CPU chunk must be positive (or 0 for automatic)");
  chunk_rows_ = rows;
}

int64_t HtsatAudioEncoderImpl::cpu_chunk_rows() const {
  if (chunk_rows_ > 0) return chunk_rows_;
  // The largest temporary of a clip: the first stage's MLP activation (HTSAT-tiny: 6 MB).
  const auto res = config_.resolution(0);
  const double per_clip = static_cast<double>(res[0] * res[1]) * static_cast<double>(config_.embed_dim) *
                          std::max(config_.mlp_ratio, 3.0) * sizeof(float);
  return std::max<int64_t>(1, static_cast<int64_t>(htsat_impl::kCpuChunkBytes / per_clip));
}

torch::Tensor HtsatAudioEncoderImpl::forward(const torch::Tensor& log_mel, const torch::Tensor& is_longer) {
  if (is_longer.defined()) {
    TORCH_CHECK(is_longer.dim() == 1 && is_longer.size(0) == log_mel.size(0), "HTSAT: is_longer must be [B]");
    TORCH_CHECK(config_.enable_fusion || !is_longer.any().item<bool>(),
                "HTSAT: is_longer is set but the model has no feature fusion");
  }
  // On the CPU, a few clips at a time: temporaries stay small enough for malloc to reuse freed
  // blocks; fresh pages (large blocks are mmap()ed) cost more than the arithmetic. Rows are
  // independent, so the result is the same.
  const int64_t rows = log_mel.size(0), chunk = cpu_chunk_rows();
  if (log_mel.device().is_cpu() && rows > chunk) {
    std::vector<torch::Tensor> parts;
    for (int64_t start = 0; start < rows; start += chunk) {
      const int64_t n = std::min(chunk, rows - start);
      parts.push_back(forward(log_mel.narrow(0, start, n), is_longer.defined() ? is_longer.narrow(0, start, n) : is_longer));
    }
    return torch::cat(parts, 0);
  }
  torch::Tensor x = patch_embed(spectrogram_image(log_mel), is_longer.defined() ? is_longer.to(torch::kBool) : is_longer);
  for (const auto& stage : *layers) x = stage->as<HtsatStage>()->forward(x);  // [B, L, F]
  return norm(x).mean(1);                                                      // [B, F]
}

ClapProjectionImpl::ClapProjectionImpl(int64_t in, int64_t out, std::string activation) : activation_(std::move(activation)) {
  linear1 = register_module("linear1", torch::nn::Linear(in, out));
  linear2 = register_module("linear2", torch::nn::Linear(out, out));
}

torch::Tensor ClapProjectionImpl::forward(const torch::Tensor& x) {
  return linear2(nn::apply_activation(activation_, linear1(x)));
}

ClapAudioModelImpl::ClapAudioModelImpl(const HtsatConfig& c) : config_(c) {
  audio_encoder = register_module("audio_encoder", HtsatAudioEncoder(c));
  audio_projection = register_module("audio_projection", ClapProjection(c.num_features(), c.projection_dim, c.projection_act));
}

torch::Tensor ClapAudioModelImpl::forward(const torch::Tensor& log_mel, const torch::Tensor& is_longer) {
  return audio_projection(audio_encoder(log_mel, is_longer));
}

torch::Tensor ClapAudioModelImpl::embed(const torch::Tensor& log_mel, const torch::Tensor& is_longer) {
  const torch::Tensor projected = forward(log_mel, is_longer);
  return projected / projected.norm(2, -1, true).clamp_min(1e-12);
}

// ---- checkpoint names ----

bool is_computed_clap_audio_tensor(const std::string& name) {
  using util::ends_with;
  return util::ends_with(name, "relative_position_index") || util::ends_with(name, "attn_mask") ||
         util::ends_with(name, "num_batches_tracked");
}

std::optional<PretrainedWeights::Source> clap_audio_file_name(const std::string& module_tensor, WeightNaming naming) {
  using htsat_impl::replace_once;
  using util::starts_with;
  const std::string encoder = "audio_encoder.", projection = "audio_projection.";
  PretrainedWeights::Source source;
  if (naming == WeightNaming::kHuggingFace) {
    if (util::ends_with(module_tensor, "attn_mask")) return std::nullopt;  // ClapModel computes it
    source.name = util::starts_with(module_tensor, encoder) ? "audio_model." + module_tensor : module_tensor;
    return source;
  }
  if (util::starts_with(module_tensor, projection)) {
    std::string rest = module_tensor.substr(projection.size());
    (void)(replace_once(rest, "linear1.", "0.") || replace_once(rest, "linear2.", "2."));
    source.name = (naming == WeightNaming::kWavCaps ? "audio_proj." : "audio_projection.") + rest;
    return source;
  }
  if (!util::starts_with(module_tensor, encoder)) {
    source.name = module_tensor;
    return source;
  }
  std::string rest = module_tensor.substr(encoder.size());
  if (util::starts_with(rest, "batch_norm.")) rest = "bn0." + rest.substr(11);
  const char* qkv[] = {".attention.self.query.", ".attention.self.key.", ".attention.self.value."};
  for (int64_t part = 0; part < 3; ++part) {
    if (replace_once(rest, qkv[part], ".attn.qkv.")) {
      source.part = part;
      source.parts = 3;
    }
  }
  (void)(replace_once(rest, ".attention.output.dense.", ".attn.proj.") || replace_once(rest, ".attention.self.", ".attn.") ||
         replace_once(rest, ".intermediate.dense.", ".mlp.fc1.") || replace_once(rest, ".output.dense.", ".mlp.fc2.") ||
         replace_once(rest, ".layernorm_before.", ".norm1.") || replace_once(rest, ".layernorm_after.", ".norm2."));
  source.name = htsat_impl::encoder_prefix(naming) + rest;
  return source;
}

bool is_ignorable_clap_audio_file_tensor(const std::string& name, WeightNaming naming) {
  using util::ends_with;
  using util::starts_with;
  if (util::ends_with(name, "relative_position_index") || util::ends_with(name, "attn_mask") ||
      util::ends_with(name, "num_batches_tracked") || util::ends_with(name, "position_ids")) {
    return true;
  }
  const std::string encoder = htsat_impl::encoder_prefix(naming);
  if (util::starts_with(name, encoder)) {
    const std::string rest = name.substr(encoder.size());
    for (const char* p : {"audio_feats_extractor.", "spectrogram_extractor.", "logmel_extractor.", "mel_trans.",
                          "log_trans.", "tscam_conv.", "head."}) {
      if (util::starts_with(rest, p)) return true;
    }
    return false;
  }
  std::vector<std::string> other;  // the text tower, temperatures
  switch (naming) {
    case WeightNaming::kHuggingFace:
      other = {"text_model.", "text_projection.", "logit_scale"};
      break;
    case WeightNaming::kWavCaps:
      other = {"text_encoder.", "text_proj.", "temp"};
      break;
    case WeightNaming::kLaion:
      other = {"text_branch.", "text_transform.", "text_projection", "transformer.", "token_embedding.",
               "positional_embedding", "ln_final.", "audio_transform.", "logit_scale"};
      break;
  }
  for (const std::string& p : other) {
    if (util::starts_with(name, p)) return true;
  }
  return false;
}

WeightNaming detect_clap_audio_naming(const PretrainedWeights& weights) {
  const std::vector<std::string> names = weights.names();
  for (WeightNaming naming : {WeightNaming::kHuggingFace, WeightNaming::kWavCaps, WeightNaming::kLaion}) {
    const std::string prefix = htsat_impl::encoder_prefix(naming);
    for (const std::string& name : names) {
      if (util::starts_with(name, prefix)) return naming;
    }
  }
  throw std::runtime_error(weights.path().string() +
                           ": no CLAP audio encoder tensors (audio_model.audio_encoder.*, audio_encoder.audio_enc.* "
                           "or audio_branch.*)");
}

void load_clap_audio_weights(ClapAudioModelImpl& model, const PretrainedWeights& weights, WeightNaming naming) {
  weights.load_mapped(
      model,
      [naming](const std::string& name) -> std::optional<PretrainedWeights::Source> {
        if (is_computed_clap_audio_tensor(name)) return std::nullopt;
        return clap_audio_file_name(name, naming);
      },
      [naming](const std::string& name) { return is_ignorable_clap_audio_file_tensor(name, naming); });
  model.eval();
}

ClapAudioModel load_clap_audio_model(const PretrainedWeights& weights, WeightNaming naming,
                                     const std::optional<HtsatConfig>& config) {
  ClapAudioModel model(config ? *config : HtsatConfig::infer_from_weights(weights, naming));
  load_clap_audio_weights(*model, weights, naming);
  return model;
}

std::vector<std::pair<std::string, torch::Tensor>> clap_audio_named_tensors(ClapAudioModelImpl& model,
                                                                            WeightNaming naming) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  std::map<std::string, std::vector<torch::Tensor>> fused;  // file name -> q, k, v
  std::map<std::string, size_t> fused_slot;
  auto add = [&](const std::string& name, const torch::Tensor& tensor) {
    const auto source = clap_audio_file_name(name, naming);
    if (!source) return;
    const torch::Tensor value = tensor.detach().to(torch::kCPU).contiguous();
    if (source->parts == 1) {
      out.emplace_back(source->name, value);
      return;
    }
    auto& parts = fused[source->name];
    if (parts.empty()) {
      fused_slot[source->name] = out.size();
      out.emplace_back(source->name, torch::Tensor());
      parts.resize(static_cast<size_t>(source->parts));
    }
    parts[static_cast<size_t>(source->part)] = value;
  };
  for (const auto& item : model.named_parameters(/*recurse=*/true)) add(item.key(), item.value());
  for (const auto& item : model.named_buffers(/*recurse=*/true)) add(item.key(), item.value());
  for (auto& [name, parts] : fused) out[fused_slot[name]].second = torch::cat(parts, 0);
  return out;
}

}  // namespace avgzsl::encoders
