// torch.save files as the real writers make them (tests/fixtures/make_torch_save_fixtures.py,
// Debian's python3-torch): state_dicts of real nn.Modules (OrderedDict with _metadata), real
// optimizer and scheduler states, the zip and legacy formats at pickle protocols 2 and 4, views
// of one storage, every storage dtype, objects of unknown classes; and the golden tiny encoders
// re-saved as their publishers save them (made by CTest into the build tree; skipped where
// python3-torch or ../shared/data is absent).
#include <gtest/gtest.h>

#include <fstream>

#include "avgzsl/io/atomic_file.h"
#include "avgzsl/io/safetensors.h"
#include "avgzsl/io/torch_archive.h"
#include "avgzsl/encoders/clip/clip_model.h"
#include "avgzsl/encoders/clap/htsat.h"
#include "avgzsl/encoders/pretrained_weights.h"
#include "avgzsl/reference/reference_checkpoint.h"
#include "avgzsl/inspection/inspection.h"
#include "error_text.h"
#include "golden_data.h"
#include "test_support.h"

namespace avgzsl {
namespace {

namespace fs = std::filesystem;
using io::PickleDocument;
using io::PyKind;
using io::PyValue;
using io::TorchArchive;

fs::path reader_fixture(const std::string& name) { return testing::fixture_dir() / "torch_save" / name; }

const char* const kCheckpoints[] = {"checkpoint.zip.pt", "checkpoint.zip_p4.pt", "checkpoint.legacy.pt",
                                    "checkpoint.legacy_p4.pt"};

void expect_same_tensors(const std::vector<std::pair<std::string, torch::Tensor>>& got, const io::SafetensorsFile& want) {
  std::vector<std::string> names;
  for (const auto& [name, tensor] : got) {
    names.push_back(name);
    ASSERT_TRUE(want.contains(name)) << name;
    const torch::Tensor expected = want.tensor(name);
    EXPECT_EQ(tensor.scalar_type(), expected.scalar_type()) << name;
    EXPECT_TRUE(torch::equal(tensor, expected)) << name;
  }
  std::vector<std::string> expected_names = want.names();
  std::sort(names.begin(), names.end());
  std::sort(expected_names.begin(), expected_names.end());
  EXPECT_EQ(names, expected_names);
}

const PyValue& item(const PickleDocument& doc, const PyValue& dict, const std::string& key) {
  return doc.at(doc.get(dict, key));
}

TEST(TorchSaveReader, ModuleStateDictInBothFormats) {
  const io::SafetensorsFile want(reader_fixture("module_state_dict.safetensors"));
  for (const auto& [file, format] : {std::pair{"module_state_dict.zip.pt", io::TorchSaveFormat::kZip},
                                     std::pair{"module_state_dict.legacy.pt", io::TorchSaveFormat::kLegacy}}) {
    SCOPED_TRACE(file);
    const TorchArchive archive(reader_fixture(file));
    EXPECT_EQ(archive.format(), format);
    std::string wrapper = "unset";
    const auto state = archive.state_dict({"model"}, &wrapper);
    EXPECT_EQ(wrapper, "");  // a bare state_dict
    expect_same_tensors(state, want);
    // Hugging Face's position_ids: a stride-0 view of arange(7), stored as 7 values.
    for (const auto& [name, tensor] : state) {
      if (name == "position_ids") EXPECT_TRUE(torch::equal(tensor, torch::arange(7).unsqueeze(0)));
    }
  }
}

TEST(TorchSaveReader, CheckpointsOfEveryFormatAndProtocol) {
  const io::SafetensorsFile want(reader_fixture("module_state_dict.safetensors"));
  for (const char* file : kCheckpoints) {
    SCOPED_TRACE(file);
    const TorchArchive archive(reader_fixture(file));
    const PickleDocument& doc = archive.document();
    const PyValue& root = doc.expect(doc.root(), PyKind::kDict, "root");
    EXPECT_EQ(item(doc, root, "epoch").integer, 3);
    std::string wrapper;
    expect_same_tensors(archive.state_dict({"model"}, &wrapper), want);
    EXPECT_EQ(wrapper, "model");

    // Adam's state after three steps: per-parameter dicts under int keys, param_groups with
    // tuples, floats, bools and None.
    const PyValue& optimizer = item(doc, root, "optimizer");
    const PyValue& state = item(doc, optimizer, "state");
    ASSERT_EQ(state.kind, PyKind::kDict);
    ASSERT_EQ(state.items.size(), 2u * 9);  // embed, norm (2), two Linear (2 each), BatchNorm (2)
    EXPECT_EQ(doc.at(state.items[0]).kind, PyKind::kInt);
    const PyValue& first = doc.at(state.items[1]);
    const torch::Tensor exp_avg = archive.tensor(doc.get(first, "exp_avg"));
    EXPECT_EQ(exp_avg.sizes(), (std::vector<int64_t>{10, 4}));  // the embedding's
    EXPECT_GT(exp_avg.abs().sum().item<double>(), 0.0);
    const PyValue& step = item(doc, first, "step");  // a tensor since PyTorch 1.12, an int before
    if (step.kind == PyKind::kTensor) EXPECT_EQ(archive.tensor(doc.get(first, "step")).item<double>(), 3.0);
    else EXPECT_EQ(step.integer, 3);
    const auto& groups = doc.sequence(doc.get(optimizer, "param_groups"), "param_groups");
    ASSERT_EQ(groups.size(), 1u);
    const PyValue& group = doc.at(groups[0]);
    EXPECT_DOUBLE_EQ(item(doc, group, "lr").real, 1e-2);
    EXPECT_DOUBLE_EQ(item(doc, group, "weight_decay").real, 1e-4);
    const auto& betas = doc.sequence(doc.get(group, "betas"), "betas");
    ASSERT_EQ(betas.size(), 2u);
    EXPECT_DOUBLE_EQ(doc.at(betas[1]).real, 0.999);
    EXPECT_EQ(item(doc, group, "amsgrad").kind, PyKind::kBool);
    EXPECT_EQ(doc.sequence(doc.get(group, "params"), "params").size(), 9u);

    EXPECT_EQ(item(doc, item(doc, root, "scheduler"), "mode").text, "max");
    EXPECT_DOUBLE_EQ(item(doc, root, "metric").real, 0.625);  // np.float64
    const PyValue& config = item(doc, root, "config");
    EXPECT_EQ(item(doc, config, "none").kind, PyKind::kNone);
    EXPECT_EQ(item(doc, config, "name").text, "net");
    const auto& layers = doc.sequence(doc.get(config, "layers"), "layers");
    ASSERT_EQ(layers.size(), 2u);
    EXPECT_EQ(doc.sequence(layers[0], "layer").size(), 2u);
    // torch.Size is its tuple; an argparse.Namespace is an inert placeholder.
    const auto& size = doc.sequence(doc.get(root, "size"), "size");
    ASSERT_EQ(size.size(), 2u);
    EXPECT_EQ(doc.at(size[1]).integer, 3);
    const PyValue& args = item(doc, root, "args");
    EXPECT_EQ(args.kind, PyKind::kObject);
    EXPECT_EQ(args.text, "argparse.Namespace");

    // Five views of one 4x6 storage.
    const torch::Tensor base = torch::arange(24, torch::kFloat32).reshape({4, 6});
    std::map<std::string, torch::Tensor> views;
    for (auto& [name, tensor] : archive.tensor_dict(doc.get(root, "views"), "views")) views[name] = tensor;
    EXPECT_TRUE(torch::equal(views.at("base"), base));
    EXPECT_TRUE(torch::equal(views.at("row"), base[2]));
    EXPECT_TRUE(torch::equal(views.at("column"), base.select(1, 3)));
    EXPECT_TRUE(torch::equal(views.at("transposed"), base.t()));
    EXPECT_TRUE(torch::equal(views.at("block"), base.slice(0, 1, 3).slice(1, 2, 5)));
    const PyValue& views_dict = item(doc, root, "views");
    std::set<std::string> storages;
    for (size_t i = 1; i < views_dict.items.size(); i += 2) {
      storages.insert(std::string(doc.at(doc.at(views_dict.items[i]).items[0]).text));
    }
    EXPECT_EQ(storages.size(), 1u);

    // Every storage dtype a state_dict uses.
    const torch::Tensor values = torch::arange(6, torch::kInt64);
    std::map<std::string, torch::Tensor> typed;
    for (auto& [name, tensor] : archive.tensor_dict(doc.get(root, "dtypes"), "dtypes")) typed[name] = tensor;
    const std::vector<std::pair<std::string, torch::Tensor>> expected = {
        {"float16", (values.to(torch::kFloat32) / 4).to(torch::kFloat16)},
        {"bfloat16", (values.to(torch::kFloat32) / 4).to(torch::kBFloat16)},
        {"float64", values.to(torch::kFloat64) / 4},
        {"int64", values - 3},
        {"int32", (values - 3).to(torch::kInt32)},
        {"int16", (values - 3).to(torch::kInt16)},
        {"int8", (values - 3).to(torch::kInt8)},
        {"uint8", (values * 40).to(torch::kUInt8)},
        {"bool", values.remainder(2) == 0}};
    ASSERT_EQ(typed.size(), expected.size());
    for (const auto& [name, tensor] : expected) {
      EXPECT_EQ(typed.at(name).scalar_type(), tensor.scalar_type()) << name;
      EXPECT_TRUE(torch::equal(typed.at(name), tensor)) << name;
    }
  }
}

TEST(TorchSaveReader, PlaceholderOnTheReadPathIsAnErrorNamingIt) {
  const fs::path path = reader_fixture("placeholder_on_path.pt");
  const TorchArchive archive(path);
  const std::string error = testing::typed_error_of([&] { archive.state_dict({"model"}); });
  EXPECT_NE(error.find("runtime_error: " + path.string()), std::string::npos) << error;
  EXPECT_NE(error.find("['args']"), std::string::npos) << error;
  EXPECT_NE(error.find("argparse.Namespace"), std::string::npos) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;
  // Off the read path the same class is harmless: the checkpoints above carry one.
  EXPECT_EQ(testing::typed_error_of([] { TorchArchive(reader_fixture("checkpoint.zip.pt")).state_dict({"model"}); }), "");
}

TEST(TorchSaveReader, UnknownCallablesAreNeverCalled) {
  // pickle.dumps of a __reduce__ that returns (os.system, ("echo pwned",)), protocol 2.
  static const char kHostile[] = "\x80\x02" "cposix\nsystem\nq\x00" "X\x0a\x00\x00\x00" "echo pwned" "q\x01\x85q\x02Rq\x03.";
  const std::string hostile(kHostile, sizeof(kHostile) - 1);
  const PickleDocument doc = io::parse_pickle(hostile, "hostile", io::torch_save_pickle_options());
  EXPECT_EQ(doc.at(doc.root()).kind, PyKind::kObject);
  EXPECT_EQ(doc.at(doc.root()).text, "posix.system");
  // Where no placeholder is asked for (feature releases), the global is refused outright.
  const std::string error = testing::typed_error_of([&] { io::parse_pickle(hostile, "hostile"); });
  EXPECT_NE(error.find("global 'posix.system' is not allowed"), std::string::npos) << error;
}

TEST(TorchSaveReader, DamagedFilesGetOneLineErrorsNamingTheFile) {
  testing::TempDir tmp;
  const std::string legacy = io::read_file(reader_fixture("checkpoint.legacy.pt"));
  const std::string zip = io::read_file(reader_fixture("checkpoint.zip.pt"));
  std::vector<std::pair<std::string, std::string>> cases;  // name, bytes
  for (size_t cut : {size_t{0}, size_t{3}, size_t{15}, size_t{40}, legacy.size() / 2, legacy.size() - 5}) {
    cases.emplace_back("legacy_cut_" + std::to_string(cut) + ".pt", legacy.substr(0, cut));
  }
  cases.emplace_back("zip_cut.pt", zip.substr(0, zip.size() / 2));
  std::string wrong_magic = legacy;
  wrong_magic[5] ^= 0x55;
  cases.emplace_back("wrong_magic.pt", wrong_magic);
  cases.emplace_back("trailing.pt", legacy + "extra");
  std::string tar(1024, '\0');
  tar.replace(257, 5, "ustar");
  cases.emplace_back("old_tar.pt", tar);
  cases.emplace_back("text.pt", "this is not a checkpoint\n");
  for (const auto& [name, bytes] : cases) {
    SCOPED_TRACE(name);
    const fs::path path = tmp / name;
    std::ofstream(path, std::ios::binary) << bytes;
    const std::string error = testing::typed_error_of([&] { TorchArchive(path).state_dict({"model"}); });
    EXPECT_EQ(error.rfind("runtime_error: " + path.string(), 0), 0u) << error;
    EXPECT_EQ(error.find('\n'), std::string::npos) << error;
  }
  const std::string tar_error = testing::typed_error_of([&] { TorchArchive(tmp / "old_tar.pt"); });
  EXPECT_NE(tar_error.find("tar-format"), std::string::npos) << tar_error;
  const std::string missing = testing::typed_error_of([&] { TorchArchive(tmp / "absent.pt"); });
  EXPECT_NE(missing.find("file not found"), std::string::npos) << missing;
}

TEST(TorchSaveReader, ReferenceCheckpointInTheLegacyFormatEqualsTheZipOne) {
  const fs::path dir = testing::fixture_dir() / "clipclap_release";
  const reference::ReferenceCheckpoint zip = reference::read_reference_checkpoint(dir / "ClipClap_model_stage1.pt");
  const reference::ReferenceCheckpoint legacy = reference::read_reference_checkpoint(dir / "ClipClap_model_stage1_legacy.pt");
  EXPECT_EQ(legacy.epoch, zip.epoch);
  ASSERT_EQ(legacy.state.size(), zip.state.size());
  for (size_t i = 0; i < zip.state.size(); ++i) {
    EXPECT_EQ(legacy.state[i].first, zip.state[i].first);
    EXPECT_TRUE(torch::equal(legacy.state[i].second, zip.state[i].second)) << zip.state[i].first;
  }
}

// ---- the golden tiny encoders, re-saved by their publishers' code paths ----

fs::path golden_resaved(const std::string& folder) { return fs::path(AVGZSL_TORCH_SAVE_GOLDEN_DIR) / folder; }

#define AVGZSL_SKIP_WITHOUT_RESAVED()                                                        \
  if (!fs::exists(golden_resaved("COMPLETE")))                                               \
  GTEST_SKIP() << "no re-saved golden models in " << AVGZSL_TORCH_SAVE_GOLDEN_DIR            \
               << " (make_torch_save_fixtures.py needs python3-torch and ../shared/data)"

double max_diff(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

// Every tensor of the safetensors original, by name, in the .pt (after `cast`); extra names in
// the .pt must be ones the loader ignores.
void expect_weights_match(const encoders::PretrainedWeights& pt, const fs::path& original,
                          torch::ScalarType cast = torch::kFloat32) {
  const io::SafetensorsFile want(original);
  for (const std::string& name : want.names()) {
    ASSERT_TRUE(pt.contains(name)) << name;
    const torch::Tensor expected = want.tensor(name);
    if (!expected.is_floating_point()) continue;
    EXPECT_TRUE(torch::equal(pt.float_tensor(name), expected.to(cast).to(torch::kFloat32))) << name;
  }
}

TEST(TorchSaveGolden, HuggingFaceClipBinInEveryFormat) {
  AVGZSL_SKIP_WITHOUT_RESAVED();
  const fs::path golden = testing::golden_clip_dir() / "tiny_clip";
  const io::SafetensorsFile cases(golden / "cases.safetensors");
  torch::NoGradGuard no_grad;
  for (const auto& [folder, tolerance] : {std::pair{"clip_zip", 1e-4}, std::pair{"clip_legacy", 1e-4},
                                          std::pair{"clip_f16", 5e-2}}) {
    SCOPED_TRACE(folder);
    const fs::path dir = golden_resaved(folder);
    expect_weights_match(encoders::PretrainedWeights(dir / "pytorch_model.bin"), golden / "model.safetensors",
                         std::string(folder) == "clip_f16" ? torch::kFloat16 : torch::kFloat32);
    encoders::ClipModel model = encoders::load_clip_model(dir);
    EXPECT_LT(max_diff(model->encode_image(cases.tensor("pixel_values")), cases.tensor("image_embeds")), tolerance);
    EXPECT_LT(max_diff(model->encode_text(cases.tensor("input_ids")), cases.tensor("text_embeds")), tolerance);
  }
}

TEST(TorchSaveGolden, WavCapsCheckpointAsPretrainSavesIt) {
  AVGZSL_SKIP_WITHOUT_RESAVED();
  const fs::path golden = testing::golden_clap_dir() / "wavcaps_htsat_tiny";
  const io::SafetensorsFile cases(golden / "cases.safetensors");
  torch::NoGradGuard no_grad;
  for (const char* folder : {"wavcaps_zip", "wavcaps_legacy"}) {
    SCOPED_TRACE(folder);
    const encoders::PretrainedWeights weights(golden_resaved(folder) / "HTSAT_BERT_zero_shot.pt");
    expect_weights_match(weights, golden / "model.safetensors");
    ASSERT_EQ(encoders::detect_clap_audio_naming(weights), encoders::WeightNaming::kWavCaps);
    encoders::ClapAudioModel model = encoders::load_clap_audio_model(weights, encoders::WeightNaming::kWavCaps);
    const torch::Tensor mel = cases.tensor("logmel", torch::kFloat32);
    EXPECT_LT(max_diff(model->embed(mel), cases.tensor("audio_embeds", torch::kFloat32)), 1e-4);
  }
}

TEST(TorchSaveGolden, LaionCheckpointWithDistributedPrefixes) {
  AVGZSL_SKIP_WITHOUT_RESAVED();
  const fs::path golden = testing::golden_clap_dir() / "laion_htsat_tiny";
  const io::SafetensorsFile cases(golden / "cases.safetensors");
  torch::NoGradGuard no_grad;
  for (const char* folder : {"laion_zip", "laion_legacy"}) {
    SCOPED_TRACE(folder);
    const encoders::PretrainedWeights weights(golden_resaved(folder) / "laion_tiny.pt");
    expect_weights_match(weights, golden / "laion_model.safetensors");
    encoders::ClapAudioModel model = encoders::load_clap_audio_model(weights, encoders::WeightNaming::kLaion);
    const torch::Tensor features = cases.tensor("input_features", torch::kFloat32);
    EXPECT_LT(max_diff(model->embed(features), cases.tensor("hf_audio_embeds_normalized", torch::kFloat32)), 1e-4);
  }
}

TEST(TorchSaveGolden, HuggingFaceClapBin) {
  AVGZSL_SKIP_WITHOUT_RESAVED();
  const fs::path golden = testing::golden_clap_dir() / "laion_htsat_tiny";
  const io::SafetensorsFile cases(golden / "cases.safetensors");
  const fs::path dir = golden_resaved("hf_clap_zip");
  const encoders::PretrainedWeights weights(dir / "pytorch_model.bin");
  expect_weights_match(weights, golden / "model.safetensors");
  torch::NoGradGuard no_grad;
  encoders::ClapAudioModel model = encoders::load_clap_audio_model(weights, encoders::WeightNaming::kHuggingFace,
                                                               encoders::HtsatConfig::from_hf_file(dir / "config.json"));
  const torch::Tensor features = cases.tensor("input_features", torch::kFloat32);
  EXPECT_LT(max_diff(model->embed(features), cases.tensor("hf_audio_embeds_normalized", torch::kFloat32)), 1e-4);
}

// ---- avgzsl inspect ----

TEST(Inspect, TorchSaveCheckpointsSayWhatTheyHold) {
  const auto d = inspection::inspect_path(reader_fixture("checkpoint.legacy_p4.pt"));
  EXPECT_EQ(d["kind"], "torch.save");
  EXPECT_EQ(d["format"], "legacy torch.save file");
  EXPECT_EQ(d["state_dict_under"], "'model'");
  EXPECT_EQ(d["tensor_count"], 13);
  EXPECT_EQ(d["top_level_keys"]["epoch"], 3);
  EXPECT_EQ(d["top_level_keys"]["args"], "an object of class 'argparse.Namespace', which avgzsl does not read");
  EXPECT_EQ(d["unread_objects"], nlohmann::ordered_json::array({"argparse.Namespace"}));
  EXPECT_EQ(d["tensors"][0]["name"], "position_ids");
  EXPECT_EQ(d["tensors"][0]["dtype"], "int64");
  EXPECT_EQ(d["tensors"][0]["shape"], nlohmann::ordered_json::array({1, 7}));
  EXPECT_FALSE(d["usable"].get<bool>());  // a toy module: no model avgzsl knows

  const fs::path stage2 = testing::fixture_dir() / "clipclap_release/ClipClap_model_stage2.pt";
  const auto reference = inspection::inspect_path(stage2);
  EXPECT_EQ(reference["looks_like"], "ClipClap (the reference's GZSL model)");
  EXPECT_TRUE(reference["usable"].get<bool>());
  EXPECT_EQ(reference["tensors"][0]["name"].get<std::string>().rfind("module.", 0), std::string::npos);

  const auto placeholder = inspection::inspect_path(reader_fixture("placeholder_on_path.pt"));
  EXPECT_FALSE(placeholder["usable"].get<bool>());
  EXPECT_NE(placeholder["problem"].get<std::string>().find("['args']"), std::string::npos);
}

// The baselines' original checkpoints (the fixtures their make_*_fixtures.py scripts write with
// torch.save of the restated original modules) are named with the --method that reads them.
TEST(Inspect, BaselineCheckpointsNameTheirMethod) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"avca_state_dict.pt", "--method avca"},
      {"hyper_multiple_state_dict.pt", "--method hyper-multiple"},
      {"cjme_state_dict.pt", "--method cjme|avgzslnet"},
      {"avgzslnet_state_dict.pt", "--method cjme|avgzslnet"},
      {"bilinear_compatibility_checkpoint.pt", "--method ale|sje|devise"}};
  for (const auto& [file, method] : cases) {
    const auto d = inspection::inspect_path(testing::fixture_dir() / file);
    EXPECT_TRUE(d["usable"].get<bool>()) << file;
    EXPECT_NE(d["use"].get<std::string>().find(method), std::string::npos) << file << ": " << d.dump();
  }
}

