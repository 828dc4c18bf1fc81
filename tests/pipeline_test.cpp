// The protocol end to end on the synthetic test bed at reduced size.
#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "avgzsl/data/synthetic.h"
#include "avgzsl/training/ablation.h"
#include "avgzsl/training/protocol.h"
#include "avgzsl/training/stage_training.h"
#include "avgzsl/util/threads.h"
#include "test_support.h"

namespace avgzsl::training {
namespace {

training::TrainConfig small_config() {
  training::TrainConfig c;
  c.epochs = 4;
  c.batches_per_epoch = 40;
  c.lr = 1e-3;
  c.seed = 3;
  c.apply_paper_defaults("synthetic-ucf");  // ClipClap's batch size and weight decay
  return c;
}

TEST(StageTraining, SameSeedGivesBitIdenticalModelsAndMetrics) {
  const data::Dataset d = testing::tiny_dataset();
  const data::ProtocolSets sets = data::build_protocol_sets(d, data::Modality::kBoth, data::LabelSource::kBoth);
  training::TrainConfig c = small_config();
  c.epochs = 2;
  c.batches_per_epoch = 10;
  const training::StageResult a = training::train_stage(1, sets.stage1_train, sets.validation, sets.class_text, training::method_dims(sets), c, c.epochs, nullptr, "");
  const training::StageResult b = training::train_stage(1, sets.stage1_train, sets.validation, sets.class_text, training::method_dims(sets), c, c.epochs, nullptr, "");
  const auto sa = a.model->state_dict(), sb = b.model->state_dict();
  for (size_t i = 0; i < sa.size(); ++i) EXPECT_TRUE(torch::equal(sa[i].second, sb[i].second)) << sa[i].first;
  for (int e = 0; e < c.epochs; ++e) {
    EXPECT_EQ(a.epochs[e].loss, b.epochs[e].loss);
    EXPECT_EQ(a.epochs[e].validation.hm, b.epochs[e].validation.hm);
  }
  c.seed = 4;
  const training::StageResult other = training::train_stage(1, sets.stage1_train, sets.validation, sets.class_text, training::method_dims(sets), c, c.epochs, nullptr, "");
  EXPECT_NE(other.epochs[0].loss, a.epochs[0].loss);
}

TEST(StageTraining, BestEpochStateIsTheModelOfThatEpoch) {
  const data::Dataset d = testing::tiny_dataset();
  const data::ProtocolSets sets = data::build_protocol_sets(d, data::Modality::kBoth, data::LabelSource::kBoth);
  training::TrainConfig c = small_config();
  c.batches_per_epoch = 8;
  const training::StageResult r = training::train_stage(1, sets.stage1_train, sets.validation, sets.class_text, training::method_dims(sets), c, c.epochs, nullptr, "");
  ASSERT_GE(r.best_epoch, 0);
  for (const auto& e : r.epochs) EXPECT_LE(e.validation.hm, r.epochs[r.best_epoch].validation.hm);
  const training::ModelPtr best = training::model_from_state(c, training::method_dims(sets), r.best_state);
  const metrics::GzslScores again = training::search_beta(*best, sets.validation, sets.class_text);
  EXPECT_EQ(again.hm, r.epochs[r.best_epoch].validation.hm);
  EXPECT_EQ(again.beta, r.epochs[r.best_epoch].validation.beta);
}

TEST(ScopedTorchThreads, SetsLibTorchsPoolForItsScopeAndLeavesTheBlasAlone) {
  using GetThreads = int (*)();
  const auto blas_threads = reinterpret_cast<GetThreads>(::dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  const int before = at::get_num_threads();
  util::configure_threads(2);
  {
    const util::ScopedTorchThreads one(1);
    EXPECT_EQ(at::get_num_threads(), 1);
    if (blas_threads != nullptr) EXPECT_EQ(blas_threads(), 2);
  }
  EXPECT_EQ(at::get_num_threads(), 2);
  if (blas_threads != nullptr) EXPECT_EQ(blas_threads(), 2);
  util::configure_threads(before);
}

// Full protocol on the synthetic benchmark (paper dimensions, fewer videos and batches).
class SyntheticProtocol : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    data::SyntheticOptions o;
    o.videos_scale = 0.5;
    dataset_ = new data::Dataset(data::make_synthetic_dataset(o));
  }
  static void TearDownTestSuite() { delete dataset_; }
  static training::ProtocolSummary run(data::Modality m, data::LabelSource l, gzsl::LossSwitches losses = {},
                                       uint64_t seed = 3) {
    training::TrainConfig c = small_config();
    c.seed = seed;
    c.modality = m;
    c.labels = l;
    c.losses = losses;
    training::ProtocolHooks hooks;
    hooks.show_progress = false;
    return training::run_protocol(c, data::build_protocol_sets(*dataset_, m, l), hooks).summary;
  }
  static data::Dataset* dataset_;
};
data::Dataset* SyntheticProtocol::dataset_ = nullptr;

TEST_F(SyntheticProtocol, BothModalitiesAndBothLabelSourcesBeatEitherAlone) {
  // Four epochs of 40 batches leave one seed's test HM a few points either way (the order of
  // "both" and "CLIP only" flipped for one seed in four when rounding changed); the finding is
  // asserted on the mean of four seeds, each run as `avgzsl train --seed S` would.
  const std::vector<uint64_t> seeds = {3, 4, 5, 6};
  const auto mean_test = [&](data::Modality m, data::LabelSource l) {
    training::ProtocolSummary mean;
    for (uint64_t seed : seeds) {
      const training::ProtocolSummary s = run(m, l, {}, seed);
      mean.test.hm += s.test.hm / seeds.size();
      mean.test.zsl += s.test.zsl / seeds.size();
      mean.best_epoch = std::max(mean.best_epoch, s.best_epoch);
    }
    return mean;
  };
  const training::ProtocolSummary both = mean_test(data::Modality::kBoth, data::LabelSource::kBoth);
  const training::ProtocolSummary audio = mean_test(data::Modality::kAudio, data::LabelSource::kClap);
  const training::ProtocolSummary visual = mean_test(data::Modality::kVisual, data::LabelSource::kClip);
  const training::ProtocolSummary clip_only = mean_test(data::Modality::kBoth, data::LabelSource::kClip);
  const training::ProtocolSummary clap_only = mean_test(data::Modality::kBoth, data::LabelSource::kClap);
  // Chance is 1/51 for GZSL and 1/9 for ZSL; the full model is far above both.
  EXPECT_GT(both.test.hm, 0.30) << "HM " << both.test.hm;
  EXPECT_GT(both.test.zsl, 0.40) << "ZSL " << both.test.zsl;
  EXPECT_GT(both.test.hm, audio.test.hm + 0.05);
  EXPECT_GT(both.test.hm, visual.test.hm + 0.05);
  EXPECT_GT(both.test.hm, clip_only.test.hm + 0.02);
  EXPECT_GT(both.test.hm, clap_only.test.hm + 0.02);
  EXPECT_EQ(both.best_epoch >= 0 && both.best_epoch < 4, true);
}

TEST(Ablation, VariantsCoverThePapersThreeFamilies) {
  const auto v = training::ablation_variants(training::TrainConfig{});
  ASSERT_EQ(v.size(), 9u);
  EXPECT_EQ(v[0].config.modality, data::Modality::kAudio);
  EXPECT_EQ(v[0].config.label_source(), data::LabelSource::kClap);
  EXPECT_EQ(v[4].config.label_source(), data::LabelSource::kClap);
  EXPECT_FALSE(v[6].config.losses.cross_entropy);
  EXPECT_FALSE(v[6].config.losses.reconstruction);
  EXPECT_TRUE(v[7].config.losses.cross_entropy);
  // The full model appears once per family with the same configuration.
  EXPECT_EQ(to_json(v[2].config), to_json(v[5].config));
  EXPECT_EQ(to_json(v[2].config), to_json(v[8].config));
}

TEST(ResultTable, ShowsMeanAndStdOverSeeds) {
  training::ProtocolSummary a, b;
  a.test.hm = 0.5;
  b.test.hm = 0.6;
  a.best_epoch = 1;
  b.best_epoch = 3;
  const std::string table = training::format_result_table({{"row", {a, b}}});
  EXPECT_NE(table.find("55.00 ± 7.07"), std::string::npos) << table;
  EXPECT_NE(table.find("2.0 ± 1.4"), std::string::npos) << table;
}

}  // namespace
}  // namespace avgzsl::training
