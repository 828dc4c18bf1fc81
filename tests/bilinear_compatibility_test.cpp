#include "avgzsl/gzsl/bilinear_compatibility.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <map>
#include <memory>

#include "avgzsl/reference/reference_checkpoint.h"
#include "reference_fixture.h"
#include "avgzsl/nn/fused_adam.h"
#include "test_support.h"

namespace avgzsl::gzsl {
namespace bilinear_compatibility_test {

// The fixture's sizes (tests/fixtures/make_bilinear_compatibility_fixtures.py).
MethodDims fixture_dims() { return MethodDims{/*visual=*/5, /*audio=*/3, /*text=*/7}; }

MethodSpec spec_of(BilinearRanking ranking) {
  switch (ranking) {
    case BilinearRanking::devise:
      return devise_spec();
    case BilinearRanking::ale:
      return ale_spec();
    case BilinearRanking::sje:
      return sje_spec();
  }
  throw std::logic_error("unknown ranking");
}

BilinearCompatibilityOptions options(double dropout, bool norm_inputs) {
  BilinearCompatibilityOptions o;
  o.dropout_baselines = dropout;
  o.norm_inputs = norm_inputs;
  return o;
}

TEST(BilinearCompatibility, OneBiasFreeWeightUnderTheOriginalName) {
  BilinearCompatibility model(BilinearRanking::devise, MethodDims{512, 1024, 1536}, options(0.2, true));
  const auto state = model.state_dict();
  ASSERT_EQ(state.size(), 1u);
  EXPECT_EQ(state[0].first, "bilinear.weight");
  EXPECT_EQ(state[0].second.sizes(), (std::vector<int64_t>{1536, 512 + 1024}));
  ASSERT_EQ(model.trainable_parameters().size(), 1u);
  EXPECT_TRUE(model.trainable_parameters()[0].is_same(model.bilinear->weight));
}

TEST(BilinearCompatibility, NamesOptionsAndLossSettingsPerMethod) {
  for (const auto& [ranking, name] : std::map<BilinearRanking, std::string>{
           {BilinearRanking::devise, "devise"}, {BilinearRanking::ale, "ale"}, {BilinearRanking::sje, "sje"}}) {
    BilinearCompatibility model(ranking, fixture_dims(), options(0.0, false));
    EXPECT_EQ(model.method_name(), name);
    EXPECT_EQ(model.options_json(), (nlohmann::json{{"dropout_baselines", 0.0}, {"norm_inputs", false}}));
    EXPECT_DOUBLE_EQ(ranking_loss_options(ranking).margin, 0.1);
  }
  EXPECT_EQ(ranking_loss_options(BilinearRanking::devise).reduction, RankingReduction::sum);
  EXPECT_FALSE(ranking_loss_options(BilinearRanking::devise).max_violation);
  EXPECT_EQ(ranking_loss_options(BilinearRanking::ale).reduction, RankingReduction::weighted);
  EXPECT_TRUE(ranking_loss_options(BilinearRanking::sje).max_violation);
  EXPECT_EQ(ranking_loss_options(BilinearRanking::sje).topk, 1);
}

TEST(BilinearCompatibility, RejectsWrongWidthsAndEmptyDims) {
  BilinearCompatibility model(BilinearRanking::ale, fixture_dims(), options(0.0, true));
  model.eval();
  torch::NoGradGuard no_grad;
  EXPECT_THROW(model.distances(torch::randn({4, 9}), torch::randn({3, 7})), c10::Error);  // input width 9 != 8
  EXPECT_THROW(model.distances(torch::randn({4, 8}), torch::randn({3, 6})), c10::Error);  // text width 6 != 7
  EXPECT_THROW(model.distances(torch::randn({8}), torch::randn({3, 7})), c10::Error);
  EXPECT_THROW(BilinearCompatibility(BilinearRanking::ale, MethodDims{0, 0, 7}, options(0.0, true)), std::invalid_argument);
  EXPECT_THROW(BilinearCompatibility(BilinearRanking::ale, MethodDims{5, 3, 0}, options(0.0, true)), std::invalid_argument);
  EXPECT_THROW(BilinearCompatibility(BilinearRanking::ale, fixture_dims(), options(1.0, true)), std::invalid_argument);
}

TEST(BilinearCompatibility, WorksWithOneModality) {
  // x is used whole: an audio-only run is a narrower bilinear map.
  BilinearCompatibility model(BilinearRanking::sje, MethodDims{0, 3, 7}, options(0.2, true));
  model.eval();
  torch::NoGradGuard no_grad;
  EXPECT_EQ(model.distances(torch::randn({4, 3}), torch::randn({6, 7})).sizes(), (std::vector<int64_t>{4, 6}));
}

TEST(BilinearCompatibility, EvalDistancesAreBatchIndependentDespiteDropout) {
  torch::manual_seed(0);
  BilinearCompatibility model(BilinearRanking::devise, fixture_dims(), options(0.5, true));
  model.eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::randn({5, 8});
  const torch::Tensor t = torch::randn({4, 7});
  const torch::Tensor all = model.distances(x, t);
  EXPECT_TRUE(torch::allclose(all.narrow(0, 2, 1), model.distances(x.narrow(0, 2, 1), t), 1e-5, 1e-6));
  EXPECT_TRUE(torch::equal(all, model.distances(x, t)));
}

TEST(ClsContrastiveLoss, HandComputedReductions) {
  // One row, true class 0 with score 1; negatives 1.05 (violates by 0.15), 0.95 (by 0.05),
  // 0.5 (no violation) with margin 0.1.
  const torch::Tensor scores = torch::tensor({{1.0f, 1.05f, 0.95f, 0.5f}});
  const torch::Tensor labels = torch::tensor({0}, torch::kLong);
  ClsContrastiveLossOptions o;
  o.margin = 0.1;
  EXPECT_NEAR(cls_contrastive_loss(scores, labels, o).item<double>(), 0.15 + 0.05, 1e-6);
  o.reduction = RankingReduction::mean;
  EXPECT_NEAR(cls_contrastive_loss(scores, labels, o).item<double>(), (0.15 + 0.05) / 3, 1e-6);
  o.reduction = RankingReduction::weighted;  // rank 2: weight H_2 / 2 = 1.5 / 2
  EXPECT_NEAR(cls_contrastive_loss(scores, labels, o).item<double>(), (0.15 + 0.05) * 0.75, 1e-6);
  o.reduction = RankingReduction::sum;
  o.max_violation = true;
  o.topk = 1;
  EXPECT_NEAR(cls_contrastive_loss(scores, labels, o).item<double>(), 0.15, 1e-6);
  o.topk = 2;
  o.reduction = RankingReduction::mean;
  EXPECT_NEAR(cls_contrastive_loss(scores, labels, o).item<double>(), (0.15 + 0.05) / 2, 1e-6);
  // Two rows: the sum is divided by the batch size.
  o = ClsContrastiveLossOptions{};
  o.margin = 0.1;
  EXPECT_NEAR(cls_contrastive_loss(torch::cat({scores, scores}), torch::tensor({0, 0}, torch::kLong), o).item<double>(),
              0.2, 1e-6);
  EXPECT_THROW(cls_contrastive_loss(scores, torch::tensor({0}, torch::kInt), o), c10::Error);
}

TEST(ClsContrastiveLoss, AleRankWeightsAreHarmonicNumbersAndExtendBeyondTheOriginalTable) {
  const torch::Tensor betas = ale_rank_weights(701);
  EXPECT_EQ(betas[0].item<float>(), 0.f);
  EXPECT_FLOAT_EQ(betas[1].item<float>(), 1.f);
  EXPECT_FLOAT_EQ(betas[3].item<float>(), 1.f + 0.5f + 1.f / 3);
  // A longer table keeps the original's 701 values bit for bit.
  EXPECT_TRUE(torch::equal(ale_rank_weights(1000).narrow(0, 0, 701), betas));
  // 800 classes, all scores equal: every one of the 799 negatives violates by the margin, a rank
  // the original's table cannot index; the weight continues the formula: 799 * 0.1 * H_799 / 799.
  double h799 = 0;
  for (int r = 1; r <= 799; ++r) h799 += 1.0 / r;
  ClsContrastiveLossOptions o = ranking_loss_options(BilinearRanking::ale);
  const torch::Tensor loss = cls_contrastive_loss(torch::zeros({1, 800}), torch::tensor({3}, torch::kLong), o);
  EXPECT_NEAR(loss.item<double>(), 0.1 * h799, 1e-4);
}

// Values computed by PyTorch itself (tests/fixtures/make_bilinear_compatibility_fixtures.py).
class BilinearReferenceParity : public ::testing::Test, public testing::ReferenceFixture {
 protected:
  BilinearReferenceParity() : ReferenceFixture("bilinear_compatibility_reference.safetensors") {}
  std::shared_ptr<BilinearCompatibility> fixture_model(BilinearRanking ranking, double dropout, bool norm_inputs) const {
    auto model = std::make_shared<BilinearCompatibility>(ranking, fixture_dims(), options(dropout, norm_inputs));
    model->load_state_dict({{"bilinear.weight", get("state.bilinear.weight")}}, "fixture");
    return model;
  }
  TrainingBatch batch() const {
    TrainingBatch b;
    b.inputs = get("input.x");
    b.target = get("input.target");
    b.class_text = get("input.class_text");
    b.text = b.class_text.index_select(0, b.target);
    // The methods ignore the negatives; any videos of other classes do.
    b.negative_inputs = b.inputs.roll(1, 0);
    b.negative_text = b.text.roll(1, 0);
    return b;
  }
};

TEST_F(BilinearReferenceParity, TrainModeOutputs) {
  auto model = fixture_model(BilinearRanking::devise, 0.0, true);
  model->train();
  const BilinearCompatibilityOutputs out = model->forward(get("input.x"), get("input.class_text"));
  expect_close(out.logits, "train.logits");
  expect_close(out.projected, "train.projected");
  expect_close(out.text, "train.text");
  expect_close(ale_rank_weights(701), "ale.betas", 0);
}

TEST_F(BilinearReferenceParity, EachLossItsGradientAndOneAdamStep) {
  for (const BilinearRanking ranking : {BilinearRanking::devise, BilinearRanking::ale, BilinearRanking::sje}) {
    auto model = fixture_model(ranking, 0.0, true);
    const std::string name = model->method_name();
    SCOPED_TRACE(name);
    model->train();
    const MethodDefaults defaults = spec_of(ranking).defaults("ucf");
    nn::FusedAdam optimizer(model->trainable_parameters(),
                                 torch::optim::AdamOptions(1e-3).weight_decay(defaults.weight_decay));
    const MethodLoss loss = model->loss(batch());
    ASSERT_EQ(loss.terms.size(), 1u);
    EXPECT_EQ(loss.terms[0].name, "cost_s");
    expect_close(loss.total, name + ".loss");
    expect_close(loss.terms[0].value, name + ".loss");
    optimizer.zero_grad();
    loss.total.backward();
    expect_close(model->bilinear->weight.grad(), name + ".grad.bilinear.weight");
    optimizer.step();
    expect_close(model->bilinear->weight, name + ".after_step.bilinear.weight");
  }
}

TEST_F(BilinearReferenceParity, EvalDistancesWithAndWithoutNormInputs) {
  for (const bool norm_inputs : {true, false}) {
    const std::string key = norm_inputs ? "eval" : "eval_raw";
    auto model = fixture_model(BilinearRanking::ale, 0.2, norm_inputs);  // dropout is off in eval mode
    model->eval();
    torch::NoGradGuard no_grad;
    const BilinearCompatibilityOutputs out = model->forward(get("input.eval_x"), get("input.eval_class_text"));
    expect_close(out.logits, key + ".logits");
    expect_close(out.projected, key + ".projected");
    expect_close(model->distances(get("input.eval_x"), get("input.eval_class_text")), key + ".distances");
  }
}

TEST_F(BilinearReferenceParity, TorchSaveFilesOfTheOriginalLoad) {
  // A bare state_dict (torch.save(model.state_dict())).
  const reference::ReferenceCheckpoint bare =
      reference::read_reference_checkpoint(testing::fixture_dir() / "bilinear_compatibility_state_dict.pt");
  auto model = std::make_shared<BilinearCompatibility>(BilinearRanking::sje, fixture_dims(), options(0.2, true));
  model->load_state_dict(bare.state, "bilinear_compatibility_state_dict.pt");
  model->eval();
  torch::NoGradGuard no_grad;
  expect_close(model->distances(get("input.eval_x"), get("input.eval_class_text")), "eval.distances");
  // save_best_model's dict after the DEVISE step.
  const reference::ReferenceCheckpoint saved =
      reference::read_reference_checkpoint(testing::fixture_dir() / "bilinear_compatibility_checkpoint.pt");
  EXPECT_EQ(saved.epoch, 1);
  EXPECT_EQ(saved.metric, "score");
  model->load_state_dict(saved.state, "bilinear_compatibility_checkpoint.pt");
  expect_close(model->bilinear->weight, "devise.after_step.bilinear.weight");
  // A checkpoint of another shape is refused by name.
  BilinearCompatibility wider(BilinearRanking::sje, MethodDims{6, 3, 7}, options(0.2, true));
  EXPECT_THROW(wider.load_state_dict(bare.state, "bilinear_compatibility_state_dict.pt"), std::runtime_error);
}

TEST(BilinearCompatibilitySpec, DefaultsAreTheRunScripts) {
  for (const MethodSpec& spec : {devise_spec(), ale_spec(), sje_spec()}) {
    SCOPED_TRACE(spec.name);
    EXPECT_FALSE(spec.needs_visual_and_audio);
    for (const std::string family : {"ucf", "activitynet", "vggsound"}) {
      const MethodDefaults d = spec.defaults(family);
      EXPECT_EQ(d.epochs, 50);
      EXPECT_DOUBLE_EQ(d.lr, 1e-3);
      EXPECT_EQ(d.batch_size, 256);
      EXPECT_EQ(d.batches_per_epoch, 500);
      EXPECT_EQ(d.weight_decay, 0.0);
      const double dropout = family == "vggsound" ? 0.0 : 0.2;
      EXPECT_EQ(d.options, (nlohmann::json{{"dropout_baselines", dropout}, {"norm_inputs", true}}));
      const std::shared_ptr<Method> method = spec.make(fixture_dims(), d.options);
      EXPECT_EQ(method->method_name(), spec.name);
      EXPECT_EQ(method->options_json(), d.options);
    }
    EXPECT_THROW(spec.defaults("audioset"), std::invalid_argument);
  }
  EXPECT_EQ(devise_spec().name, "devise");
  EXPECT_EQ(ale_spec().name, "ale");
  EXPECT_EQ(sje_spec().name, "sje");
}

}  // namespace bilinear_compatibility_test
}  // namespace avgzsl::gzsl
