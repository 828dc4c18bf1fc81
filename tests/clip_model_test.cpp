// CLIP on LibTorch: parity with OpenAI's CLIP code on the golden tiny model
// (../shared/data/golden/clip/tiny_clip, skipped when absent), the real ViT-B/32 configuration,
// the strict loader, and self-contained checks on tiny models built here.
#include "avgzsl/encoders/clip/clip_model.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <fstream>

#include "avgzsl/io/safetensors.h"
#include "avgzsl/encoders/pretrained_weights.h"
#include "golden_data.h"
#include "test_support.h"

namespace avgzsl::encoders {
namespace {
namespace fs = std::filesystem;

using testing::golden_clip_dir;

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  return (a - b).abs().max().item<double>();
}

encoders::ClipConfig tiny_config() {
  encoders::ClipConfig c;
  c.projection_dim = 16;
  c.text.hidden_size = 12;
  c.text.intermediate_size = 24;
  c.text.num_attention_heads = 3;
  c.text.num_hidden_layers = 2;
  c.text.vocab_size = 50;
  c.text.max_position_embeddings = 20;
  c.text.eos_token_id = 49;
  c.vision.hidden_size = 16;
  c.vision.intermediate_size = 32;
  c.vision.num_attention_heads = 2;
  c.vision.num_hidden_layers = 2;
  c.vision.image_size = 32;
  c.vision.patch_size = 8;
  return c;
}

// Writes `model`'s tensors as a Hugging Face directory; `edit` may change the tensor list.
void write_model_dir(const fs::path& dir, encoders::ClipModel& model, const nlohmann::json& config,
                     const std::function<void(io::NamedTensors&)>& edit = {}) {
  fs::create_directories(dir);
  std::ofstream(dir / "config.json") << config.dump();
  io::NamedTensors tensors;
  for (const auto& p : model->named_parameters()) tensors.emplace_back(p.key(), p.value().detach().clone());
  if (edit) edit(tensors);
  io::save_safetensors(dir / "model.safetensors", tensors);
}

nlohmann::json tiny_config_json() {
  const encoders::ClipConfig c = tiny_config();
  auto tower = [](const encoders::ClipEncoderConfig& t) {
    return nlohmann::json{{"hidden_size", t.hidden_size},
                          {"intermediate_size", t.intermediate_size},
                          {"num_attention_heads", t.num_attention_heads},
                          {"num_hidden_layers", t.num_hidden_layers},
                          {"hidden_act", t.hidden_act},
                          {"layer_norm_eps", t.layer_norm_eps}};
  };
  nlohmann::json text = tower(c.text), vision = tower(c.vision);
  text["vocab_size"] = c.text.vocab_size;
  text["max_position_embeddings"] = c.text.max_position_embeddings;
  text["eos_token_id"] = c.text.eos_token_id;
  vision["image_size"] = c.vision.image_size;
  vision["patch_size"] = c.vision.patch_size;
  return {{"projection_dim", c.projection_dim}, {"text_config", text}, {"vision_config", vision}};
}

torch::Tensor tiny_ids() {
  // Rows end with the end-of-text id 49 at different places, then padding 0.
  return torch::tensor({{48, 5, 7, 49, 0, 0, 0, 0}, {48, 3, 3, 3, 3, 9, 49, 0}, {48, 49, 0, 0, 0, 0, 0, 0}},
                       torch::kInt64);
}

TEST(ClipGolden, TinyModelMatchesOpenAiClip) {
  const fs::path dir = golden_clip_dir() / "tiny_clip";
  AVGZSL_SKIP_WITHOUT(dir);
  torch::NoGradGuard no_grad;
  encoders::ClipModel model = encoders::load_clip_model(dir);
  const io::SafetensorsFile cases(dir / "cases.safetensors");
  const torch::Tensor pixels = cases.tensor("pixel_values");
  const torch::Tensor ids = cases.tensor("input_ids");

  const encoders::ClipTowerOutput vision = model->vision_model(pixels);
  EXPECT_LT(max_abs_diff(vision.last_hidden_state, cases.tensor("vision_last_hidden_state")), 1e-4);
  EXPECT_LT(max_abs_diff(vision.pooled, cases.tensor("vision_pooled_output")), 1e-4);
  const encoders::ClipTowerOutput text = model->text_model(ids);
  EXPECT_LT(max_abs_diff(text.last_hidden_state, cases.tensor("text_last_hidden_state")), 1e-4);
  EXPECT_LT(max_abs_diff(text.pooled, cases.tensor("text_pooled_output")), 1e-4);

  const torch::Tensor image_embeds = model->encode_image(pixels);
  const torch::Tensor text_embeds = model->encode_text(ids);
  EXPECT_LT(max_abs_diff(image_embeds, cases.tensor("image_embeds")), 1e-4);
  EXPECT_LT(max_abs_diff(text_embeds, cases.tensor("text_embeds")), 1e-4);
  EXPECT_LT(max_abs_diff(model->logits_per_image(image_embeds, text_embeds), cases.tensor("logits_per_image")), 1e-4);
  // The end-of-text positions the README lists.
  EXPECT_TRUE(torch::equal(model->text_model->end_of_text_positions(ids), torch::tensor({7, 10, 9, 10, 1, 76})));
}

TEST(ClipGolden, HalfPrecisionWeightsLoadAsFloat32) {
  const fs::path dir = golden_clip_dir() / "tiny_clip";
  AVGZSL_SKIP_WITHOUT(dir);
  testing::TempDir tmp;
  fs::create_directories(tmp / "f16");
  fs::copy_file(dir / "config.json", tmp / "f16/config.json");
  const io::SafetensorsFile original(dir / "model.safetensors");
  io::NamedTensors half;
  for (const std::string& name : original.names()) {
    half.emplace_back(name, original.tensor(name).to(name.find("layer_norm") != std::string::npos ? torch::kBFloat16
                                                                                                  : torch::kFloat16));
  }
  io::save_safetensors(tmp / "f16/model.safetensors", half);
  torch::NoGradGuard no_grad;
  const io::SafetensorsFile cases(dir / "cases.safetensors");
  const torch::Tensor embeds = encoders::load_clip_model(tmp / "f16")->encode_image(cases.tensor("pixel_values"));
  // float16 keeps ~3 decimal digits of each weight; the outputs (|x| <= 2.5) move by ~1e-2.
  EXPECT_LT(max_abs_diff(embeds, cases.tensor("image_embeds")), 5e-2);
}

TEST(ClipGolden, RealVitB32ConfigurationHasThePublishedParameterCount) {
  const fs::path config = golden_clip_dir() / "hf_clip_vit_base_patch32/config.json";
  AVGZSL_SKIP_WITHOUT(config);
  const encoders::ClipConfig c = encoders::ClipConfig::from_file(config);
  EXPECT_EQ(c.vision.patch_size, 32);
  EXPECT_EQ(c.text.eos_token_id, 2);  // the legacy value, handled by the argmax rule
  encoders::ClipModel model(c);
  EXPECT_EQ(nn::parameter_count(*model), 151277313);
  // With eos_token_id = 2 the end of text is the argmax of the ids (49407 is the largest id),
  // not the first id 2 (which is the token "#").
  const torch::Tensor ids = torch::tensor({{49406, 2, 320, 1929, 49407, 0}, {49406, 2, 2, 49407, 0, 0}}, torch::kInt64);
  EXPECT_TRUE(torch::equal(model->text_model->end_of_text_positions(ids), torch::tensor({4, 3})));
}

TEST(ClipModel, EncodeTextIgnoresPaddingAfterTheLastEndOfText) {
  torch::manual_seed(1);
  encoders::ClipModel model(tiny_config());
  model->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor ids = tiny_ids();
  const torch::Tensor full = model->text_projection(model->text_model(ids).pooled);
  EXPECT_LT(max_abs_diff(model->encode_text(ids), full), 1e-6);
}

TEST(ClipModel, OutputsDoNotDependOnTheBatch) {
  torch::manual_seed(2);
  encoders::ClipModel model(tiny_config());
  model->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor pixels = torch::randn({5, 3, 32, 32});
  const torch::Tensor batch = model->encode_image(pixels);
  for (int64_t i = 0; i < 5; ++i) {
    EXPECT_LT(max_abs_diff(model->encode_image(pixels.slice(0, i, i + 1)), batch.slice(0, i, i + 1)), 1e-5);
  }
  const torch::Tensor ids = tiny_ids();
  const torch::Tensor texts = model->encode_text(ids);
  for (int64_t i = 0; i < ids.size(0); ++i) {
    EXPECT_LT(max_abs_diff(model->encode_text(ids.slice(0, i, i + 1)), texts.slice(0, i, i + 1)), 1e-5);
  }
  EXPECT_TRUE(torch::equal(model->encode_image(pixels), batch));  // deterministic
}

TEST(ClipModel, LoadedDirectoryReproducesTheModel) {
  torch::manual_seed(3);
  encoders::ClipModel model(tiny_config());
  model->eval();
  testing::TempDir tmp;
  write_model_dir(tmp / "m", model, tiny_config_json());
  encoders::ClipModel loaded = encoders::load_clip_model(tmp / "m");
  torch::NoGradGuard no_grad;
  const torch::Tensor pixels = torch::randn({2, 3, 32, 32});
  EXPECT_TRUE(torch::equal(loaded->encode_image(pixels), model->encode_image(pixels)));
  EXPECT_TRUE(torch::equal(loaded->encode_text(tiny_ids()), model->encode_text(tiny_ids())));
}

std::string load_error(const fs::path& dir) {
  try {
    encoders::load_clip_model(dir);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

TEST(ClipModel, LoaderRefusesTensorsThatDoNotMatchTheConfig) {
  torch::manual_seed(4);
  encoders::ClipModel model(tiny_config());
  testing::TempDir tmp;
  const nlohmann::json config = tiny_config_json();
  auto drop = [](const std::string& name) {
    return [name](io::NamedTensors& t) {
      t.erase(std::remove_if(t.begin(), t.end(), [&](const auto& e) { return e.first == name; }), t.end());
    };
  };
  auto replace = [](const std::string& name, torch::Tensor value) {
    return [name, value](io::NamedTensors& t) {
      for (auto& e : t) {
        if (e.first == name) e.second = value;
      }
    };
  };
  struct Case {
    std::string dir;
    std::function<void(io::NamedTensors&)> edit;
    std::vector<std::string> expected_parts;
  };
  const std::vector<Case> cases = {
      {"missing", drop("text_projection.weight"), {"model.safetensors", "missing tensor 'text_projection.weight'"}},
      {"shape", replace("vision_model.encoder.layers.1.mlp.fc1.weight", torch::zeros({33, 16})),
       {"vision_model.encoder.layers.1.mlp.fc1.weight", "[33, 16]", "[32, 16]"}},
      {"dtype", replace("logit_scale", torch::tensor(3, torch::kInt64)), {"'logit_scale'", "dtype"}},
      {"extra",
       [](io::NamedTensors& t) { t.emplace_back("text_model.pooler.weight", torch::zeros({2})); },
       {"unexpected tensor 'text_model.pooler.weight'"}},
  };
  for (const Case& c : cases) {
    write_model_dir(tmp / c.dir, model, config, c.edit);
    const std::string error = load_error(tmp / c.dir);
    for (const std::string& part : c.expected_parts) EXPECT_NE(error.find(part), std::string::npos) << c.dir << ": " << error;
  }
  // Stale position_ids buffers (older transformers exports) are ignored.
  write_model_dir(tmp / "position_ids", model, config, [](io::NamedTensors& t) {
    t.emplace_back("text_model.embeddings.position_ids", torch::arange(20).unsqueeze(0));
  });
  EXPECT_EQ(load_error(tmp / "position_ids"), "");

  nlohmann::json bad = config;
  bad["vision_config"]["num_attention_heads"] = 3;
  write_model_dir(tmp / "heads", model, bad);
  EXPECT_NE(load_error(tmp / "heads").find("not divisible by num_attention_heads 3"), std::string::npos);
  bad = config;
  bad["text_config"]["hidden_act"] = "relu";
  write_model_dir(tmp / "act", model, bad);
  EXPECT_NE(load_error(tmp / "act").find("unsupported hidden_act 'relu'"), std::string::npos);
  EXPECT_NE(load_error(tmp / "absent").find("no such model directory"), std::string::npos);
  fs::create_directories(tmp / "empty");
  EXPECT_NE(load_error(tmp / "empty").find("config.json"), std::string::npos);
}

TEST(ClipModel, TextWithoutEndOfTextIsRefused) {
  encoders::ClipModel model(tiny_config());
  torch::NoGradGuard no_grad;
  EXPECT_THROW(model->encode_text(torch::tensor({{48, 5, 7}}, torch::kInt64)), c10::Error);
  EXPECT_THROW(model->encode_text(torch::tensor({{48, 50, 49}}, torch::kInt64)), c10::Error);  // id outside vocabulary
}

}  // namespace
}  // namespace avgzsl::encoders
