// The CLAP audio encoder (HTSAT + projection): self-contained checks on tiny random models
// (shapes, determinism, batch independence, unit norm, windows and masks, the three checkpoint
// layouts, strict loading, configs, fusion, the encoder from a model folder), and parity with the
// golden tiny models (../shared/data/golden/clap: WavCaps HTSAT, LAION HTSAT and its Hugging Face
// port; skipped when absent).
#include "avgzsl/encoders/clap/clap_audio_encoder.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>


#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>

#include "avgzsl/io/safetensors.h"
#include "avgzsl/media/video_decoder.h"
#include "avgzsl/encoders/clap/htsat.h"
#include "avgzsl/encoders/pretrained_weights.h"
#include "golden_data.h"
#include "error_text.h"
#include "temp_dir.h"
#include "test_support.h"

namespace avgzsl::encoders {
namespace {
namespace clap_audio_test {

namespace fs = std::filesystem;
using testing::golden_clap_dir;

using testing::TempDir;

// 16 mels, a 64x64 image: grids 16, 8, 4 with window 4 (the last stage unshifted).
encoders::HtsatConfig tiny_config() {
  encoders::HtsatConfig c;
  c.num_mel_bins = 16;
  c.spec_size = 64;
  c.patch_size = 4;
  c.patch_stride = {4, 4};
  c.embed_dim = 4;
  c.depths = {2, 2, 2};
  c.num_heads = {1, 2, 2};
  c.window_size = 4;
  c.projection_dim = 8;
  return c;
}

// The released models' geometry (64 mels, 256x256, window 8, 4 stages) with tiny widths.
encoders::HtsatConfig tiny_wide_grid_config() {
  encoders::HtsatConfig c;
  c.embed_dim = 4;
  c.depths = {2, 2, 2, 2};
  c.num_heads = {1, 1, 2, 2};
  c.projection_dim = 6;
  return c;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Random weights and statistics, seeded; LayerNorm scales near 1, BatchNorm like dB log-mels.
void randomize(torch::nn::Module& module, uint64_t seed) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(seed);
  for (auto& p : module.named_parameters()) {
    torch::Tensor& t = p.value();
    const bool scale = t.dim() == 1 && ends_with(p.key(), ".weight") &&
                       (p.key().find("norm") != std::string::npos || p.key().find("_att.") != std::string::npos);
    t.copy_(scale ? 1 + 0.1 * torch::randn(t.sizes()) : 0.3 * torch::randn(t.sizes()));
  }
  for (auto& b : module.named_buffers()) {
    if (ends_with(b.key(), "running_mean")) b.value().copy_(-20 + 10 * torch::randn(b.value().sizes()));
    if (ends_with(b.key(), "running_var")) b.value().copy_(100 + 50 * torch::rand(b.value().sizes()));
  }
}

encoders::ClapAudioModel tiny_model(const encoders::HtsatConfig& c = tiny_config(), uint64_t seed = 0) {
  encoders::ClapAudioModel model(c);
  randomize(*model, seed);
  model->eval();
  return model;
}

torch::Tensor random_log_mel(int64_t batch, int64_t frames, int64_t mels, uint64_t seed = 1, int64_t channels = 1) {
  torch::manual_seed(seed);
  return -40 + 15 * torch::randn({batch, channels, frames, mels});
}

double max_diff(const torch::Tensor& a, const torch::Tensor& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

void expect_one_line_error(const std::string& message, const std::vector<std::string>& parts) {
  EXPECT_FALSE(message.empty()) << "no error";
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  for (const auto& p : parts) EXPECT_NE(message.find(p), std::string::npos) << "'" << p << "' not in: " << message;
}

io::NamedTensors exported(encoders::ClapAudioModel& model, encoders::WeightNaming naming) { return encoders::clap_audio_named_tensors(*model, naming); }

void erase(io::NamedTensors& tensors, const std::string& name) {
  const auto it = std::find_if(tensors.begin(), tensors.end(), [&](const auto& t) { return t.first == name; });
  ASSERT_NE(it, tensors.end()) << name;
  tensors.erase(it);
}

torch::Tensor& find(io::NamedTensors& tensors, const std::string& name) {
  for (auto& t : tensors) {
    if (t.first == name) return t.second;
  }
  throw std::runtime_error("no tensor " + name);
}

bool has(const io::NamedTensors& tensors, const std::string& name) {
  return std::any_of(tensors.begin(), tensors.end(), [&](const auto& t) { return t.first == name; });
}

// A Hugging Face CLAP folder the audio encoder reads (tokenizer files are placeholders).
void write_hf_folder(const fs::path& dir, encoders::ClapAudioModel& model, const nlohmann::json* preprocessor) {
  fs::create_directories(dir);
  nlohmann::json config = model->config().to_hf_json();
  config["text_config"] = {{"model_type", "clap_text_model"}};
  std::ofstream(dir / "config.json") << config.dump(2);
  std::ofstream(dir / "vocab.json") << "{}";
  std::ofstream(dir / "merges.txt") << "#version: 0.2\n";
  if (preprocessor) std::ofstream(dir / "preprocessor_config.json") << preprocessor->dump(2);
  io::save_safetensors(dir / "model.safetensors", encoders::clap_audio_named_tensors(*model, encoders::WeightNaming::kHuggingFace));
}

nlohmann::json tiny_preprocessor() {
  return {{"feature_extractor_type", "ClapFeatureExtractor"},
          {"feature_size", 16},
          {"sampling_rate", 8000},
          {"hop_length", 40},
          {"max_length_s", 1},
          {"fft_window_size", 128},
          {"frequency_min", 50},
          {"frequency_max", 4000},
          {"top_db", nullptr},
          {"truncation", "rand_trunc"},
          {"padding", "repeatpad"}};
}

std::vector<float> test_tone(int64_t samples, double freq, int rate) {
  std::vector<float> out(static_cast<size_t>(samples));
  for (int64_t n = 0; n < samples; ++n) out[n] = static_cast<float>(0.3 * std::sin(2 * 3.141592653589793 * freq * n / rate));
  return out;
}

std::vector<std::vector<float>> golden_waveforms(const fs::path& folder, int rate) {
  std::vector<std::vector<float>> out;
  for (const char* name : {"sine440_half", "noise", "chirp"}) {
    auto wav = media::decode_audio_mono(folder / "audio" / (std::string(name) + ".flac"), rate);
    EXPECT_TRUE(wav.has_value()) << name;
    out.push_back(wav.value_or(std::vector<float>{}));
  }
  return out;
}

// ---- tiny random models ----

TEST(ClapAudioModel, ShapesUnitNormAndDeterminism) {
  encoders::ClapAudioModel model = tiny_model();
  torch::NoGradGuard no_grad;
  const torch::Tensor mel = random_log_mel(3, 201, 16);
  const torch::Tensor pooled = model->audio_encoder(mel);
  EXPECT_EQ(pooled.sizes(), (std::vector<int64_t>{3, 16}));
  const torch::Tensor a = model->embed(mel), b = model->embed(mel);
  EXPECT_EQ(a.sizes(), (std::vector<int64_t>{3, 8}));
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_LT(max_diff(a.norm(2, 1), torch::ones({3})), 1e-5);
  // Different clips give different embeddings.
  EXPECT_GT(max_diff(a[0], a[1]), 1e-3);
  // The longest input needs no resize; longer ones are refused.
  EXPECT_EQ(model->embed(random_log_mel(1, 256, 16)).sizes(), (std::vector<int64_t>{1, 8}));
  EXPECT_THROW(model->embed(random_log_mel(1, 257, 16)), c10::Error);
  EXPECT_THROW(model->embed(random_log_mel(1, 100, 15)), c10::Error);
  EXPECT_THROW(model->embed(random_log_mel(1, 100, 16, 1, 2)), c10::Error);
  EXPECT_THROW(model->embed(mel, torch::ones({3}, torch::kBool)), c10::Error);  // no fusion
}

TEST(ClapAudioModel, BatchIndependence) {
  encoders::ClapAudioModel model = tiny_model();
  torch::NoGradGuard no_grad;
  const torch::Tensor mel = random_log_mel(3, 180, 16, 7);
  const torch::Tensor batch = model->embed(mel);
  for (int64_t i = 0; i < 3; ++i) EXPECT_LT(max_diff(model->embed(mel.narrow(0, i, 1))[0], batch[i]), 1e-5) << i;
}

TEST(ClapAudioModel, ChunkedCpuForwardEqualsWholeBatch) {
  encoders::ClapAudioModel model = tiny_model();
  torch::NoGradGuard no_grad;
  const torch::Tensor mel = random_log_mel(5, 100, 16, 4);
  EXPECT_GE(model->audio_encoder->cpu_chunk_rows(), 5);  // tiny: no chunking
  const torch::Tensor whole = model->embed(mel);
  model->audio_encoder->set_cpu_chunk_rows(2);
  EXPECT_EQ(model->audio_encoder->cpu_chunk_rows(), 2);
  EXPECT_LT(max_diff(model->embed(mel), whole), 1e-5);
  model->audio_encoder->set_cpu_chunk_rows(0);
  EXPECT_GE(model->audio_encoder->cpu_chunk_rows(), 5);
  // HTSAT base runs 2 clips at a time (its first-stage MLP activation is 6 MB a clip).
  encoders::HtsatConfig base;
  EXPECT_EQ(encoders::HtsatAudioEncoder(base)->cpu_chunk_rows(), 2);
}

TEST(ClapAudioModel, WindowsShiftsAndMasks) {
  encoders::ClapAudioModel model = tiny_model();
  const auto& layers = *model->audio_encoder->layers;
  ASSERT_EQ(layers.size(), 3u);
  const std::vector<int64_t> windows = {4, 4, 4}, shifts = {2, 2, 0};
  for (size_t s = 0; s < 3; ++s) {
    const auto& blocks = *layers[s]->as<encoders::HtsatStage>()->blocks;
    ASSERT_EQ(blocks.size(), 2u);
    const auto* even = blocks[0]->as<encoders::HtsatBlock>();
    const auto* odd = blocks[1]->as<encoders::HtsatBlock>();
    EXPECT_EQ(even->shift(), 0);
    EXPECT_EQ(odd->shift(), shifts[s]) << "stage " << s;
    EXPECT_EQ(odd->window(), windows[s]);
    EXPECT_EQ(odd->attn_mask.defined(), shifts[s] > 0);
    EXPECT_EQ(static_cast<bool>(layers[s]->as<encoders::HtsatStage>()->downsample), s < 2);
  }
  // Stage 0: a 16x16 grid of 4x4 windows (16 windows); interior windows are unmasked, the last
  // row/column of windows mixes wrapped-around regions (-100).
  const torch::Tensor mask = layers[0]->as<encoders::HtsatStage>()->blocks[1]->as<encoders::HtsatBlock>()->attn_mask;
  ASSERT_EQ(mask.sizes(), (std::vector<int64_t>{16, 16, 16}));
  EXPECT_TRUE(((mask == 0) | (mask == -100)).all().item<bool>());
  EXPECT_TRUE((mask[0] == 0).all().item<bool>());
  EXPECT_TRUE((mask[3] == -100).any().item<bool>());
  EXPECT_TRUE((mask[12] == -100).any().item<bool>());
  EXPECT_TRUE((mask[15] == -100).any().item<bool>());
  // The relative position index of a 4x4 window: 7x7 offsets, 0 at (-3, -3), 24 on the diagonal.
  const torch::Tensor index = layers[0]->as<encoders::HtsatStage>()->blocks[0]->as<encoders::HtsatBlock>()->attention->self_attention->relative_position_index;
  EXPECT_EQ(index.sizes(), (std::vector<int64_t>{16, 16}));
  EXPECT_TRUE((index.diagonal() == 24).all().item<bool>());
  EXPECT_EQ(index[0][15].item<int64_t>(), 0);
  EXPECT_EQ(index[15][0].item<int64_t>(), 48);
}

TEST(ClapAudioWeights, ExportNamesPerLayout) {
  encoders::ClapAudioModel model = tiny_model();
  const io::NamedTensors hf = exported(model, encoders::WeightNaming::kHuggingFace);
  const io::NamedTensors wc = exported(model, encoders::WeightNaming::kWavCaps);
  const io::NamedTensors la = exported(model, encoders::WeightNaming::kLaion);
  for (const auto& [name, t] : hf) {
    EXPECT_TRUE(name.rfind("audio_model.audio_encoder.", 0) == 0 || name.rfind("audio_projection.linear", 0) == 0) << name;
    EXPECT_EQ(name.find("attn_mask"), std::string::npos) << name;
  }
  EXPECT_TRUE(has(hf, "audio_model.audio_encoder.layers.0.blocks.1.attention.self.query.weight"));
  EXPECT_TRUE(has(hf, "audio_model.audio_encoder.layers.0.blocks.1.attention.self.relative_position_index"));
  EXPECT_TRUE(has(hf, "audio_model.audio_encoder.layers.1.blocks.0.layernorm_before.bias"));
  EXPECT_TRUE(has(hf, "audio_model.audio_encoder.layers.1.blocks.0.output.dense.weight"));
  EXPECT_TRUE(has(hf, "audio_model.audio_encoder.batch_norm.running_var"));
  EXPECT_TRUE(has(hf, "audio_projection.linear2.bias"));
  EXPECT_TRUE(has(wc, "audio_encoder.audio_enc.bn0.running_mean"));
  EXPECT_TRUE(has(wc, "audio_encoder.audio_enc.layers.0.blocks.1.attn_mask"));
  EXPECT_TRUE(has(wc, "audio_encoder.audio_enc.layers.2.blocks.0.mlp.fc2.weight"));
  EXPECT_TRUE(has(wc, "audio_encoder.audio_enc.layers.2.blocks.0.attn.proj.weight"));
  EXPECT_TRUE(has(wc, "audio_encoder.audio_enc.layers.2.blocks.0.norm2.weight"));
  EXPECT_TRUE(has(wc, "audio_encoder.audio_enc.layers.0.downsample.reduction.weight"));
  EXPECT_TRUE(has(wc, "audio_proj.0.weight"));
  EXPECT_TRUE(has(wc, "audio_proj.2.bias"));
  EXPECT_FALSE(has(wc, "audio_encoder.audio_enc.layers.0.blocks.0.attn.query.weight"));
  EXPECT_TRUE(has(la, "audio_branch.layers.0.blocks.0.attn.qkv.bias"));
  EXPECT_TRUE(has(la, "audio_projection.0.weight"));
  // qkv = [query; key; value] along dim 0.
  io::NamedTensors wc_copy = wc, hf_copy = hf;
  const std::string b = "layers.1.blocks.1.";
  const torch::Tensor qkv = find(wc_copy, "audio_encoder.audio_enc." + b + "attn.qkv.weight");
  EXPECT_EQ(qkv.sizes(), (std::vector<int64_t>{24, 8}));
  const torch::Tensor expected = torch::cat({find(hf_copy, "audio_model.audio_encoder." + b + "attention.self.query.weight"),
                                             find(hf_copy, "audio_model.audio_encoder." + b + "attention.self.key.weight"),
                                             find(hf_copy, "audio_model.audio_encoder." + b + "attention.self.value.weight")});
  EXPECT_TRUE(torch::equal(qkv, expected));
  // Both keep relative_position_index; WavCaps fuses q/k/v (6 weights and biases -> 2 per block,
  // 6 blocks) and adds the attention masks of the 2 shifted blocks.
  EXPECT_EQ(hf.size() - 4 * 6 + 2, wc.size());
  EXPECT_EQ(la.size(), wc.size());
}

TEST(ClapAudioWeights, EveryLayoutRoundTripsToIdenticalOutputs) {
  encoders::ClapAudioModel model = tiny_model();
  torch::NoGradGuard no_grad;
  const torch::Tensor mel = random_log_mel(2, 150, 16);
  const torch::Tensor expected = model->forward(mel);
  TempDir tmp;
  for (encoders::WeightNaming naming : {encoders::WeightNaming::kHuggingFace, encoders::WeightNaming::kWavCaps, encoders::WeightNaming::kLaion}) {
    const fs::path file = tmp / (to_string(naming) + ".safetensors");
    io::save_safetensors(file, exported(model, naming));
    const encoders::PretrainedWeights weights(file);
    EXPECT_EQ(encoders::detect_clap_audio_naming(weights), naming);
    encoders::ClapAudioModel loaded = encoders::load_clap_audio_model(weights, naming, tiny_config());
    EXPECT_TRUE(torch::equal(loaded->forward(mel), expected)) << to_string(naming);
  }
}

TEST(ClapAudioWeights, StrictLoaderErrorsNameFileAndTensor) {
  encoders::ClapAudioModel model = tiny_model();
  TempDir tmp;
  auto attempt = [&](encoders::WeightNaming naming, const std::function<void(io::NamedTensors&)>& edit) {
    io::NamedTensors tensors = exported(model, naming);
    edit(tensors);
    const fs::path file = tmp / "edited.safetensors";
    io::save_safetensors(file, tensors);
    return testing::error_message([&] { encoders::load_clap_audio_model(encoders::PretrainedWeights(file), naming, tiny_config()); });
  };
  const std::string file = (tmp / "edited.safetensors").string();
  const std::string norm = "audio_model.audio_encoder.norm.weight";
  expect_one_line_error(attempt(encoders::WeightNaming::kHuggingFace, [&](auto& t) { erase(t, norm); }), {file, "missing", norm});
  const std::string linear2 = "audio_projection.linear2.weight";
  expect_one_line_error(attempt(encoders::WeightNaming::kHuggingFace, [&](auto& t) { find(t, linear2) = torch::zeros({8, 7}); }),
                        {file, linear2, "[8, 7]", "[8, 8]"});
  const std::string extra = "audio_model.audio_encoder.layers.0.extra.weight";
  expect_one_line_error(attempt(encoders::WeightNaming::kHuggingFace, [&](auto& t) { t.emplace_back(extra, torch::zeros({2})); }),
                        {file, "unexpected", extra});
  expect_one_line_error(attempt(encoders::WeightNaming::kHuggingFace, [&](auto& t) { t.emplace_back("stray", torch::zeros({2})); }),
                        {file, "unexpected", "stray"});
  const std::string qkv = "audio_encoder.audio_enc.layers.0.blocks.0.attn.qkv.weight";
  expect_one_line_error(attempt(encoders::WeightNaming::kWavCaps, [&](auto& t) { find(t, qkv) = torch::zeros({11, 4}); }),
                        {file, qkv, "[11, 4]"});
  expect_one_line_error(attempt(encoders::WeightNaming::kWavCaps, [&](auto& t) { find(t, qkv) = torch::zeros({15, 4}); }),
                        {file, qkv, "[15, 4]"});
  expect_one_line_error(attempt(encoders::WeightNaming::kWavCaps, [&](auto& t) { erase(t, "audio_proj.2.bias"); }),
                        {file, "missing", "audio_proj.2.bias"});
  // What real checkpoints carry besides the audio tower loads quietly.
  EXPECT_EQ(attempt(encoders::WeightNaming::kHuggingFace,
                    [](auto& t) {
                      t.emplace_back("text_model.embeddings.word_embeddings.weight", torch::zeros({3, 2}));
                      t.emplace_back("text_projection.linear1.weight", torch::zeros({2, 2}));
                      t.emplace_back("logit_scale_a", torch::zeros({}));
                      t.emplace_back("logit_scale_t", torch::zeros({}));
                      t.emplace_back("text_model.embeddings.position_ids", torch::zeros({1, 3}, torch::kInt64));
                    }),
            "");
  EXPECT_EQ(attempt(encoders::WeightNaming::kWavCaps,
                    [](auto& t) {
                      t.emplace_back("temp", torch::zeros({}));
                      t.emplace_back("text_encoder.text_encoder.embeddings.word_embeddings.weight", torch::zeros({3, 2}));
                      t.emplace_back("text_proj.0.weight", torch::zeros({2, 2}));
                      t.emplace_back("audio_encoder.audio_enc.audio_feats_extractor.mel_trans.stft.conv_real.weight",
                                     torch::zeros({3, 1, 4}));
                      t.emplace_back("audio_encoder.audio_enc.audio_feats_extractor.log_trans.melW", torch::zeros({3, 2}));
                      t.emplace_back("audio_encoder.audio_enc.tscam_conv.weight", torch::zeros({2, 2, 1, 1}));
                      t.emplace_back("audio_encoder.audio_enc.head.weight", torch::zeros({2, 2}));
                    }),
            "");
  EXPECT_EQ(attempt(encoders::WeightNaming::kLaion,
                    [](auto& t) {
                      t.emplace_back("audio_branch.spectrogram_extractor.stft.conv_real.weight", torch::zeros({3, 1, 4}));
                      t.emplace_back("audio_branch.logmel_extractor.melW", torch::zeros({3, 2}));
                      t.emplace_back("text_branch.embeddings.word_embeddings.weight", torch::zeros({3, 2}));
                      t.emplace_back("text_projection.0.weight", torch::zeros({2, 2}));
                      t.emplace_back("audio_transform.sequential.0.weight", torch::zeros({2, 2}));
                      t.emplace_back("logit_scale_a", torch::zeros({}));
                    }),
            "");
  // A file without any audio tower.
  io::save_safetensors(tmp / "text.safetensors", {{"text_model.x", torch::zeros({1})}});
  expect_one_line_error(testing::error_message([&] { encoders::detect_clap_audio_naming(encoders::PretrainedWeights(tmp / "text.safetensors")); }),
                        {(tmp / "text.safetensors").string(), "no CLAP audio encoder"});
}

TEST(ClapAudioWeights, ConfigInferredFromTensorShapes) {
  encoders::HtsatConfig c = tiny_wide_grid_config();
  c.mlp_ratio = 2.0;
  encoders::ClapAudioModel model = tiny_model(c);
  TempDir tmp;
  for (encoders::WeightNaming naming : {encoders::WeightNaming::kHuggingFace, encoders::WeightNaming::kWavCaps, encoders::WeightNaming::kLaion}) {
    io::save_safetensors(tmp / "w.safetensors", exported(model, naming));
    const encoders::HtsatConfig inferred = encoders::HtsatConfig::infer_from_weights(encoders::PretrainedWeights(tmp / "w.safetensors"), naming);
    EXPECT_EQ(inferred.embed_dim, 4);
    EXPECT_EQ(inferred.depths, c.depths);
    EXPECT_EQ(inferred.num_heads, c.num_heads);
    EXPECT_EQ(inferred.window_size, 8);
    EXPECT_EQ(inferred.num_mel_bins, 64);
    EXPECT_EQ(inferred.mlp_ratio, 2.0);
    EXPECT_EQ(inferred.projection_dim, 6);
    EXPECT_EQ(inferred.num_features(), 32);
    EXPECT_FALSE(inferred.enable_fusion);
    EXPECT_EQ(inferred.summary(), c.summary());
  }
}

TEST(ClapAudioConfig, HuggingFaceJson) {
  // transformers' defaults: laion/clap-htsat-* sizes.
  const encoders::HtsatConfig d = encoders::HtsatConfig::from_hf_json({{"model_type", "clap"}}, "config.json");
  EXPECT_EQ(d.embed_dim, 96);
  EXPECT_EQ(d.depths, (std::vector<int64_t>{2, 2, 6, 2}));
  EXPECT_EQ(d.num_heads, (std::vector<int64_t>{4, 8, 16, 32}));
  EXPECT_EQ(d.num_features(), 768);
  EXPECT_EQ(d.projection_dim, 512);
  EXPECT_EQ(d.max_frames(), 1024);
  // The top-level projection settings win over the audio config's (ClapConfig overwrites them).
  const nlohmann::json j = {{"model_type", "clap"},
                            {"projection_dim", 16},
                            {"audio_config",
                             {{"projection_dim", 99},
                              {"patch_embeds_hidden_size", 6},
                              {"num_attention_heads", {2, 3, 4, 6}},
                              {"hidden_size", 48}}}};
  EXPECT_EQ(encoders::HtsatConfig::from_hf_json(j, "c").projection_dim, 16);
  // Round trip.
  encoders::HtsatConfig c = tiny_config();
  c.hidden_act = "gelu_new";
  c.projection_act = "gelu";
  const encoders::HtsatConfig back = encoders::HtsatConfig::from_hf_json(c.to_hf_json(), "c");
  EXPECT_EQ(back.summary(), c.summary());
  EXPECT_EQ(back.hidden_act, "gelu_new");
  EXPECT_EQ(back.spec_size, 64);
  EXPECT_EQ(back.patch_stride, c.patch_stride);
  // Errors name the source and the field.
  nlohmann::json bad = c.to_hf_json();
  bad["audio_config"]["hidden_size"] = 17;
  expect_one_line_error(testing::error_message([&] { encoders::HtsatConfig::from_hf_json(bad, "cfg.json"); }), {"cfg.json", "hidden_size"});
  bad = c.to_hf_json();
  bad["audio_config"]["num_attention_heads"] = {1, 3, 2};
  expect_one_line_error(testing::error_message([&] { encoders::HtsatConfig::from_hf_json(bad, "cfg.json"); }), {"cfg.json", "heads"});
  bad = c.to_hf_json();
  bad["audio_config"]["depths"] = "two";
  expect_one_line_error(testing::error_message([&] { encoders::HtsatConfig::from_hf_json(bad, "cfg.json"); }), {"cfg.json", "depths"});
  bad = c.to_hf_json();
  bad["audio_config"]["enable_fusion"] = true;
  bad["audio_config"]["fusion_type"] = "channel_map";
  expect_one_line_error(testing::error_message([&] { encoders::HtsatConfig::from_hf_json(bad, "cfg.json"); }), {"cfg.json", "channel_map"});
}

TEST(ClapAudioFusion, GlobalPathForShortClipsAndFusionForLongOnes) {
  encoders::HtsatConfig c = tiny_config();
  c.enable_fusion = true;
  c.fusion_type = "aff_2d";
  c.aff_block_r = 2;
  encoders::ClapAudioModel fused = tiny_model(c, 5);
  torch::NoGradGuard no_grad;
  // Channels 1-3 (the local crops) are not looked at for rows that are not longer.
  const torch::Tensor mel4 = random_log_mel(3, 256, 16, 9, 4);
  const torch::Tensor global = mel4.narrow(1, 0, 1).contiguous();
  const torch::Tensor short_rows = fused->embed(mel4, torch::zeros({3}, torch::kBool));
  EXPECT_LT(max_diff(short_rows, fused->embed(global)), 1e-6);
  // The same as the unfused model with the shared weights.
  encoders::ClapAudioModel plain(tiny_config());
  {
    auto source = fused->named_parameters();
    for (auto& p : plain->named_parameters()) p.value().copy_(source[p.key()]);
    auto buffers = fused->named_buffers();
    for (auto& b : plain->named_buffers()) b.value().copy_(buffers[b.key()]);
    plain->eval();
  }
  EXPECT_LT(max_diff(plain->embed(global), short_rows), 1e-6);
  // A longer row goes through mel_conv2d + AFF; the others are unchanged.
  const torch::Tensor mixed = fused->embed(mel4, torch::tensor({false, true, false}));
  EXPECT_GT(max_diff(mixed[1], short_rows[1]), 1e-4);
  EXPECT_LT(max_diff(mixed[0], short_rows[0]), 1e-5);
  EXPECT_LT(max_diff(mixed[2], short_rows[2]), 1e-5);
  EXPECT_THROW(fused->embed(global, torch::tensor({false, true, false})), c10::Error);
  // Fused checkpoints: the extra tensors have HF/LAION names, and the config is recognised.
  const io::NamedTensors hf = exported(fused, encoders::WeightNaming::kHuggingFace);
  EXPECT_TRUE(has(hf, "audio_model.audio_encoder.patch_embed.mel_conv2d.weight"));
  EXPECT_TRUE(has(hf, "audio_model.audio_encoder.patch_embed.fusion_model.local_att.0.weight"));
  EXPECT_TRUE(has(hf, "audio_model.audio_encoder.patch_embed.fusion_model.local_att.4.running_var"));
  EXPECT_TRUE(has(hf, "audio_model.audio_encoder.patch_embed.fusion_model.global_att.1.weight"));
  EXPECT_TRUE(has(hf, "audio_model.audio_encoder.patch_embed.fusion_model.global_att.5.bias"));
  TempDir tmp;
  for (encoders::WeightNaming naming : {encoders::WeightNaming::kHuggingFace, encoders::WeightNaming::kLaion}) {
    io::save_safetensors(tmp / "f.safetensors", exported(fused, naming));
    const encoders::PretrainedWeights weights(tmp / "f.safetensors");
    const encoders::HtsatConfig inferred = encoders::HtsatConfig::infer_from_weights(weights, naming);
    EXPECT_TRUE(inferred.enable_fusion);
    EXPECT_EQ(inferred.aff_block_r, 2);
    encoders::ClapAudioModel loaded = encoders::load_clap_audio_model(weights, naming, c);
    EXPECT_TRUE(torch::equal(loaded->embed(mel4, torch::tensor({false, true, false})), mixed));
  }
}

TEST(ClapAudioEncoderFolder, HuggingFaceFolderEmbedsWaveforms) {
  TempDir tmp;
  encoders::ClapAudioModel model = tiny_model();
  const nlohmann::json pre = tiny_preprocessor();
  const fs::path dir = tmp / "tiny-clap";
  write_hf_folder(dir, model, &pre);
  encoders::ClapAudioEncoder encoder(dir);
  EXPECT_EQ(encoder.sample_rate(), 8000);
  EXPECT_EQ(encoder.clip_samples(), 8000);
  EXPECT_EQ(encoder.embedding_dim(), 8);
  EXPECT_EQ(encoder.padding(), encoders::ClipPadding::kRepeatThenZeros);
  EXPECT_EQ(encoder.front_end().n_mels, 16);
  EXPECT_NE(encoder.fingerprint().find("tiny-clap"), std::string::npos) << encoder.fingerprint();
  EXPECT_NE(encoder.fingerprint().find("hugging_face"), std::string::npos) << encoder.fingerprint();

  const std::vector<std::vector<float>> clips = {test_tone(3000, 440, 8000), test_tone(8000, 1000, 8000),
                                                 test_tone(20001, 300, 8000)};
  const torch::Tensor batch = encoder.embed(clips);
  ASSERT_EQ(batch.sizes(), (std::vector<int64_t>{3, 8}));
  EXPECT_EQ(batch.device().type(), torch::kCPU);
  EXPECT_LT(max_diff(batch.norm(2, 1), torch::ones({3})), 1e-5);
  EXPECT_TRUE(torch::equal(encoder.embed_log_mel(encoder.log_mel(clips)), batch));
  for (size_t i = 0; i < clips.size(); ++i) {
    EXPECT_LT(max_diff(encoder.embed({clips[i]})[0], batch[static_cast<int64_t>(i)]), 1e-5) << i;
  }
  // Short clips are repeat-padded, long ones cropped around their centre.
  const auto padded = encoders::fit_clip_length(clips[0], 8000, encoders::ClipPadding::kRepeatThenZeros);
  EXPECT_LT(max_diff(encoder.embed({padded})[0], batch[0]), 1e-6);
  const std::vector<float> centre(clips[2].begin() + (20001 / 2 - 4000), clips[2].begin() + (20001 / 2 + 4000));
  EXPECT_LT(max_diff(encoder.embed({centre})[0], batch[2]), 1e-6);
  EXPECT_EQ(encoder.embed({}).sizes(), (std::vector<int64_t>{0, 8}));
  // The output is an ordinary tensor the caller may modify.
  torch::Tensor out = encoder.embed({clips[1]});
  out.mul_(2);

  // Without preprocessor_config.json the HF defaults apply (48 kHz, 64 mels), which this 16-mel
  // model cannot take: a clear error.
  fs::remove(dir / "preprocessor_config.json");
  expect_one_line_error(testing::error_message([&] { encoders::ClapAudioEncoder again(dir); }), {"64 mel bins", "16"});
  // Unsupported feature-extractor settings are refused.
  nlohmann::json bad = pre;
  bad["top_db"] = 80;
  std::ofstream(dir / "preprocessor_config.json") << bad.dump();
  expect_one_line_error(testing::error_message([&] { encoders::ClapAudioEncoder again(dir); }), {"preprocessor_config.json", "top_db"});
  bad = pre;
  bad["padding"] = "mirror";
  std::ofstream(dir / "preprocessor_config.json") << bad.dump();
  expect_one_line_error(testing::error_message([&] { encoders::ClapAudioEncoder again(dir); }), {"preprocessor_config.json", "mirror"});
}

TEST(ClapAudioEncoderFolder, PaddingRulesFromThePreprocessorConfig) {
  TempDir tmp;
  encoders::ClapAudioModel model = tiny_model();
  for (const auto& [name, rule] : std::vector<std::pair<std::string, encoders::ClipPadding>>{
           {"pad", encoders::ClipPadding::kZerosAtEnd}, {"repeat", encoders::ClipPadding::kRepeat}, {"repeatpad", encoders::ClipPadding::kRepeatThenZeros}}) {
    nlohmann::json pre = tiny_preprocessor();
    pre["padding"] = name;
    const fs::path dir = tmp / name;
    write_hf_folder(dir, model, &pre);
    encoders::ClapAudioEncoder encoder(dir);
    EXPECT_EQ(encoder.padding(), rule) << name;
  }
  // "fusion" truncation means the HTK filters without normalisation.
  nlohmann::json pre = tiny_preprocessor();
  pre["truncation"] = "fusion";
  std::ofstream(tmp / "fusion.json") << pre.dump();
  const encoders::ClapAudioFrontEnd fe = encoders::ClapAudioFrontEnd::from_hf_preprocessor_file(tmp / "fusion.json");
  EXPECT_EQ(fe.log_mel.scale, encoders::MelScale::kHtk);
  EXPECT_EQ(fe.log_mel.norm, encoders::MelNorm::kNone);
}

// A torch.save checkpoint {"model": state_dict, "epoch": 3} in a WavCaps folder beside BERT's
// vocab.txt.
void write_checkpoint_folder(const fs::path& dir, const std::string& file, const io::NamedTensors& tensors) {
  fs::create_directories(dir);
  avgzsl::testing::save_torch_checkpoint(dir / file, tensors);
  std::ofstream(dir / "vocab.txt") << "[PAD]\n[UNK]\n[CLS]\n[SEP]\n";
}

TEST(ClapAudioEncoderFolder, WavCapsCheckpointWithInferredSizes) {
  TempDir tmp;
  encoders::ClapAudioModel model = tiny_model(tiny_wide_grid_config(), 11);
  io::NamedTensors tensors = exported(model, encoders::WeightNaming::kWavCaps);
  tensors.emplace_back("temp", torch::full({}, 0.07));
  tensors.emplace_back("text_proj.0.weight", torch::zeros({6, 5}));
  const fs::path dir = tmp / "wavcaps";
  write_checkpoint_folder(dir, "HTSAT_BERT_zero_shot.pt", tensors);
  encoders::ClapAudioEncoder encoder(dir);
  EXPECT_EQ(encoder.sample_rate(), 32000);
  EXPECT_EQ(encoder.clip_samples(), 320000);
  EXPECT_EQ(encoder.embedding_dim(), 6);
  EXPECT_EQ(encoder.padding(), encoders::ClipPadding::kZerosAtEnd);
  EXPECT_EQ(encoder.config().summary(), tiny_wide_grid_config().summary());
  EXPECT_NE(encoder.fingerprint().find("HTSAT_BERT_zero_shot.pt"), std::string::npos) << encoder.fingerprint();
  EXPECT_NE(encoder.fingerprint().find("wavcaps"), std::string::npos) << encoder.fingerprint();
  const std::vector<std::vector<float>> clips = {test_tone(64000, 440, 32000), test_tone(480000, 1000, 32000)};
  const torch::Tensor embeds = encoder.embed(clips);
  ASSERT_EQ(embeds.sizes(), (std::vector<int64_t>{2, 6}));
  // ClipClap's rule: zeros at the end, the centred 10 s of longer clips.
  std::vector<float> padded = clips[0];
  padded.resize(320000, 0.0f);
  const std::vector<float> centre(clips[1].begin() + 80000, clips[1].begin() + 400000);
  torch::NoGradGuard no_grad;
  const torch::Tensor direct = model->embed(torch::cat({encoders::log_mel_spectrogram(torch::tensor(padded).unsqueeze(0), encoder.front_end()),
                                                        encoders::log_mel_spectrogram(torch::tensor(centre).unsqueeze(0), encoder.front_end())}));
  EXPECT_LT(max_diff(embeds, direct), 1e-6);
  // The checkpoint path itself works too.
  EXPECT_TRUE(torch::equal(encoders::ClapAudioEncoder(dir / "HTSAT_BERT_zero_shot.pt").embed(clips), embeds));
  // A LAION-AI/CLAP checkpoint given the same way gets the 48 kHz front end.
  write_checkpoint_folder(tmp / "laion", "630k-audioset-best.pt", exported(model, encoders::WeightNaming::kLaion));
  encoders::ClapAudioEncoder laion(tmp / "laion");
  EXPECT_EQ(laion.sample_rate(), 48000);
  EXPECT_EQ(laion.padding(), encoders::ClipPadding::kRepeatThenZeros);
  // Shape errors in a checkpoint name it and the tensor.
  find(tensors, "audio_proj.0.weight") = torch::zeros({6, 31});
  write_checkpoint_folder(tmp / "broken", "HTSAT_BERT_zero_shot.pt", tensors);
  expect_one_line_error(testing::error_message([&] { encoders::ClapAudioEncoder broken(tmp / "broken"); }),
                        {"HTSAT_BERT_zero_shot.pt", "audio_proj.0.weight", "[6, 31]"});
}

// ---- golden tiny models ----

TEST(ClapAudioGolden, WavCapsHtsatFromGoldenLogMels) {
  const fs::path dir = golden_clap_dir() / "wavcaps_htsat_tiny";
  AVGZSL_SKIP_WITHOUT(dir);
  const encoders::PretrainedWeights weights(dir / "model.safetensors");
  ASSERT_EQ(encoders::detect_clap_audio_naming(weights), encoders::WeightNaming::kWavCaps);
  encoders::ClapAudioModel model = encoders::load_clap_audio_model(weights, encoders::WeightNaming::kWavCaps);
  const encoders::HtsatConfig& c = model->config();
  EXPECT_EQ(c.embed_dim, 6);
  EXPECT_EQ(c.depths, (std::vector<int64_t>{2, 2, 2, 2}));
  EXPECT_EQ(c.num_heads, (std::vector<int64_t>{2, 3, 4, 6}));
  EXPECT_EQ(c.window_size, 8);
  EXPECT_EQ(c.num_features(), 48);
  EXPECT_EQ(c.projection_dim, 12);
  const io::SafetensorsFile cases(dir / "cases.safetensors");
  torch::NoGradGuard no_grad;
  const torch::Tensor mel = cases.tensor("logmel", torch::kFloat32);
  const torch::Tensor pooled = model->audio_encoder(mel);
  const double d_pooled = max_diff(pooled, cases.tensor("htsat_embedding", torch::kFloat32));
  const double d_proj = max_diff(model->audio_projection(pooled), cases.tensor("audio_proj", torch::kFloat32));
  const double d_embeds = max_diff(model->embed(mel), cases.tensor("audio_embeds", torch::kFloat32));
  RecordProperty("htsat_embedding_max_abs_diff", testing::measured_difference(d_pooled));
  RecordProperty("audio_proj_max_abs_diff", testing::measured_difference(d_proj));
  RecordProperty("audio_embeds_max_abs_diff", testing::measured_difference(d_embeds));
  EXPECT_LT(d_pooled, 1e-4);
  EXPECT_LT(d_proj, 1e-4);
  EXPECT_LT(d_embeds, 1e-4);
}

TEST(ClapAudioGolden, WavCapsEndToEndFromFlac) {
  const fs::path dir = golden_clap_dir() / "wavcaps_htsat_tiny";
  AVGZSL_SKIP_WITHOUT(dir);
  const encoders::PretrainedWeights weights(dir / "model.safetensors");
  encoders::ClapAudioEncoder encoder(encoders::load_clap_audio_model(weights, encoders::WeightNaming::kWavCaps), encoders::ClapAudioFrontEnd::wavcaps(),
                           "wavcaps_htsat_tiny");
  const io::SafetensorsFile cases(dir / "cases.safetensors");
  const auto clips = golden_waveforms(dir, 32000);
  const torch::Tensor embeds = encoder.embed(clips);
  torch::NoGradGuard no_grad;
  const torch::Tensor pooled = encoder.model()->audio_encoder(encoder.log_mel(clips));
  const double d_embeds = max_diff(embeds, cases.tensor("audio_embeds", torch::kFloat32));
  const double d_pooled = max_diff(pooled, cases.tensor("htsat_embedding", torch::kFloat32));
  RecordProperty("e2e_audio_embeds_max_abs_diff", testing::measured_difference(d_embeds));
  RecordProperty("e2e_htsat_embedding_max_abs_diff", testing::measured_difference(d_pooled));
  EXPECT_LT(d_embeds, 2e-4);
  EXPECT_LT(d_pooled, 2e-4);
}

TEST(ClapAudioGolden, HuggingFaceHtsatFromGoldenInputFeatures) {
  const fs::path dir = golden_clap_dir() / "laion_htsat_tiny";
  AVGZSL_SKIP_WITHOUT(dir);
  const encoders::HtsatConfig config = encoders::HtsatConfig::from_hf_file(dir / "config.json");
  EXPECT_EQ(config.projection_dim, 16);
  const encoders::PretrainedWeights weights(dir / "model.safetensors");
  ASSERT_EQ(encoders::detect_clap_audio_naming(weights), encoders::WeightNaming::kHuggingFace);
  encoders::ClapAudioModel model = encoders::load_clap_audio_model(weights, encoders::WeightNaming::kHuggingFace, config);
  EXPECT_EQ(encoders::HtsatConfig::infer_from_weights(weights, encoders::WeightNaming::kHuggingFace).summary(), config.summary());
  const io::SafetensorsFile cases(dir / "cases.safetensors");
  torch::NoGradGuard no_grad;
  const torch::Tensor features = cases.tensor("input_features", torch::kFloat32);
  const torch::Tensor pooled = model->audio_encoder(features);
  const double d_pooled = max_diff(pooled, cases.tensor("hf_pooler_output", torch::kFloat32));
  const double d_proj = max_diff(model->forward(features), cases.tensor("hf_audio_embeds", torch::kFloat32));
  const double d_norm = max_diff(model->embed(features), cases.tensor("hf_audio_embeds_normalized", torch::kFloat32));
  RecordProperty("hf_pooler_output_max_abs_diff", testing::measured_difference(d_pooled));
  RecordProperty("hf_audio_embeds_max_abs_diff", testing::measured_difference(d_proj));
  RecordProperty("hf_audio_embeds_normalized_max_abs_diff", testing::measured_difference(d_norm));
  EXPECT_LT(d_pooled, 1e-4);
  EXPECT_LT(d_proj, 1e-4);
  EXPECT_LT(d_norm, 1e-4);
}

TEST(ClapAudioGolden, LaionNamedCheckpointMatchesItsHuggingFacePort) {
  const fs::path dir = golden_clap_dir() / "laion_htsat_tiny";
  AVGZSL_SKIP_WITHOUT(dir);
  const encoders::PretrainedWeights weights(dir / "laion_model.safetensors");
  ASSERT_EQ(encoders::detect_clap_audio_naming(weights), encoders::WeightNaming::kLaion);
  encoders::ClapAudioModel model = encoders::load_clap_audio_model(weights, encoders::WeightNaming::kLaion);  // sizes inferred
  EXPECT_EQ(model->config().summary(), encoders::HtsatConfig::from_hf_file(dir / "config.json").summary());
  const io::SafetensorsFile cases(dir / "cases.safetensors");
  torch::NoGradGuard no_grad;
  const torch::Tensor features = cases.tensor("input_features", torch::kFloat32);
  const double d_pooled = max_diff(model->audio_encoder(features), cases.tensor("hf_pooler_output", torch::kFloat32));
  const double d_norm = max_diff(model->embed(features), cases.tensor("hf_audio_embeds_normalized", torch::kFloat32));
  RecordProperty("laion_names_pooler_output_max_abs_diff", testing::measured_difference(d_pooled));
  RecordProperty("laion_names_embeds_normalized_max_abs_diff", testing::measured_difference(d_norm));
  EXPECT_LT(d_pooled, 1e-4);
  EXPECT_LT(d_norm, 1e-4);
  // End to end from the FLAC against LAION's own outputs (torchlibrosa front end inside).
  encoders::ClapAudioEncoder encoder(std::move(model), encoders::ClapAudioFrontEnd::hugging_face_default(false), "laion tiny");
  const auto clips = golden_waveforms(dir, 48000);
  const double d_e2e = max_diff(encoder.embed(clips), cases.tensor("laion_audio_embeds_normalized", torch::kFloat32));
  const double d_e2e_pooled =
      max_diff(encoder.model()->audio_encoder(encoder.log_mel(clips)), cases.tensor("laion_embedding", torch::kFloat32));
  RecordProperty("laion_e2e_embeds_max_abs_diff", testing::measured_difference(d_e2e));
  RecordProperty("laion_e2e_embedding_max_abs_diff", testing::measured_difference(d_e2e_pooled));
  EXPECT_LT(d_e2e, 2e-4);
  EXPECT_LT(d_e2e_pooled, 2e-4);
}

TEST(ClapAudioGolden, HuggingFaceFolderEndToEndFromFlac) {
  const fs::path golden = golden_clap_dir() / "laion_htsat_tiny";
  AVGZSL_SKIP_WITHOUT(golden);
  // The golden folder has no tokenizer; a copy with placeholder tokenizer files is a complete
  // Hugging Face folder.
  TempDir tmp;
  const fs::path dir = tmp / "laion_htsat_tiny";
  fs::create_directories(dir);
  for (const char* f : {"config.json", "preprocessor_config.json", "model.safetensors"}) fs::copy_file(golden / f, dir / f);
  std::ofstream(dir / "vocab.json") << "{}";
  std::ofstream(dir / "merges.txt") << "#version: 0.2\n";
  encoders::ClapAudioEncoder encoder(dir);
  EXPECT_EQ(encoder.sample_rate(), 48000);
  EXPECT_EQ(encoder.clip_samples(), 480000);
  EXPECT_EQ(encoder.embedding_dim(), 16);
  const io::SafetensorsFile cases(golden / "cases.safetensors");
  const auto clips = golden_waveforms(golden, 48000);
  const torch::Tensor embeds = encoder.embed(clips);
  torch::NoGradGuard no_grad;
  const double d_norm = max_diff(embeds, cases.tensor("hf_audio_embeds_normalized", torch::kFloat32));
  const double d_pooled =
      max_diff(encoder.model()->audio_encoder(encoder.log_mel(clips)), cases.tensor("hf_pooler_output", torch::kFloat32));
  RecordProperty("hf_e2e_embeds_max_abs_diff", testing::measured_difference(d_norm));
  RecordProperty("hf_e2e_pooler_max_abs_diff", testing::measured_difference(d_pooled));
  EXPECT_LT(d_norm, 2e-4);
  EXPECT_LT(d_pooled, 2e-4);
}

}  // namespace clap_audio_test
}  // namespace
}  // namespace avgzsl::encoders
