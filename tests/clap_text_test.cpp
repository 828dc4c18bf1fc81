// The CLAP text half: the BERT/RoBERTa transformer against an independent float64 reference
// (tests/fixtures/make_text_transformer_reference.py: no transformers where it was made, so it
// re-implements the published equations), the Hugging Face CLAP and WavCaps checkpoint loaders,
// and ClapTextEncoder (padding invariance, determinism, unit norm, one-line loader errors).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <fstream>
#include <functional>
#include <set>

#include "avgzsl/io/safetensors.h"
#include "avgzsl/encoders/clap/clap_text_encoder.h"
#include "avgzsl/encoders/pretrained_weights.h"
#include "avgzsl/encoders/clap/text_transformer.h"
#include "test_support.h"

namespace avgzsl::encoders {
namespace {
// Unity build: the other clap_test files share this translation unit.
namespace clap_text_test {
namespace fs = std::filesystem;
using nlohmann::json;

constexpr double kTolerance = 1e-5;

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  if (a.sizes() != b.sizes()) return 1e9;
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

const io::SafetensorsFile& reference() {
  static const io::SafetensorsFile file(testing::fixture_dir() / "text_transformer_reference.safetensors");
  return file;
}

json reference_metadata(const std::string& key) { return json::parse(reference().metadata().at(key)); }
torch::Tensor fixture_tensor(const std::string& name) { return reference().tensor(name); }

// The fixture's tensors under `from`, renamed to `to` + the rest of the name.
io::NamedTensors renamed(const std::string& from, const std::string& to, const std::set<std::string>& skip = {}) {
  io::NamedTensors out;
  for (const std::string& name : reference().names()) {
    if (name.rfind(from, 0) != 0) continue;
    const std::string rest = name.substr(from.size());
    if (skip.count(rest)) continue;
    out.emplace_back(to + rest, reference().tensor(name));
  }
  return out;
}

// Row r of a padded [B, L] id matrix without its padding, as a list.
std::vector<int64_t> row_ids(const torch::Tensor& ids, const torch::Tensor& mask, int64_t r) {
  std::vector<int64_t> out;
  for (int64_t t = 0; t < ids.size(1); ++t) {
    if (mask[r][t].item<int64_t>() != 0) out.push_back(ids[r][t].item<int64_t>());
  }
  return out;
}

std::vector<std::vector<int64_t>> rows_of(const std::string& family) {
  const torch::Tensor ids = fixture_tensor(family + "_input.ids"), mask = fixture_tensor(family + "_input.mask");
  std::vector<std::vector<int64_t>> rows;
  for (int64_t r = 0; r < ids.size(0); ++r) rows.push_back(row_ids(ids, mask, r));
  return rows;
}

encoders::TextTransformerConfig bert_reference_config() {
  return encoders::TextTransformerConfig::from_json(reference_metadata("bert_config"), encoders::TextTransformerConfig::bert_base_uncased(),
                                          "fixture bert_config");
}

encoders::ClapTextTowerConfig clap_reference_config() {
  return encoders::ClapTextTowerConfig::from_clap_json(reference_metadata("clap_config"), "fixture clap_config");
}

// Tiny tokenizer files: byte-level BPE vocabulary of the fixture's 40 ids, and a WordPiece vocab.
void write_roberta_vocab(const fs::path& dir) {
  json vocab = {{"<s>", 0}, {"<pad>", 1}, {"</s>", 2}, {"<unk>", 3}};
  int64_t id = 4;
  for (char c = 'a'; c <= 'z'; ++c) vocab[std::string(1, c)] = id++;
  vocab["\xc4\xa0"] = id++;  // "Ġ", the byte-level space
  vocab["."] = id++;
  vocab["<mask>"] = id++;
  std::ofstream(dir / "vocab.json") << vocab.dump();
  std::ofstream(dir / "merges.txt") << "#version: 0.2\n";
}

void write_wordpiece_vocab(const fs::path& dir) {
  std::ofstream out(dir / "vocab.txt");
  for (const char* token : {"[PAD]", "[unused0]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "dog", "cat", "bark", "##s",
                            "##ing", "sound", "of", "the", "can", "be", "heard", ".", "person", "playing", "guitar"}) {
    out << token << "\n";
  }
}

// A Hugging Face CLAP folder from the fixture's RoBERTa, with what a real checkpoint holds beside
// the text tower (audio tensors, logit scales, stale buffers). `edit` may change the tensors.
fs::path write_hf_clap_dir(const fs::path& dir, const std::function<void(io::NamedTensors&)>& edit = {},
                           json config = reference_metadata("clap_config")) {
  fs::create_directories(dir);
  std::ofstream(dir / "config.json") << config.dump();
  io::NamedTensors tensors = renamed("roberta.", encoders::kHfClapTextPrefix);
  for (auto& t : renamed("roberta_proj.", encoders::kHfClapProjectionPrefix)) tensors.push_back(std::move(t));
  const int64_t max_positions = config["text_config"].value("max_position_embeddings", 514);
  tensors.emplace_back("text_model.embeddings.position_ids", torch::arange(max_positions).unsqueeze(0));
  tensors.emplace_back("text_model.embeddings.token_type_ids", torch::zeros({1, max_positions}, torch::kInt64));
  tensors.emplace_back("audio_model.audio_encoder.patch_embed.proj.weight", torch::randn({4, 1, 4, 4}));
  tensors.emplace_back("audio_projection.linear1.weight", torch::randn({12, 8}));
  tensors.emplace_back("logit_scale_a", torch::tensor(2.0f));
  tensors.emplace_back("logit_scale_t", torch::tensor(2.0f));
  if (edit) edit(tensors);
  io::save_safetensors(dir / "model.safetensors", tensors);
  write_roberta_vocab(dir);
  return dir;
}

// The WavCaps text tower's tensors from the fixture's BERT (no pooler: add_pooling_layer=False),
// plus the stale position_ids buffer and audio tensors the text loader must not look at.
io::NamedTensors wavcaps_tensors() {
  io::NamedTensors tensors = renamed("bert.", encoders::kWavCapsTextPrefix, {"pooler.dense.weight", "pooler.dense.bias"});
  for (auto& t : renamed("bert_proj.", encoders::kWavCapsProjectionPrefix)) tensors.push_back(std::move(t));
  tensors.emplace_back("text_encoder.text_encoder.embeddings.position_ids", torch::arange(20).unsqueeze(0));
  tensors.emplace_back("audio_encoder.audio_enc.patch_embed.proj.weight", torch::randn({4, 1, 4, 4}));
  tensors.emplace_back("audio_proj.0.weight", torch::randn({12, 8}));
  tensors.emplace_back("audio_proj.0.bias", torch::randn({12}));
  tensors.emplace_back("temp", torch::tensor(0.07f));
  return tensors;
}

// A WavCaps folder: the checkpoint, BERT's vocab.txt and (with_config) BERT's config.json.
fs::path write_wavcaps_dir(const fs::path& dir, const std::function<void(io::NamedTensors&)>& edit = {},
                           bool with_config = true) {
  fs::create_directories(dir);
  io::NamedTensors tensors = wavcaps_tensors();
  if (edit) edit(tensors);
  testing::save_torch_checkpoint(dir / "HTSAT_BERT_zero_shot.pt", tensors);
  write_wordpiece_vocab(dir);
  if (with_config) std::ofstream(dir / "config.json") << reference_metadata("bert_config").dump();
  return dir;
}

// The error `make` throws, checked to be one line naming `file` and `tensor_or_field`.
template <typename F>
void expect_one_line_error(F&& make, const fs::path& file, const std::string& tensor_or_field) {
  try {
    make();
    FAIL() << "no error; expected one naming " << tensor_or_field;
  } catch (const std::exception& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(file.string()), std::string::npos) << message;
    EXPECT_NE(message.find(tensor_or_field), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

void expect_unit_rows(const torch::Tensor& embeddings) {
  const torch::Tensor norms = embeddings.norm(2, -1);
  EXPECT_LT((norms - 1).abs().max().item<double>(), 1e-5);
}

// --- configuration ------------------------------------------------------------------------------

TEST(ClapTextConfig, DefaultsAreTransformers) {
  const encoders::TextTransformerConfig bert = encoders::TextTransformerConfig::bert_base_uncased();
  EXPECT_EQ(bert.vocab_size, 30522);
  EXPECT_EQ(bert.hidden_size, 768);
  EXPECT_EQ(bert.num_hidden_layers, 12);
  EXPECT_EQ(bert.num_attention_heads, 12);
  EXPECT_EQ(bert.intermediate_size, 3072);
  EXPECT_EQ(bert.max_position_embeddings, 512);
  EXPECT_EQ(bert.type_vocab_size, 2);
  EXPECT_EQ(bert.pad_token_id, 0);
  EXPECT_DOUBLE_EQ(bert.layer_norm_eps, 1e-12);
  EXPECT_EQ(bert.position_ids, encoders::PositionIdStyle::kBert);
  EXPECT_EQ(bert.max_tokens(), 512);

  // ClapConfig() with nothing given: ClapTextConfig's defaults, projection 512 relu.
  const encoders::ClapTextTowerConfig clap = encoders::ClapTextTowerConfig::from_clap_json(json::object(), "empty");
  EXPECT_EQ(clap.text.vocab_size, 50265);
  EXPECT_EQ(clap.text.max_position_embeddings, 514);
  EXPECT_EQ(clap.text.type_vocab_size, 1);
  EXPECT_EQ(clap.text.pad_token_id, 1);
  EXPECT_EQ(clap.text.hidden_act, "gelu");
  EXPECT_DOUBLE_EQ(clap.text.layer_norm_eps, 1e-12);
  EXPECT_EQ(clap.text.position_ids, encoders::PositionIdStyle::kRoberta);
  EXPECT_EQ(clap.text.max_tokens(), 512);
  EXPECT_EQ(clap.projection_dim, 512);
  EXPECT_EQ(clap.projection_hidden_act, "relu");
  EXPECT_EQ(clap.pooling, encoders::ClapTextPooling::kPoolerOutput);
}

TEST(ClapTextConfig, TopLevelProjectionOverridesTheTextConfig) {
  const json j = {{"projection_dim", 1024},
                  {"text_config", {{"projection_dim", 256}, {"layer_norm_eps", 1e-5}, {"hidden_size", 512}, {"num_attention_heads", 8}}}};
  const encoders::ClapTextTowerConfig c = encoders::ClapTextTowerConfig::from_clap_json(j, "config");
  EXPECT_EQ(c.projection_dim, 1024);
  EXPECT_EQ(c.text.hidden_size, 512);
  EXPECT_DOUBLE_EQ(c.text.layer_norm_eps, 1e-5);
  const json legacy = {{"text_config_dict", {{"vocab_size", 100}}}};
  EXPECT_EQ(encoders::ClapTextTowerConfig::from_clap_json(legacy, "config").text.vocab_size, 100);
}

TEST(ClapTextConfig, WrongValuesNameTheField) {
  auto parse = [](const json& text) { return encoders::ClapTextTowerConfig::from_clap_json({{"text_config", text}}, "cfg.json"); };
  EXPECT_THROW(parse({{"hidden_size", 10}, {"num_attention_heads", 3}}), std::invalid_argument);
  EXPECT_THROW(parse({{"hidden_size", "big"}}), std::invalid_argument);
  EXPECT_THROW(parse({{"position_embedding_type", "relative_key"}}), std::invalid_argument);
  EXPECT_THROW(parse({{"hidden_act", "mish"}}), std::invalid_argument);
  EXPECT_THROW(parse({{"vocab_size", 0}}), std::invalid_argument);
  try {
    parse({{"intermediate_size", -1}});
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("cfg.json text_config: field 'intermediate_size'"), std::string::npos) << e.what();
  }
}

// --- parity with the independent reference --------------------------------------------------------

TEST(ClapTextReference, BertHiddenStatesAndPooler) {
  encoders::TextTransformer model(bert_reference_config());
  encoders::PretrainedWeights(reference().path()).load_into(*model, "bert.");
  model->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor h = model(fixture_tensor("bert_input.ids"), fixture_tensor("bert_input.mask"));
  EXPECT_LT(max_abs_diff(h, fixture_tensor("bert_expected.last_hidden_state")), kTolerance);
  EXPECT_LT(max_abs_diff(model->pooler(h), fixture_tensor("bert_expected.pooler_output")), kTolerance);
}

TEST(ClapTextReference, RobertaPositionIdsHiddenStatesAndPooler) {
  const encoders::ClapTextTowerConfig config = clap_reference_config();
  EXPECT_EQ(config.text.position_ids, encoders::PositionIdStyle::kRoberta);
  encoders::TextTransformer model(config.text);
  encoders::PretrainedWeights(reference().path()).load_into(*model, "roberta.");
  model->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor ids = fixture_tensor("roberta_input.ids");
  EXPECT_TRUE(torch::equal(model->embeddings->position_ids(ids), fixture_tensor("roberta_expected.position_ids")));
  const torch::Tensor h = model(ids, fixture_tensor("roberta_input.mask"));
  EXPECT_LT(max_abs_diff(h, fixture_tensor("roberta_expected.last_hidden_state")), kTolerance);
  EXPECT_LT(max_abs_diff(model->pooler(h), fixture_tensor("roberta_expected.pooler_output")), kTolerance);
}

TEST(ClapTextReference, ProjectionAndNormalisationOfBothFamilies) {
  const encoders::PretrainedWeights weights(reference().path());
  torch::NoGradGuard no_grad;

  encoders::ClapTextTower hf(clap_reference_config());
  weights.load_into(*hf->transformer, "roberta.");
  weights.load_into(*hf->projection, "roberta_proj.");
  hf->eval();
  const torch::Tensor hf_embeddings = hf(fixture_tensor("roberta_input.ids"), fixture_tensor("roberta_input.mask"));
  EXPECT_LT(max_abs_diff(hf_embeddings, fixture_tensor("roberta_expected.pooled_embedding")), kTolerance);
  expect_unit_rows(hf_embeddings);

  encoders::ClapTextTower wavcaps(encoders::ClapTextTowerConfig::wavcaps(bert_reference_config(), 12));
  EXPECT_TRUE(wavcaps->transformer->pooler.is_empty());
  weights.load_into(*wavcaps->transformer, "bert.", {"pooler.dense.weight", "pooler.dense.bias"});
  weights.load_into(*wavcaps->projection, "bert_proj.");
  wavcaps->eval();
  const torch::Tensor cls_embeddings = wavcaps(fixture_tensor("bert_input.ids"), fixture_tensor("bert_input.mask"));
  EXPECT_LT(max_abs_diff(cls_embeddings, fixture_tensor("bert_expected.cls_embedding")), kTolerance);
  expect_unit_rows(cls_embeddings);
}

// Each row alone (no padding) gives what it gives padded in the batch.
TEST(ClapTextReference, PaddingDoesNotChangeTheTokens) {
  const encoders::PretrainedWeights weights(reference().path());
  torch::NoGradGuard no_grad;
  for (const std::string family : {"bert", "roberta"}) {
    SCOPED_TRACE(family);
    encoders::TextTransformer model(family == "bert" ? bert_reference_config() : clap_reference_config().text);
    weights.load_into(*model, family + ".");
    model->eval();
    const torch::Tensor ids = fixture_tensor(family + "_input.ids"), mask = fixture_tensor(family + "_input.mask");
    const torch::Tensor batched = model(ids, mask);
    for (int64_t r = 0; r < ids.size(0); ++r) {
      const std::vector<int64_t> alone_ids = row_ids(ids, mask, r);
      const int64_t n = static_cast<int64_t>(alone_ids.size());
      const torch::Tensor alone = model(torch::tensor(alone_ids, torch::kInt64).unsqueeze(0));
      EXPECT_LT(max_abs_diff(alone[0], batched[r].slice(0, 0, n)), kTolerance) << "row " << r;
    }
  }
}

// --- Hugging Face CLAP folders --------------------------------------------------------------------

TEST(ClapTextHfFolder, EncodesLikeTheReference) {
  testing::TempDir tmp;
  const fs::path dir = write_hf_clap_dir(tmp / "tiny_clap");
  encoders::ClapTextEncoder encoder(dir);
  EXPECT_EQ(encoder.embedding_dim(), 12);
  EXPECT_EQ(encoder.max_length(), 20);  // min(77, 22 positions - pad 1 - 1)
  const torch::Tensor embeddings = encoder.encode_ids(rows_of("roberta"));
  EXPECT_EQ(embeddings.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(embeddings.device().is_cpu());
  EXPECT_LT(max_abs_diff(embeddings, fixture_tensor("roberta_expected.pooled_embedding")), kTolerance);
  const std::string fingerprint = encoder.fingerprint();
  EXPECT_NE(fingerprint.find("tiny_clap"), std::string::npos) << fingerprint;
  EXPECT_NE(fingerprint.find("hugging_face"), std::string::npos) << fingerprint;
  EXPECT_NE(fingerprint.find("roberta 2x16"), std::string::npos) << fingerprint;
  EXPECT_NE(fingerprint.find(std::to_string(fs::file_size(dir / "model.safetensors")) + " bytes"), std::string::npos)
      << fingerprint;
}

TEST(ClapTextHfFolder, MissingTensorIsOneLineNamingFileAndTensor) {
  testing::TempDir tmp;
  const std::string name = "text_model.encoder.layer.1.attention.self.key.bias";
  const fs::path dir = write_hf_clap_dir(tmp / "m", [&](io::NamedTensors& t) {
    t.erase(std::remove_if(t.begin(), t.end(), [&](const auto& e) { return e.first == name; }), t.end());
  });
  expect_one_line_error([&] { encoders::ClapTextEncoder encoder(dir); }, dir / "model.safetensors", "'" + name + "'");
}

TEST(ClapTextHfFolder, WrongShapeIsOneLineNamingFileAndTensor) {
  testing::TempDir tmp;
  const fs::path dir = write_hf_clap_dir(tmp / "m", [](io::NamedTensors& t) {
    for (auto& [name, tensor] : t) {
      if (name == "text_projection.linear2.weight") tensor = torch::zeros({12, 11});
    }
  });
  expect_one_line_error([&] { encoders::ClapTextEncoder encoder(dir); }, dir / "model.safetensors", "'text_projection.linear2.weight' has shape [12, 11]");
}

TEST(ClapTextHfFolder, UnexpectedTextTensorIsAnError) {
  testing::TempDir tmp;
  const fs::path a = write_hf_clap_dir(tmp / "a", [](io::NamedTensors& t) {
    t.emplace_back("text_model.encoder.layer.0.attention.self.rotary.weight", torch::zeros({2}));
  });
  expect_one_line_error([&] { encoders::ClapTextEncoder encoder(a); }, a / "model.safetensors",
                        "unexpected tensor 'text_model.encoder.layer.0.attention.self.rotary.weight'");
  // A third layer the configuration does not have.
  const fs::path b = write_hf_clap_dir(tmp / "b", [](io::NamedTensors& t) {
    t.emplace_back("text_model.encoder.layer.2.output.dense.bias", torch::zeros({16}));
  });
  expect_one_line_error([&] { encoders::ClapTextEncoder encoder(b); }, b / "model.safetensors", "'text_model.encoder.layer.2.output.dense.bias'");
  const fs::path c = write_hf_clap_dir(tmp / "c", [](io::NamedTensors& t) {
    t.emplace_back("text_projection.linear3.weight", torch::zeros({2}));
  });
  expect_one_line_error([&] { encoders::ClapTextEncoder encoder(c); }, c / "model.safetensors", "'text_projection.linear3.weight'");
}

TEST(ClapTextHfFolder, ConfigErrorNamesFileAndField) {
  testing::TempDir tmp;
  json config = reference_metadata("clap_config");
  config["text_config"]["num_attention_heads"] = 3;
  const fs::path dir = write_hf_clap_dir(tmp / "m", {}, config);
  expect_one_line_error([&] { encoders::ClapTextEncoder encoder(dir); }, dir / "config.json", "num_attention_heads 3");
}

// --- WavCaps checkpoints --------------------------------------------------------------------------

TEST(ClapTextWavCaps, EncodesLikeTheReference) {
  testing::TempDir tmp;
  const fs::path dir = write_wavcaps_dir(tmp / "wavcaps");
  for (const fs::path& given : {dir, dir / "HTSAT_BERT_zero_shot.pt"}) {
    SCOPED_TRACE(given.string());
    encoders::ClapTextEncoder encoder(given);
    EXPECT_EQ(encoder.embedding_dim(), 12);
    EXPECT_EQ(encoder.max_length(), 20);  // min(30, 20 positions)
    EXPECT_EQ(encoder.tower()->config().pooling, encoders::ClapTextPooling::kClsToken);
    const torch::Tensor embeddings = encoder.encode_ids(rows_of("bert"));
    EXPECT_LT(max_abs_diff(embeddings, fixture_tensor("bert_expected.cls_embedding")), kTolerance);
    EXPECT_NE(encoder.fingerprint().find("wavcaps"), std::string::npos) << encoder.fingerprint();
  }
  EXPECT_NE(encoders::ClapTextEncoder(dir / "HTSAT_BERT_zero_shot.pt").fingerprint().find("HTSAT_BERT_zero_shot.pt"), std::string::npos);
}

TEST(ClapTextWavCaps, InfersBertSizesFromTheShapes) {
  // Without config.json: hidden 128 -> 2 heads of 64 (bert-base's head size).
  encoders::TextTransformerConfig bert;
  bert.vocab_size = 30;
  bert.hidden_size = 128;
  bert.num_attention_heads = 2;
  bert.num_hidden_layers = 3;
  bert.intermediate_size = 20;
  bert.max_position_embeddings = 24;
  bert.type_vocab_size = 2;
  torch::manual_seed(7);
  encoders::ClapTextTower source(encoders::ClapTextTowerConfig::wavcaps(bert, 10));
  io::NamedTensors tensors;
  for (const auto& p : source->transformer->named_parameters()) tensors.emplace_back(encoders::kWavCapsTextPrefix + p.key(), p.value().detach().clone());
  for (const auto& p : source->projection->named_parameters()) tensors.emplace_back(encoders::kWavCapsProjectionPrefix + p.key(), p.value().detach().clone());
  tensors.emplace_back("temp", torch::tensor(0.07f));
  testing::TempDir tmp;
  testing::save_torch_checkpoint(tmp / "HTSAT_BERT_zero_shot.pt", tensors);
  write_wordpiece_vocab(tmp.path());

  const encoders::PretrainedWeights weights(tmp / "HTSAT_BERT_zero_shot.pt");
  const encoders::TextTransformerConfig inferred = encoders::infer_wavcaps_bert_config(weights);
  EXPECT_EQ(inferred.vocab_size, 30);
  EXPECT_EQ(inferred.hidden_size, 128);
  EXPECT_EQ(inferred.num_attention_heads, 2);
  EXPECT_EQ(inferred.num_hidden_layers, 3);
  EXPECT_EQ(inferred.intermediate_size, 20);
  EXPECT_EQ(inferred.max_position_embeddings, 24);
  EXPECT_EQ(inferred.type_vocab_size, 2);
  EXPECT_FALSE(inferred.add_pooling_layer);

  encoders::ClapTextEncoder encoder(tmp.path());
  EXPECT_EQ(encoder.embedding_dim(), 10);
  const std::vector<std::vector<int64_t>> ids = {{3, 7, 8, 9, 4}, {3, 4}};
  const torch::Tensor embeddings = encoder.encode_ids(ids);
  source->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor expected_long = source(torch::tensor(ids[0], torch::kInt64).unsqueeze(0), torch::Tensor());
  const torch::Tensor expected_short = source(torch::tensor(ids[1], torch::kInt64).unsqueeze(0), torch::Tensor());
  EXPECT_LT(max_abs_diff(embeddings, torch::cat({expected_long, expected_short})), kTolerance);
}

TEST(ClapTextWavCaps, LoaderErrorsNameFileAndTensor) {
  testing::TempDir tmp;
  const fs::path a = write_wavcaps_dir(tmp / "a", [](io::NamedTensors& t) {
    t.erase(std::remove_if(t.begin(), t.end(), [](const auto& e) { return e.first == "text_proj.2.weight"; }), t.end());
  });
  expect_one_line_error([&] { encoders::ClapTextEncoder encoder(a); }, a / "HTSAT_BERT_zero_shot.pt", "'text_proj.2.weight'");
  const fs::path b = write_wavcaps_dir(tmp / "b", [](io::NamedTensors& t) {
    t.emplace_back("text_encoder.text_encoder.encoder.layer.0.attention.self.gate", torch::zeros({2}));
  });
  expect_one_line_error([&] { encoders::ClapTextEncoder encoder(b); }, b / "HTSAT_BERT_zero_shot.pt",
                        "unexpected tensor 'text_encoder.text_encoder.encoder.layer.0.attention.self.gate'");
  const fs::path c = write_wavcaps_dir(tmp / "c", [](io::NamedTensors& t) {
    for (auto& [name, tensor] : t) {
      if (name == "text_encoder.text_encoder.encoder.layer.1.intermediate.dense.weight") tensor = torch::zeros({25, 16});
    }
  });
  expect_one_line_error([&] { encoders::ClapTextEncoder encoder(c); }, c / "HTSAT_BERT_zero_shot.pt",
                        "'text_encoder.text_encoder.encoder.layer.1.intermediate.dense.weight' has shape [25, 16]");
  // Without config.json the sizes come from the shapes, and 16 is no multiple of bert-base's 64.
  const fs::path d = write_wavcaps_dir(tmp / "d", {}, /*with_config=*/false);
  expect_one_line_error([&] { encoders::ClapTextEncoder encoder(d); }, d / "HTSAT_BERT_zero_shot.pt", "config.json");
  // A pooler is never used by WavCaps and is tolerated.
  const fs::path e = write_wavcaps_dir(tmp / "e", [](io::NamedTensors& t) {
    for (auto& p : renamed("bert.pooler.", "text_encoder.text_encoder.pooler.")) t.push_back(std::move(p));
  });
  EXPECT_NO_THROW(encoders::ClapTextEncoder encoder(e));
}

// --- the encoder ----------------------------------------------------------------------------------

TEST(ClapTextEncoderIds, ShapesDeterminismOrderAndBatching) {
  testing::TempDir tmp;
  encoders::ClapTextEncoder encoder(write_hf_clap_dir(tmp / "m"));
  const std::vector<std::vector<int64_t>> ids = {{0, 5, 6, 7, 2}, {0, 9, 2}, {0, 11, 12, 13, 14, 15, 16, 2}, {0, 2}};
  const torch::Tensor first = encoder.encode_ids(ids);
  EXPECT_EQ(first.sizes(), (std::vector<int64_t>{4, 12}));
  expect_unit_rows(first);
  EXPECT_TRUE(torch::equal(first, encoder.encode_ids(ids)));  // deterministic
  EXPECT_EQ(encoder.encode_ids({}).sizes(), (std::vector<int64_t>{0, 12}));
  // Order: reversed input, reversed output.
  const std::vector<std::vector<int64_t>> reversed(ids.rbegin(), ids.rend());
  EXPECT_LT(max_abs_diff(encoder.encode_ids(reversed), first.flip(0)), kTolerance);
  // Batch size does not matter.
  encoder.set_batch_size(1);
  EXPECT_LT(max_abs_diff(encoder.encode_ids(ids), first), kTolerance);
  EXPECT_THROW(encoder.set_batch_size(0), std::invalid_argument);
}

TEST(ClapTextEncoderIds, AloneEqualsBatchedWithLongerTexts) {
  testing::TempDir tmp;
  encoders::ClapTextEncoder hf(write_hf_clap_dir(tmp / "hf"));
  encoders::ClapTextEncoder wavcaps(write_wavcaps_dir(tmp / "wavcaps"));
  for (auto* encoder : {&hf, &wavcaps}) {
    const bool is_hf = encoder == &hf;
    const int64_t bos = is_hf ? 0 : 3, eos = is_hf ? 2 : 4;
    const std::vector<int64_t> text = {bos, 20, 21, eos};
    std::vector<int64_t> longest = {bos};
    for (int64_t i = 0; i < encoder->max_length() - 2; ++i) longest.push_back(5 + i % 30);
    longest.push_back(eos);
    const torch::Tensor alone = encoder->encode_ids({text});
    const torch::Tensor batched = encoder->encode_ids({{bos, 7, 8, 9, 10, 11, eos}, text, longest});
    EXPECT_LT(max_abs_diff(alone[0], batched[1]), kTolerance) << (is_hf ? "hf" : "wavcaps");
  }
}

TEST(ClapTextEncoderIds, RejectsEmptyAndOverlongTexts) {
  testing::TempDir tmp;
  encoders::ClapTextEncoder encoder(write_hf_clap_dir(tmp / "m"));
  EXPECT_THROW(encoder.encode_ids({{}}), std::invalid_argument);
  EXPECT_THROW(encoder.encode_ids({std::vector<int64_t>(static_cast<size_t>(encoder.max_length() + 1), 5)}), std::invalid_argument);
  EXPECT_THROW(encoder.encode_ids({{0, 40, 2}}), c10::Error);  // outside the vocabulary of 40
}

// --- texts: the tokenizers wired in ---------------------------------------------------------------

TEST(ClapTextEncoderTexts, TokenizesWithTheFamilysTokenizer) {
  testing::TempDir tmp;
  encoders::ClapTextEncoder hf(write_hf_clap_dir(tmp / "hf"));
  encoders::ClapTextEncoder wavcaps(write_wavcaps_dir(tmp / "wavcaps"));
  // Byte-level BPE without merges: one id per character, "Ġ" (30) for the space.
  EXPECT_EQ(hf.tokenize("a dog"), (std::vector<int64_t>{0, 4, 30, 7, 18, 10, 2}));
  // Uncased WordPiece: [CLS] a dog bark ##s . [SEP]
  EXPECT_EQ(wavcaps.tokenize("A dog barks."), (std::vector<int64_t>{3, 6, 7, 9, 10, 18, 4}));
  // Truncation to max_length, the end token kept.
  for (encoders::ClapTextEncoder* encoder : {&hf, &wavcaps}) {
    const std::vector<int64_t> ids = encoder->tokenize(std::string(200, 'a') + " dog dog dog dog dog dog dog dog dog dog dog dog dog dog dog dog dog dog dog");
    EXPECT_EQ(static_cast<int64_t>(ids.size()), encoder->max_length());
    EXPECT_EQ(ids.back(), encoder == &hf ? 2 : 4);
  }
}

TEST(ClapTextEncoderTexts, EncodeIsEncodeIdsOfTheTokensAndSharesDuplicates) {
  testing::TempDir tmp;
  encoders::ClapTextEncoder hf(write_hf_clap_dir(tmp / "hf"));
  encoders::ClapTextEncoder wavcaps(write_wavcaps_dir(tmp / "wavcaps"));
  const std::vector<std::string> texts = {"a dog barks.", "the cat can be heard.", "a dog barks.", "a person playing guitar."};
  for (encoders::ClapTextEncoder* encoder : {&hf, &wavcaps}) {
    SCOPED_TRACE(encoder == &hf ? "hf" : "wavcaps");
    const torch::Tensor embeddings = encoder->encode(texts);
    EXPECT_EQ(embeddings.sizes(), (std::vector<int64_t>{4, 12}));
    expect_unit_rows(embeddings);
    EXPECT_TRUE(torch::equal(embeddings[0], embeddings[2]));
    std::vector<std::vector<int64_t>> ids;
    for (const std::string& text : texts) ids.push_back(encoder->tokenize(text));
    EXPECT_LT(max_abs_diff(embeddings, encoder->encode_ids(ids)), kTolerance);
    // Alone and batched with a text that needs max_length tokens: the same embedding.
    const torch::Tensor alone = encoder->encode({"the cat can be heard."});
    const torch::Tensor batched = encoder->encode({std::string(100, 'x') + " sound of the dog", "the cat can be heard."});
    EXPECT_LT(max_abs_diff(alone[0], batched[1]), kTolerance);
    EXPECT_LT(max_abs_diff(alone[0], embeddings[1]), kTolerance);
  }
}

TEST(ClapTextEncoderTexts, TokenizerLargerThanTheModelIsAnError) {
  testing::TempDir tmp;
  const fs::path dir = write_hf_clap_dir(tmp / "m");
  json vocab = json::parse(std::ifstream(dir / "vocab.json"));
  vocab["zz"] = 45;  // the model has 40 token embeddings
  std::ofstream(dir / "vocab.json") << vocab.dump();
  expect_one_line_error([&] { encoders::ClapTextEncoder encoder(dir); }, dir / "vocab.json", "46 tokens");
}

}  // namespace clap_text_test
}  // namespace
}  // namespace avgzsl::encoders
