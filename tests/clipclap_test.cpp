#include "avgzsl/gzsl/clipclap.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <map>

#include "avgzsl/gzsl/method_checkpoint.h"
#include "avgzsl/gzsl/clipclap_loss.h"
#include "avgzsl/nn/parameter_count.h"
#include "reference_fixture.h"
#include "avgzsl/nn/fused_adam.h"
#include "test_support.h"

namespace avgzsl::gzsl {
namespace {

gzsl::ClipClapOptions tiny_options(int64_t input_dim, int64_t text_dim, int64_t hidden_dim, int64_t embedding_dim,
                             double dropout = 0.1) {
  gzsl::ClipClapOptions o;
  o.input_dim = input_dim;
  o.text_dim = text_dim;
  o.hidden_dim = hidden_dim;
  o.embedding_dim = embedding_dim;
  o.encoder_dropout = o.video_proj_dropout = o.class_proj_dropout = dropout;
  return o;
}

TEST(ClipClap, ParameterNamesMatchTheReferenceStateDict) {
  gzsl::ClipClap model(gzsl::ClipClapOptions{});
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const auto& [name, t] : model->state_dict()) shapes[name] = t.sizes().vec();
  // One-layer block: fc.0 Linear, fc.1 BatchNorm1d (ReLU fc.2 and Dropout fc.3 have no tensors).
  EXPECT_EQ(shapes.at("O_enc.fc.0.weight"), (std::vector<int64_t>{512, 1536}));
  EXPECT_EQ(shapes.at("O_enc.fc.1.running_var"), (std::vector<int64_t>{512}));
  EXPECT_EQ(shapes.at("W_enc.fc.1.num_batches_tracked"), (std::vector<int64_t>{}));
  // Two-layer blocks: the second Linear is fc.4, its BatchNorm fc.5.
  EXPECT_EQ(shapes.at("O_proj.fc.4.weight"), (std::vector<int64_t>{64, 512}));
  EXPECT_EQ(shapes.at("D_o.fc.5.bias"), (std::vector<int64_t>{512}));
  EXPECT_EQ(shapes.at("W_proj.fc.0.weight"), (std::vector<int64_t>{64, 512}));
  EXPECT_EQ(shapes.at("D_w.fc.0.weight"), (std::vector<int64_t>{512, 64}));
  // 6 modules: 2 + 2 + 1 + 1 one-/two-layer blocks -> 8 Linear + 8 BatchNorm; 2 + 5 tensors each.
  EXPECT_EQ(shapes.size(), 8u * 2 + 8u * 5);
}

TEST(ClipClap, PaperModelHasTheHandCountedParameterCount) {
  // O_enc, W_enc: 1536*512+512 + 2*512 each; O_proj: (512*512+512+1024) + (512*64+64+128);
  // D_o: (64*512+512+1024) + (512*512+512+1024); W_proj: 512*64+64+128; D_w: 64*512+512+1024.
  EXPECT_EQ(nn::parameter_count(*gzsl::ClipClap(gzsl::ClipClapOptions{})), 2 * 787968 + 296640 + 297984 + 32960 + 34304);
}

TEST(ClipClap, EmbeddingsAreNonNegativeAndBatchIndependentInEvalMode) {
  torch::manual_seed(0);
  const gzsl::ClipClapOptions o = tiny_options(10, 6, 8, 4);
  gzsl::ClipClap model(o);
  model->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::randn({5, 10});
  const torch::Tensor all = model->embed_videos(x);
  EXPECT_TRUE((all >= 0).all().item<bool>());
  EXPECT_TRUE(torch::allclose(all.narrow(0, 2, 1), model->embed_videos(x.narrow(0, 2, 1)), 1e-6, 1e-6));
  EXPECT_THROW(model->embed_videos(torch::randn({5, 9})), c10::Error);
}

// Values computed by PyTorch itself (tests/fixtures/make_reference_fixtures.py).
class ReferenceParity : public ::testing::Test, public testing::ReferenceFixture {
 protected:
  ReferenceParity() : ReferenceFixture("clipclap_reference.safetensors") {}
  void SetUp() override {
    const gzsl::ClipClapOptions o = tiny_options(12, 10, 16, 8, 0.0);
    model = gzsl::ClipClap(o);
    model->load_state_dict(with_prefix("state."), "fixture");
  }
  gzsl::ClipClap model{nullptr};
};

TEST_F(ReferenceParity, EvalModeEmbeddings) {
  model->eval();
  torch::NoGradGuard no_grad;
  expect_close(model->embed_videos(get("input.x")), "eval.theta_o");
  expect_close(model->embed_classes(get("input.class_text")), "eval.theta_w");
}

TEST_F(ReferenceParity, TrainModeOutputsLossesGradientsAndOneAdamStep) {
  model->train();
  nn::FusedAdam optimizer(model->parameters(), torch::optim::AdamOptions(1e-3).weight_decay(1e-5));
  const gzsl::ClipClapOutputs out = model->forward(get("input.x"), get("input.t"));
  expect_close(out.w, "train.w");
  expect_close(out.theta_o, "train.theta_o");
  expect_close(out.rho_o, "train.rho_o");
  expect_close(out.theta_w, "train.theta_w");
  expect_close(out.rho_w, "train.rho_w");
  const gzsl::LossTerms loss = gzsl::clipclap_loss(*model, out, get("input.class_text"), get("input.target"), gzsl::LossSwitches{});
  expect_close(loss.cross_entropy, "loss.ce");
  expect_close(loss.regression, "loss.reg");
  expect_close(loss.reconstruction, "loss.rec");
  expect_close(loss.total, "loss.total");
  optimizer.zero_grad();
  loss.total.backward();
  for (const auto& p : model->named_parameters()) expect_close(p.value().grad(), "grad." + p.key(), 1e-5);
  optimizer.step();
  // Parameters after the step and BatchNorm running statistics after two passes (batch and classes).
  // A bias right before a BatchNorm has a zero gradient in exact arithmetic; what is left is
  // rounding noise (|g| ~ 1e-9) whose sign depends on the BLAS kernel's summation order, and
  // Adam's first step moves such a parameter by lr times that sign. Those may differ by 2 lr.
  for (const auto& [name, t] : model->state_dict()) {
    const bool noise_gradient = contains("grad." + name) && get("grad." + name).abs().max().item<double>() < 1e-6;
    expect_close(t, "after_step." + name, noise_gradient ? 2e-3 + 1e-5 : 1e-5);
  }
}

// Training batches say which class text each video's text is (text_rows); ClipClap then encodes
// the class texts once instead of the batch's repeated rows. Pinned here to the plain path: the
// same losses, gradients and state after the extra embedding pass, with dropout on (the same draws
// in the same order) and for each loss switch.
TEST(ClipClap, TextRowsGiveThePlainPathsLossesGradientsAndStatistics) {
  const torch::Tensor class_text = torch::randn({7, 20});
  const torch::Tensor target = torch::tensor({0, 3, 3, 6, 1, 0, 2, 5, 3, 4, 6, 6}, torch::kInt64);
  TrainingBatch plain;
  plain.inputs = torch::randn({12, 24});
  plain.class_text = class_text;
  plain.target = target;
  plain.text = class_text.index_select(0, target);
  TrainingBatch rows = plain;
  rows.text_rows = target;
  rows.text = torch::full_like(plain.text, std::nanf(""));   // proves the rows path reads class_text only
  for (const char* losses : {"ce,reg,rec", "reg,rec", "ce"}) {
    SCOPED_TRACE(losses);
    gzsl::ClipClapOptions o = tiny_options(24, 20, 32, 8, 0.2);
    o.losses = parse_losses(losses);
    torch::manual_seed(11);
    gzsl::ClipClap a(o), b(o);
    b->load_state_dict(a->state_dict(), "copy");
    std::vector<MethodLoss> results;
    for (auto* model : {&a, &b}) {
      (*model)->train();
      torch::manual_seed(5);
      results.push_back((*model)->loss(model == &a ? plain : rows));
      results.back().total.backward();
      (*model)->after_step(model == &a ? plain : rows);
    }
    for (size_t t = 0; t < results[0].terms.size(); ++t) {
      EXPECT_NEAR(results[0].terms[t].value.item<double>(), results[1].terms[t].value.item<double>(), 1e-6)
          << results[0].terms[t].name;
    }
    EXPECT_GT(results[0].total.item<double>(), 0);
    const auto grads_a = a->named_parameters(), grads_b = b->named_parameters();
    for (const auto& p : grads_a) {
      const torch::Tensor ga = p.value().grad(), gb = grads_b[p.key()].grad();
      ASSERT_EQ(ga.defined(), gb.defined()) << p.key();
      if (ga.defined()) EXPECT_TRUE(torch::allclose(ga, gb, 1e-4, 1e-6)) << p.key();
    }
    const auto state_a = a->state_dict(), state_b = b->state_dict();
    ASSERT_EQ(state_a.size(), state_b.size());
    for (size_t i = 0; i < state_a.size(); ++i) {
      EXPECT_TRUE(torch::allclose(state_a[i].second, state_b[i].second, 1e-5, 1e-6)) << state_a[i].first;
    }
  }
}

TEST(ClipClapLoss, HandComputedRegressionAndReconstruction) {
  gzsl::ClipClap model(gzsl::ClipClapOptions{});
  gzsl::ClipClapOutputs out;
  out.theta_o = torch::tensor({{1.f, 2.f}});
  out.theta_w = torch::tensor({{0.f, 0.f}});
  out.w = torch::tensor({{0.f, 1.f}});
  out.rho_o = torch::tensor({{1.f, 1.f}});
  out.rho_w = torch::tensor({{0.f, 3.f}});
  const gzsl::LossTerms loss = gzsl::clipclap_loss(*model, out, torch::Tensor(), torch::Tensor(), gzsl::LossSwitches{false, true, true});
  EXPECT_FLOAT_EQ(loss.regression.item<float>(), (1.f + 4.f) / 2);                  // mean of squared differences
  EXPECT_FLOAT_EQ(loss.reconstruction.item<float>(), (1.f + 0.f) / 2 + (0.f + 4.f) / 2);
  EXPECT_FLOAT_EQ(loss.cross_entropy.item<float>(), 0.f);
  EXPECT_FLOAT_EQ(loss.total.item<float>(), 2.5f + 2.5f);
}

TEST(ClipClapLoss, CrossEntropyIsSoftmaxOverTrainingClassScores) {
  torch::manual_seed(1);
  const gzsl::ClipClapOptions o = tiny_options(6, 5, 8, 3);
  gzsl::ClipClap model(o);
  model->eval();  // deterministic class embeddings, so that we can recompute them
  const torch::Tensor class_text = torch::randn({4, 5});
  const torch::Tensor target = torch::tensor({2, 0}, torch::kInt64);
  const gzsl::ClipClapOutputs out = model->forward(torch::randn({2, 6}), class_text.index_select(0, target));
  const gzsl::LossTerms loss = gzsl::clipclap_loss(*model, out, class_text, target, gzsl::LossSwitches{true, false, false});
  const torch::Tensor scores = out.theta_o.matmul(model->embed_classes(class_text).t());  // [2, 4]
  double expected = 0;
  for (int i = 0; i < 2; ++i) {
    const int t = static_cast<int>(target[i].item<int64_t>());
    expected += -(scores[i][t] - scores[i].exp().sum().log()).item<double>();
  }
  EXPECT_NEAR(loss.cross_entropy.item<double>(), expected / 2, 1e-5);
  EXPECT_FLOAT_EQ(loss.regression.item<float>(), 0.f);
}

TEST(ClipClapCheckpoint, RoundTripGivesIdenticalTensorsAndOutputs) {
  testing::TempDir dir;
  torch::manual_seed(4);
  const gzsl::ClipClapOptions o = tiny_options(7, 5, 8, 4);
  gzsl::ClipClap model(o);
  model->train();
  model->forward(torch::randn({6, 7}), torch::randn({6, 5}));  // move the running statistics
  model->eval();
  gzsl::save_method_checkpoint(dir / "ckpt", *model, {{"epoch", 3}});
  const gzsl::MethodCheckpoint loaded = gzsl::load_method_checkpoint(dir / "ckpt");
  EXPECT_EQ(loaded.model->method_name(), "clipclap");
  EXPECT_EQ(loaded.info.at("epoch").get<int>(), 3);
  const auto a = model->state_dict();
  const auto b = loaded.model->state_dict();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first, b[i].first);
    EXPECT_TRUE(torch::equal(a[i].second, b[i].second)) << a[i].first;
  }
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::randn({3, 7});
  const torch::Tensor t = torch::randn({4, 5});
  EXPECT_TRUE(torch::equal(model->distances(x, t), loaded.model->distances(x, t)));
}

TEST(ClipClapCheckpoint, StrictLoadNamesTheOffendingTensor) {
  const gzsl::ClipClapOptions o = tiny_options(7, 5, 8, 4);
  gzsl::ClipClap model(o);
  auto state = model->state_dict();
  state[0].second = torch::zeros({3, 3});
  try {
    model->load_state_dict(state, "x.safetensors");
    FAIL() << "expected a shape error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("O_enc.fc.0.weight"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("x.safetensors"), std::string::npos);
  }
  state = model->state_dict();
  state.emplace_back("extra.weight", torch::zeros({1}));
  EXPECT_THROW(model->load_state_dict(state, "x"), std::runtime_error);
  state = model->state_dict();
  state.pop_back();
  EXPECT_THROW(model->load_state_dict(state, "x"), std::runtime_error);
}

}  // namespace
}  // namespace avgzsl::gzsl
