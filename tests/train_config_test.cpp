// The training configuration on its own: JSON keys, files, the paper's defaults, validation.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "avgzsl/training/train_config.h"
#include "error_text.h"
#include "temp_dir.h"

namespace avgzsl::training {
namespace train_config_test {

TEST(TrainConfig, JsonKeysAreTheCommandLineNamesAndRoundTrip) {
  TrainConfig c;
  apply_json(c, {{"lr", 2e-4}, {"epochs", 7}, {"modality", "audio"}, {"losses", "ce,rec"}, {"hidden-dim", 32}}, "test");
  EXPECT_DOUBLE_EQ(c.lr, 2e-4);
  EXPECT_EQ(c.epochs, 7);
  EXPECT_EQ(c.modality, data::Modality::kAudio);
  EXPECT_EQ(c.label_source(), data::LabelSource::kClap);  // the text half that matches the modality
  EXPECT_EQ(to_string(c.losses), "ce,rec");
  EXPECT_EQ(c.hidden_dim, 32);
  TrainConfig back;
  apply_json(back, to_json(c), "round trip");
  EXPECT_EQ(to_json(back), to_json(c));
  EXPECT_NE(testing::typed_error_of([] { TrainConfig x; apply_json(x, {{"learning-rate", 1}}, "cfg.json"); }).find("cfg.json"), std::string::npos);
  EXPECT_NE(testing::typed_error_of([] { TrainConfig x; apply_json(x, {{"epochs", "ten"}}, "cfg.json"); }).find("epochs"), std::string::npos);
  EXPECT_THROW(parse_losses("ce,xyz"), std::invalid_argument);
  EXPECT_THROW(parse_losses(""), std::invalid_argument);
}

TEST(TrainConfig, PaperDefaultsFollowTheDatasetName) {
  TrainConfig ucf, anet, kept;
  ucf.apply_paper_defaults("UCF");
  EXPECT_EQ(ucf.epochs, 20);
  EXPECT_DOUBLE_EQ(ucf.lr, 7e-5);
  anet.apply_paper_defaults("ActivityNet");
  EXPECT_EQ(anet.epochs, 15);
  EXPECT_DOUBLE_EQ(anet.lr, 1e-4);
  kept.epochs = 3;
  kept.lr = 0.5;
  kept.apply_paper_defaults("VGGSound");
  EXPECT_EQ(kept.epochs, 3);  // given values win
  EXPECT_DOUBLE_EQ(kept.lr, 0.5);
}

TEST(TrainConfig, TheMethodSuppliesWhatWasLeftOpenAndItsOptionsAreChecked) {
  TrainConfig c;
  c.apply_paper_defaults("UCF");
  EXPECT_EQ(c.batch_size, 64);  // ClipClap's (METHOD §5)
  EXPECT_EQ(c.batches_per_epoch, 300);
  EXPECT_DOUBLE_EQ(c.weight_decay, 1e-5);
  EXPECT_TRUE(c.method_options.empty());
  TrainConfig given;
  given.batch_size = 16;
  given.weight_decay = 0;
  given.apply_paper_defaults("UCF");
  EXPECT_EQ(given.batch_size, 16);
  EXPECT_DOUBLE_EQ(given.weight_decay, 0);
  TrainConfig unknown;
  unknown.method = "nope";
  EXPECT_NE(testing::typed_error_of([&] { unknown.apply_paper_defaults("UCF"); }).find("unknown method 'nope' (expected one of clipclap"),
            std::string::npos);
  TrainConfig set_on_clipclap;
  set_on_clipclap.method_options = {{"margin", 0.5}};
  EXPECT_NE(testing::typed_error_of([&] { set_on_clipclap.apply_paper_defaults("UCF"); }).find("method clipclap has no option 'margin'"),
            std::string::npos);
  TrainConfig round;
  apply_json(round, {{"method", "clipclap"}, {"method-options", nlohmann::json::object()}}, "test");
  EXPECT_EQ(to_json(round).at("method"), "clipclap");
  EXPECT_NE(testing::typed_error_of([] { TrainConfig x; apply_json(x, {{"method-options", 3}}, "cfg.json"); }).find("cfg.json"),
            std::string::npos);
}

TEST(TrainConfig, ValidationAndConfigFilesFailInOneLine) {
  TrainConfig c;
  c.batch_size = 1;
  EXPECT_THROW(c.validate(), std::invalid_argument);
  c = TrainConfig{};
  c.threads = -1;
  EXPECT_THROW(c.validate(), std::invalid_argument);
  testing::TempDir tmp;
  std::ofstream(tmp / "good.json") << R"({"seed": 7, "dropout": 0.2})";
  std::ofstream(tmp / "bad.json") << "{ not json";
  TrainConfig from_file;
  apply_json_file(from_file, tmp / "good.json");
  EXPECT_EQ(from_file.seed, 7u);
  EXPECT_DOUBLE_EQ(from_file.dropout, 0.2);
  const std::string bad = testing::typed_error_of([&] { apply_json_file(from_file, tmp / "bad.json"); });
  EXPECT_EQ(bad.rfind("runtime_error: " + (tmp / "bad.json").string() + ": not valid JSON", 0), 0u) << bad;
  EXPECT_NE(testing::typed_error_of([&] { apply_json_file(from_file, tmp / "absent.json"); }).find("absent.json"), std::string::npos);
}

}  // namespace train_config_test
}  // namespace avgzsl::training
