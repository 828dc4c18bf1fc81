// Every registered method through the shared machinery: its options and checkpoint round trip,
// a short run of `avgzsl train` that `evaluate` reproduces and that beats nothing but its own
// numbers, and the refusals that depend on the method. The methods' values against their
// originals are in their own parity tests.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "avgzsl/data/dataset.h"
#include "avgzsl/gzsl/method_checkpoint.h"
#include "avgzsl/io/atomic_file.h"
#include "avgzsl/gzsl/method_registry.h"
#include "avgzsl/training/ablation.h"
#include "avgzsl/training/training_run.h"
#include "error_text.h"
#include "test_support.h"

namespace avgzsl {
namespace every_method_test {
namespace fs = std::filesystem;

std::vector<std::string> method_names() {
  std::vector<std::string> out;
  for (const auto& spec : gzsl::all_methods()) out.push_back(spec.name);
  return out;
}

class EveryMethod : public ::testing::TestWithParam<std::string> {
 protected:
  const gzsl::MethodSpec& spec() const { return gzsl::method_spec(GetParam()); }
};

TEST_P(EveryMethod, OptionsAndCheckpointsRoundTripToTheSameModel) {
  const gzsl::MethodDims dims{6, 5, 7};
  const gzsl::MethodDefaults defaults = spec().defaults("ucf");
  EXPECT_GT(defaults.epochs, 0);
  EXPECT_GT(defaults.lr, 0);
  EXPECT_GE(defaults.batch_size, 2);
  EXPECT_GT(defaults.batches_per_epoch, 0);
  torch::manual_seed(1);
  const auto model = spec().make(dims, defaults.options);
  EXPECT_EQ(model->method_name(), GetParam());
  EXPECT_EQ(model->dims().input(), 11);
  // What a checkpoint records rebuilds the same architecture.
  const auto again = spec().make(dims, model->options_json());
  ASSERT_EQ(again->state_dict().size(), model->state_dict().size());
  model->train();
  {
    // Move the BatchNorm statistics away from their initial values before saving.
    gzsl::TrainingBatch b;
    b.inputs = torch::rand({8, 11});
    b.text = torch::rand({8, 7});
    b.target = torch::arange(8, torch::kInt64) % 4;
    b.negative_inputs = torch::rand({8, 11});
    b.negative_text = torch::rand({8, 7});
    b.class_text = torch::rand({4, 7});
    model->loss(b).total.backward();
  }
  model->eval();
  testing::TempDir tmp;
  gzsl::save_method_checkpoint(tmp / "ckpt", *model, {{"stage", 1}});
  const gzsl::MethodCheckpoint loaded = gzsl::load_method_checkpoint(tmp / "ckpt");
  EXPECT_EQ(loaded.model->method_name(), GetParam());
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::rand({5, 11}), t = torch::rand({3, 7});
  const torch::Tensor d = model->distances(x, t);
  EXPECT_EQ(d.sizes(), (std::vector<int64_t>{5, 3}));
  EXPECT_TRUE(torch::equal(d, loaded.model->distances(x, t)));
  // Where a method has one joint space (for the t-SNE figure), its distances are measured there.
  const std::set<std::string> two_spaces = {"cjme", "avgzslnet"};
  const std::optional<gzsl::JointEmbeddings> joint = model->joint_embeddings(x, t);
  ASSERT_EQ(joint.has_value(), two_spaces.count(GetParam()) == 0);
  if (joint) {
    EXPECT_EQ(joint->videos.size(0), 5);
    EXPECT_EQ(joint->classes.size(0), 3);
    EXPECT_TRUE(torch::allclose(torch::cdist(joint->videos, joint->classes), d, 1e-5, 1e-6));
  }
}

TEST_P(EveryMethod, TrainsTheProtocolAndEvaluateReproducesIt) {
  testing::TempDir tmp;
  data::save_dataset(testing::tiny_dataset(2), tmp / "data");
  training::TrainConfig c;
  c.data = (tmp / "data").string();
  c.method = GetParam();
  c.epochs = 2;
  c.batches_per_epoch = 3;
  c.batch_size = 16;
  c.threads = 1;
  const auto quiet = [](const std::string&) {};
  const training::TrainRunResult trained = training::train_run(c, tmp / "run", quiet);
  ASSERT_TRUE(trained.tested);
  EXPECT_TRUE(std::isfinite(trained.summary.test.hm));
  const training::TrainConfig saved = training::load_run_config(tmp / "run");
  EXPECT_EQ(saved.method, GetParam());
  EXPECT_EQ(saved.batch_size, 16);
  const training::TrainRunResult again = training::evaluate_run(tmp / "run", data::load_dataset(tmp / "data"), GetParam());
  EXPECT_EQ(again.summary.test.hm, trained.summary.test.hm);
  EXPECT_EQ(again.summary.test.zsl, trained.summary.test.zsl);
  const training::OpenedRun opened = training::open_run(tmp / "run", data::load_dataset(tmp / "data"));
  EXPECT_EQ(opened.best_epoch, trained.summary.best_epoch);
  EXPECT_TRUE(opened.stage2.has_value());
  // A run of one method is not taken for another's.
  const std::string other = GetParam() == "clipclap" ? "avca" : "clipclap";
  EXPECT_NE(testing::typed_error_of([&] { training::evaluate_run(tmp / "run", data::load_dataset(tmp / "data"), other); })
                .find("a run of method " + GetParam() + ", not " + other),
            std::string::npos);
  // The log says which method ran, and which inputs and text it uses.
  EXPECT_NE(io::read_file(tmp / "run" / "train.log").find("method: " + spec().summary), std::string::npos);
  // The loss columns are the method's own terms.
  const std::string csv = io::read_file(tmp / "run" / "validation_metrics.csv");
  EXPECT_EQ(csv.rfind("stage,epoch,lr,loss", 0), 0u) << csv;
}

TEST_P(EveryMethod, OptionsItDoesNotHaveAndModalitiesItCannotUseAreRefused) {
  training::TrainConfig c;
  c.method = GetParam();
  c.method_options = {{"no_such_option", 1}};
  EXPECT_NE(testing::typed_error_of([&] { c.apply_paper_defaults("UCF"); }).find("has no option 'no_such_option'"),
            std::string::npos);
  if (GetParam() == "clipclap") return;
  training::TrainConfig with_clipclap_option;
  with_clipclap_option.method = GetParam();
  with_clipclap_option.hidden_dim = 32;
  EXPECT_NE(testing::typed_error_of([&] { with_clipclap_option.apply_paper_defaults("UCF"); })
                .find("--hidden-dim is an option of clipclap"),
            std::string::npos);
  training::TrainConfig audio_only;
  audio_only.method = GetParam();
  audio_only.modality = data::Modality::kAudio;
  const std::string error = testing::typed_error_of([&] { audio_only.apply_paper_defaults("UCF"); });
  EXPECT_EQ(error.empty(), !spec().needs_visual_and_audio) << error;
  // The ablation rows that do not apply are reported, not run.
  training::TrainConfig base;
  base.method = GetParam();
  base.apply_paper_defaults("UCF");
  std::set<std::string> not_applicable;
  for (const auto& v : training::ablation_variants(base)) {
    if (!v.not_applicable.empty()) not_applicable.insert(v.family + ":" + v.variant);
  }
  EXPECT_EQ(not_applicable.count("losses:reg"), 1u);
  EXPECT_EQ(not_applicable.count("modality:audio"), spec().needs_visual_and_audio ? 1u : 0u);
  EXPECT_EQ(not_applicable.count("labels:clip"), 0u);
}

INSTANTIATE_TEST_SUITE_P(Registry, EveryMethod, ::testing::ValuesIn(method_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           for (char& ch : name) {
                             if (ch == '-') ch = '_';
                           }
                           return name;
                         });

}  // namespace every_method_test
}  // namespace avgzsl
