// Run directories on their own, on a tiny dataset and a few batches: what train_run writes,
// evaluate_run reproducing it, stage 2 continuing stage 1, and the preamble's errors.
#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>

#include "avgzsl/data/dataset.h"
#include "avgzsl/data/synthetic.h"
#include "avgzsl/io/atomic_file.h"
#include "avgzsl/io/safetensors.h"
#include "avgzsl/reference/reference_checkpoint.h"
#include "avgzsl/training/training_run.h"
#include "avgzsl/util/option_error.h"
#include "error_text.h"
#include "test_support.h"

namespace avgzsl::training {
namespace training_run_test {
namespace fs = std::filesystem;

TEST(TrainingRun, WritesARunThatEvaluateReproduces) {
  testing::TempDir tmp;
  data::save_dataset(testing::tiny_dataset(3), tmp / "data");
  std::vector<std::string> lines;
  const TrainRunResult trained = train_run(testing::tiny_train_config(tmp / "data"), tmp / "run", [&](const std::string& l) { lines.push_back(l); });
  ASSERT_TRUE(trained.tested);
  for (const char* f : {"config.json", "stage1.safetensors", "stage1.json", "stage2.safetensors", "results.json", "train.log"}) {
    EXPECT_TRUE(fs::exists(tmp / "run" / f)) << f;
  }
  EXPECT_FALSE(lines.empty());
  const TrainConfig saved = load_run_config(tmp / "run");
  EXPECT_EQ(saved.epochs, 2);
  EXPECT_EQ(saved.hidden_dim, 16);
  const TrainRunResult again = evaluate_run(tmp / "run", data::load_dataset(tmp / "data"));
  EXPECT_EQ(again.summary.test.hm, trained.summary.test.hm);
  EXPECT_EQ(again.summary.test.zsl, trained.summary.test.zsl);
  EXPECT_EQ(again.summary.validation.beta, trained.summary.validation.beta);
  // An existing run is kept unless replacing is asked for.
  EXPECT_NE(testing::typed_error_of([&] { train_run(testing::tiny_train_config(tmp / "data"), tmp / "run", [](const std::string&) {}); }), "");
}

// Run directories written before methods existed (up to 65bd42d): config.json without "method"
// and "method-options", checkpoint descriptions as save_clipclap_checkpoint wrote them
// ({"format": "avgzsl-clipclap-checkpoint", "model": ClipClapOptions without "losses"}, no
// "method", no "dims"). They are ClipClap runs and evaluate to the same numbers.
TEST(TrainingRun, RunsWrittenBeforeMethodsExistedEvaluateAsClipClap) {
  testing::TempDir tmp;
  data::save_dataset(testing::tiny_dataset(3), tmp / "data");
  const TrainRunResult trained = train_run(testing::tiny_train_config(tmp / "data"), tmp / "run", [](const std::string&) {});
  auto rewrite = [&](const fs::path& file, const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json j = nlohmann::json::parse(io::read_file(file));
    edit(j);
    io::write_file_atomically(file, j.dump(2) + "\n");
  };
  rewrite(tmp / "run" / "config.json", [](nlohmann::json& j) {
    j.erase("method");
    j.erase("method-options");
  });
  for (const char* stage : {"stage1.json", "stage2.json"}) {
    rewrite(tmp / "run" / stage, [](nlohmann::json& j) {
      j.erase("method");
      j.erase("dims");
      j["model"].erase("losses");
      j["format"] = "avgzsl-clipclap-checkpoint";
    });
  }
  const TrainRunResult again = evaluate_run(tmp / "run", data::load_dataset(tmp / "data"), "clipclap");
  EXPECT_EQ(again.method, "clipclap");
  EXPECT_EQ(again.summary.test.hm, trained.summary.test.hm);
  EXPECT_EQ(again.summary.test.zsl, trained.summary.test.zsl);
}

TEST(TrainingRun, StageTwoContinuesStageOneWithTheSameResult) {
  testing::TempDir tmp;
  data::save_dataset(testing::tiny_dataset(4), tmp / "data");
  const auto quiet = [](const std::string&) {};
  const TrainRunResult whole = train_run(testing::tiny_train_config(tmp / "data"), tmp / "whole", quiet);
  TrainConfig first = testing::tiny_train_config(tmp / "data");
  first.stage = "1";
  const TrainRunResult stage1 = train_run(first, tmp / "split", quiet);
  EXPECT_FALSE(stage1.tested);
  // A stage-1 run opens without a stage-2 model, and evaluate says why it cannot test it.
  const data::Dataset dataset = data::load_dataset(tmp / "data");
  EXPECT_FALSE(open_run(tmp / "split", dataset).stage2.has_value());
  EXPECT_NE(testing::typed_error_of([&] { evaluate_run(tmp / "split", dataset); })
                .find("stage2.json: not found (a --stage 1 run has no stage-2 model to test)"),
            std::string::npos);
  TrainConfig second;
  second.stage = "2";
  const TrainRunResult stage2 = train_run(second, tmp / "split", quiet);
  ASSERT_TRUE(stage2.tested);
  EXPECT_EQ(stage2.summary.test.hm, whole.summary.test.hm);
  TrainConfig orphan;
  orphan.stage = "2";
  EXPECT_NE(testing::typed_error_of([&] { train_run(orphan, tmp / "nothing", quiet); }).find("stage1.json: not found"), std::string::npos);
}

TEST(TrainingRun, AKillDuringStageTwoDoesNotRetrainStageOne) {
  testing::TempDir tmp;
  data::save_dataset(testing::tiny_dataset(5), tmp / "data");
  const TrainRunResult whole = train_run(testing::tiny_train_config(tmp / "data"), tmp / "whole", [](const std::string&) {});
  // What kill -9 during stage 2 leaves: the staging folder with stage 1's model, its metrics and
  // part of stage 2's rows, no stage-2 model and no results.
  fs::rename(tmp / "whole", tmp / "run.partial");
  for (const char* f : {"stage2.safetensors", "stage2.json", "results.json", "test_per_class.csv"}) fs::remove(tmp / "run.partial" / f);
  const auto stage1_written = fs::last_write_time(tmp / "run.partial/stage1.safetensors");
  std::vector<std::string> lines;
  const TrainRunResult resumed = train_run(testing::tiny_train_config(tmp / "data"), tmp / "run", [&](const std::string& l) { lines.push_back(l); });
  ASSERT_TRUE(resumed.tested);
  EXPECT_EQ(resumed.summary.test.hm, whole.summary.test.hm);
  EXPECT_EQ(resumed.summary.test.zsl, whole.summary.test.zsl);
  EXPECT_EQ(fs::last_write_time(tmp / "run/stage1.safetensors"), stage1_written) << "stage 1 was trained again";
  bool said_so = false;
  for (const std::string& l : lines) said_so |= l.find("resuming: stage 1 finished in an earlier attempt") != std::string::npos;
  EXPECT_TRUE(said_so);
  EXPECT_FALSE(fs::exists(tmp / "run.partial"));

  // Another configuration never reuses the stage 1 of the killed attempt.
  fs::rename(tmp / "run", tmp / "other.partial");
  fs::remove(tmp / "other.partial/stage2.safetensors");
  TrainConfig changed = testing::tiny_train_config(tmp / "data");
  changed.hidden_dim = 12;
  lines.clear();
  train_run(changed, tmp / "other", [&](const std::string& l) { lines.push_back(l); });
  for (const std::string& l : lines) EXPECT_EQ(l.find("resuming"), std::string::npos) << l;
}

TEST(TrainingRun, VideosInATrainingAndAnEvaluationSplitAreRefusedUnlessAllowed) {
  testing::TempDir tmp;
  data::Dataset leaky = testing::tiny_dataset(6);
  const std::string trained_on = leaky.video_splits["stage_1_train"].video_ids[0];
  leaky.video_splits["stage_2_test_seen"].video_ids[0] = trained_on;   // the same video, tested on
  leaky.video_splits["stage_1_val_unseen"].video_ids[1] = leaky.video_splits["stage_1_val_unseen"].video_ids[0];
  const std::vector<std::string> leaks = data::video_leaks(leaky);
  ASSERT_EQ(leaks.size(), 2u);
  EXPECT_EQ(leaks[0].find(trained_on + ": in stage_1_train and stage_2_test_seen") == 0 ||
                leaks[1].find(trained_on + ": in stage_1_train and stage_2_test_seen") == 0,
            true);
  bool twice = false;
  for (const std::string& l : leaks) twice |= l.find(": twice in stage_1_val_unseen") != std::string::npos;
  EXPECT_TRUE(twice);
  data::save_dataset(leaky, tmp / "data");
  const std::string refused = testing::typed_error_of([&] { prepare_training(testing::tiny_train_config(tmp / "data")); });
  EXPECT_NE(refused.find("2 videos leak between training and evaluation"), std::string::npos) << refused;
  EXPECT_NE(refused.find(trained_on), std::string::npos) << refused;
  EXPECT_NE(refused.find("--allow-leakage"), std::string::npos) << refused;
  TrainConfig knowingly = testing::tiny_train_config(tmp / "data");
  knowingly.allow_leakage = true;
  EXPECT_NO_THROW(prepare_training(knowingly));
  EXPECT_TRUE(data::video_leaks(testing::tiny_dataset(6)).empty());
}

// A baseline's checkpoint as its original code saves it (save_best_model's {"epoch", "model",
// "optimizer", "metric"}, written by tests/fixtures/make_bilinear_compatibility_fixtures.py)
// becomes a run that evaluate scores, with the weights unchanged.
TEST(TrainingRun, ABaselinesOriginalCheckpointIsImportedUnderItsMethod) {
  testing::TempDir tmp;
  data::SyntheticOptions o;
  o.videos_scale = 0.1;
  o.visual_dim = 5;  // the fixture's widths: input 5 + 3, text 7 = CLIP 4 + CLAP 3
  o.audio_dim = 3;
  o.clip_dim = 4;
  o.clap_dim = 3;
  o.latent_dim = 2;
  data::save_dataset(data::make_synthetic_dataset(o), tmp / "data");
  const fs::path pt = testing::fixture_dir() / "bilinear_compatibility_checkpoint.pt";
  TrainConfig c;
  c.data = (tmp / "data").string();
  c.method = "devise";
  import_reference_run(c, pt, pt, tmp / "run", [](const std::string&) {});
  EXPECT_EQ(load_run_config(tmp / "run").method, "devise");
  const TrainRunResult scored = evaluate_run(tmp / "run", data::load_dataset(tmp / "data"), "devise");
  EXPECT_EQ(scored.summary.best_epoch, 0);  // the file's "epoch" 1 is the best epoch + 1
  const io::SafetensorsFile imported(tmp / "run" / "stage1.safetensors");
  const reference::ReferenceCheckpoint original = reference::read_reference_checkpoint(pt);
  ASSERT_EQ(original.state.size(), 1u);
  EXPECT_TRUE(torch::equal(imported.tensor("bilinear.weight"), original.state[0].second));
  // The same file under a method whose tensors it lacks is refused, naming the file and a tensor.
  c.method = "clipclap";
  const std::string refused =
      testing::typed_error_of([&] { import_reference_run(c, pt, pt, tmp / "run2", [](const std::string&) {}); });
  EXPECT_EQ(refused.find("runtime_error: " + pt.string() + ": missing tensor 'D_o.fc.0.bias'"), 0u) << refused;
  EXPECT_FALSE(fs::exists(tmp / "run2"));
}

TEST(TrainingRun, PreambleAndMissingRunsFailInOneLine) {
  EXPECT_EQ(testing::typed_error_of([] { prepare_training(TrainConfig{}); }), "invalid_argument: the dataset directory is required");
  try {
    prepare_training(TrainConfig{});
    ADD_FAILURE() << "no OptionError for a missing dataset";
  } catch (const util::OptionError& e) {
    EXPECT_EQ(e.flag_message(), "--data is required");  // what the command line prints
  }
  testing::TempDir tmp;
  data::save_dataset(testing::tiny_dataset(5), tmp / "data");
  TrainConfig c;
  c.data = (tmp / "data").string();
  const TrainingInputs inputs = prepare_training(c);
  EXPECT_GT(inputs.config.epochs, 0);  // the paper's defaults are applied
  EXPECT_GT(inputs.config.lr, 0.0);
  EXPECT_EQ(inputs.dataset.num_classes(), testing::tiny_dataset(5).num_classes());
  EXPECT_EQ(testing::typed_error_of([&] { load_run_config(tmp / "no_run"); }),
            "runtime_error: " + (tmp / "no_run").string() + ": run directory not found");
}

}  // namespace training_run_test
}  // namespace avgzsl::training
