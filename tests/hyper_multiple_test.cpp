#include "avgzsl/gzsl/hyper_multiple.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <functional>
#include <map>

#include "avca_fixture.h"
#include "avgzsl/nn/poincare_ball.h"

namespace avgzsl::hyper_multiple_test {
namespace {

using avca_testing::fixture_dims;
using avca_testing::ReferenceFile;

constexpr char kFile[] = "hyper_multiple_reference.safetensors";

// make_hyper_multiple_fixtures.py: curvature 1.0 (so that project moves some rows), 3 curvatures.
gzsl::HyperMultipleOptions fixture_options() {
  gzsl::HyperMultipleOptions o;
  o.avca = avca_testing::fixture_options();
  o.curvature = 1.0;
  o.num_curvature = 3;
  return o;
}

std::shared_ptr<gzsl::HyperMultiple> loaded_model(const ReferenceFile& file) {
  auto model = std::make_shared<gzsl::HyperMultiple>(fixture_dims(), fixture_options());
  model->load_state_dict(file.with_prefix("state."), kFile);
  return model;
}

// ---- the Poincaré-ball maps on their own ----

using MapFn = std::function<torch::Tensor(const torch::Tensor& x, const torch::Tensor& y, const torch::Tensor& u,
                                          const torch::Tensor& c)>;

// The cases of maps_fixture(): rows of norm r / sqrt(c), r from 0 past the boundary (1.3).
const std::map<std::string, MapFn>& map_cases() {
  namespace P = nn::poincare;
  static const std::map<std::string, MapFn> cases = {
      {"project", [](auto& x, auto&, auto&, auto& c) { return P::project(x, c); }},
      {"logmap0", [](auto& x, auto&, auto&, auto& c) { return P::logmap0(x, c); }},
      {"logmap0_projected", [](auto& x, auto&, auto&, auto& c) { return P::logmap0(P::project(x, c), c); }},
      {"expmap0", [](auto&, auto&, auto& u, auto& c) { return P::expmap0(u, c); }},
      {"mobius_add", [](auto& x, auto& y, auto&, auto& c) { return P::mobius_add(P::project(x, c), y, c); }},
      {"dist", [](auto& x, auto& y, auto&, auto& c) { return P::dist(P::project(x, c), y, c).unsqueeze(-1); }},
      {"artanh", [](auto& x, auto&, auto&, auto& c) { return P::artanh(x.norm(2, -1, true) * c.pow(0.5)); }},
  };
  return cases;
}

TEST(PoincareBall, MapsAndTheirGradientsMatchHyptorchUpToAndBeyondTheBoundary) {
  const ReferenceFile file(kFile);
  const torch::Tensor w = file.get("maps.w");
  for (const char* c_kind : {"scalar", "per_row"}) {
    const torch::Tensor c0 = std::string(c_kind) == "scalar" ? file.get("maps.c") : file.get("maps.per_row_c");
    for (const auto& [name, fn] : map_cases()) {
      const std::string key = std::string("maps.") + c_kind + "." + name;
      if (!file.contains(key + ".value")) continue;  // dist: scalar c only
      std::map<std::string, torch::Tensor> in = {{"x", file.get("maps.x")}, {"y", file.get("maps.y")},
                                                 {"u", file.get("maps.u")}, {"c", c0.clone()}};
      for (auto& [_, t] : in) t.requires_grad_(true);
      const torch::Tensor value = fn(in["x"], in["y"], in["u"], in["c"]);
      file.expect_close(value, key + ".value");
      (value * w.narrow(1, 0, value.size(-1))).sum().backward();
      for (const auto& [g, t] : in) {
        if (file.contains(key + ".grad_" + g)) file.expect_close(t.grad(), key + ".grad_" + g);
      }
    }
  }
}

TEST(PoincareBall, ProjectKeepsPointsInsideTheBall) {
  const torch::Tensor c = torch::tensor(0.25);
  const torch::Tensor x = torch::tensor({{3.0f, 4.0f}, {0.3f, 0.4f}});  // norms 5 (outside radius 2) and 0.5
  const torch::Tensor p = nn::poincare::project(x, c);
  EXPECT_NEAR(p[0].norm().item<double>(), 0.999 * 2, 1e-5);
  EXPECT_TRUE(torch::equal(p[1], x[1]));
  // expmap0 and logmap0 invert each other inside the ball.
  const torch::Tensor u = torch::tensor({{0.5f, -1.0f}});
  EXPECT_TRUE(torch::allclose(nn::poincare::logmap0(nn::poincare::expmap0(u, c), c), u, 1e-4, 1e-5));
}

// ---- the model ----

TEST(HyperMultiple, StateDictIsAvcasPlusFusenet1) {
  const ReferenceFile file(kFile);
  gzsl::HyperMultiple model(fixture_dims(), fixture_options());
  std::map<std::string, std::vector<int64_t>> ours, theirs;
  for (const auto& [name, t] : model.state_dict()) ours[name] = t.sizes().vec();
  for (const auto& [name, t] : file.with_prefix("state.")) theirs[name] = t.sizes().vec();
  EXPECT_EQ(ours, theirs);
  EXPECT_EQ(ours.at("fusenet1.weight"), (std::vector<int64_t>{3, 2 * 4}));
  // The optimiser: AVCA's list (no pos_emb1D) plus fusenet1's weight and bias.
  EXPECT_EQ(model.trainable_parameters().size(), model.parameters().size() - 1);
  EXPECT_TRUE(model.trainable_parameters().back().is_same(model.fusenet1->bias));
}

TEST(HyperMultiple, CurvaturesMatchPyTorch) {
  const ReferenceFile file(kFile);
  auto model = loaded_model(file);
  model->train();
  const gzsl::AvcaForward f = model->forward_pass(file.batch());
  file.expect_forward(f);
  file.expect_close(model->curvatures(f.phi_v, f.phi_a), "train.curvatures");
}

TEST(HyperMultiple, OneTrainingStepMatchesPyTorch) {
  const ReferenceFile file(kFile);
  auto model = loaded_model(file);
  file.expect_training_step(*model);
  file.expect_distances(*model, "eval_after_step");
}

TEST(HyperMultiple, EvaluationIsAvcasEuclideanDistance) {
  const ReferenceFile file(kFile);
  auto model = loaded_model(file);
  file.expect_distances(*model, "eval_initial");
  gzsl::HyperMultiple from_pt(fixture_dims(), fixture_options());
  file.expect_torch_save_loads(from_pt, "hyper_multiple_state_dict.pt");
}

TEST(HyperMultiple, DefaultsAreAvcasRunScriptLinesWithMultipleCurvatures) {
  const gzsl::MethodSpec spec = gzsl::hyper_multiple_spec();
  EXPECT_EQ(spec.name, "hyper-multiple");
  EXPECT_TRUE(spec.needs_visual_and_audio);
  for (const char* family : {"ucf", "activitynet", "vggsound"}) {
    const gzsl::MethodDefaults d = spec.defaults(family);
    const gzsl::MethodDefaults avca = gzsl::avca_defaults(family);
    EXPECT_EQ(d.epochs, avca.epochs);
    EXPECT_DOUBLE_EQ(d.lr, avca.lr);
    EXPECT_EQ(d.batch_size, avca.batch_size);
    EXPECT_EQ(d.batches_per_epoch, avca.batches_per_epoch);
    EXPECT_DOUBLE_EQ(d.weight_decay, 1e-5);
    nlohmann::json expected = avca.options;
    expected["curvature"] = 0.01;  // --curvature 0.01 in every hyper_avca.sh line
    expected["num_curvature"] = 2;
    EXPECT_EQ(d.options, expected) << family;
    const auto model = spec.make(gzsl::MethodDims{6, 5, 4}, d.options);
    EXPECT_EQ(model->method_name(), "hyper-multiple");
    EXPECT_EQ(model->options_json(), d.options);
  }
}

TEST(HyperMultiple, BadOptionsAndInputsThrow) {
  nlohmann::json options = gzsl::hyper_multiple_defaults("ucf").options;
  options["num_curvature"] = 0;  // the original's argparse default, which cannot run
  EXPECT_THROW(gzsl::hyper_multiple_options_from_json(options), std::invalid_argument);
  options.erase("num_curvature");
  EXPECT_THROW(gzsl::hyper_multiple_options_from_json(options), std::invalid_argument);
  gzsl::HyperMultiple model(fixture_dims(), fixture_options());
  model.eval();
  torch::NoGradGuard no_grad;
  EXPECT_THROW(model.distances(torch::randn({3, 10}), torch::randn({2, 4})), c10::Error);
}

}  // namespace
}  // namespace avgzsl::hyper_multiple_test