TEST(Inspect, ReleasesDatasetsAndUnknownFiles) {
  const auto release = inspection::inspect_path(testing::fixture_dir() / "clipclap_release/release_f16_p2/UCF");
  EXPECT_EQ(release["kind"], "feature release");
  EXPECT_EQ(release["dataset"], "UCF");
  EXPECT_EQ(release["class_splits"]["cls_split"]["classes"], 7);
  const auto& folder = release["features"]["cls_features_non_averaged"]["video/stage_1_train"];
  EXPECT_EQ(folder["class_files"], 2);
  EXPECT_EQ(folder["videos"], 8);  // Archery 4, Basketball 4
  EXPECT_EQ(folder["dtypes"], nlohmann::ordered_json::array({"float16"}));
  EXPECT_TRUE(release["usable"].get<bool>());

  testing::TempDir tmp;
  data::save_dataset(testing::tiny_dataset(2), tmp / "data");
  const auto dataset = inspection::inspect_path(tmp / "data");
  EXPECT_EQ(dataset["kind"], "dataset");
  EXPECT_EQ(dataset["classes"], testing::tiny_dataset(2).num_classes());

  std::ofstream(tmp / "notes.pt") << "not a checkpoint\n";
  const auto unknown = inspection::inspect_path(tmp / "notes.pt");
  EXPECT_FALSE(unknown["usable"].get<bool>());
  EXPECT_NE(unknown["problem"].get<std::string>().find((tmp / "notes.pt").string() + ": not a torch.save file"), std::string::npos);
  EXPECT_THROW(inspection::inspect_path(tmp / "absent"), std::runtime_error);

  const std::string text = inspection::inspection_text(inspection::inspect_path(reader_fixture("checkpoint.zip.pt")), 2);
  EXPECT_NE(text.find("kind: torch.save\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  ... 11 more (--json lists all)\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace avgzsl
