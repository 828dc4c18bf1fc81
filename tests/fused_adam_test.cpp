#include "avgzsl/nn/fused_adam.h"

#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "avgzsl/nn/plateau_scheduler.h"

namespace avgzsl::nn {
namespace {

// Parameters of a few shapes (one below and one above the per-thread grain) with gradients that
// change every step; the same sequence for both optimisers.
struct Trajectory {
  std::vector<torch::Tensor> params;
  explicit Trajectory(uint64_t seed) {
    torch::manual_seed(seed);
    for (const auto& shape : std::vector<std::vector<int64_t>>{{512, 300}, {7}, {64, 3}, {1}}) {
      params.push_back(torch::randn(shape).requires_grad_(true));
    }
  }
  // Gradients of step `k`: a fixed function of the parameters and k, so both runs see the same.
  void set_gradients(int k) {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < params.size(); ++i) {
      torch::Tensor g = torch::sin(params[i] * (k + 1) + static_cast<double>(i)) * 1e-2;
      if (k % 3 == 2) g.mul_(1e-6);   // tiny gradients: eps dominates the denominator
      params[i].mutable_grad() = g;
    }
  }
};

torch::optim::AdamOptions options() { return torch::optim::AdamOptions(7e-5).weight_decay(1e-5); }

TEST(FusedAdam, FollowsLibTorchAdamOverManySteps) {
  Trajectory ours(3), theirs(3);
  FusedAdam fused(ours.params, options().betas({0.8, 0.99}).eps(1e-6));
  torch::optim::Adam plain(theirs.params, options().betas({0.8, 0.99}).eps(1e-6));
  for (int k = 0; k < 50; ++k) {
    ours.set_gradients(k);
    theirs.set_gradients(k);
    fused.step();
    plain.step();
  }
  EXPECT_EQ(fused.steps(), 50);
  for (size_t i = 0; i < ours.params.size(); ++i) {
    const torch::Tensor moved = (theirs.params[i] - Trajectory(3).params[i]).abs().max();
    EXPECT_GT(moved.item<double>(), 1e-4) << "parameter " << i << " did not move";
    // Same formula in float, rounded in another order in a few places: a few ulps after 50 steps.
    EXPECT_TRUE(torch::allclose(ours.params[i], theirs.params[i], /*rtol=*/1e-6, /*atol=*/1e-7))
        << "parameter " << i << " differs by " << (ours.params[i] - theirs.params[i]).abs().max().item<double>();
  }
}

TEST(FusedAdam, SameBitsForAnyThreadCount) {
  const int threads = at::get_num_threads();
  std::vector<torch::Tensor> results;
  for (int n : {1, 2, 3}) {
    at::set_num_threads(n);
    Trajectory t(5);
    FusedAdam adam(t.params, options());
    for (int k = 0; k < 10; ++k) {
      t.set_gradients(k);
      adam.step();
    }
    results.push_back(t.params.front().detach().clone());
  }
  at::set_num_threads(threads);
  EXPECT_TRUE(torch::equal(results[0], results[1]));
  EXPECT_TRUE(torch::equal(results[0], results[2]));
}

TEST(FusedAdam, SkipsParametersWithoutGradientAndFollowsTheScheduler) {
  torch::Tensor a = torch::ones({3}, torch::requires_grad()), b = torch::ones({3}, torch::requires_grad());
  FusedAdam adam({a, b}, torch::optim::AdamOptions(1.0));
  a.mutable_grad() = torch::ones({3});
  adam.step();
  // Adam's first step moves every element by lr (m / sqrt(v) = 1 after bias correction).
  EXPECT_TRUE(torch::allclose(a, torch::zeros({3}), 0, 1e-6));
  EXPECT_TRUE(torch::equal(b, torch::ones({3})));

  PlateauOptions plateau;
  plateau.patience = 0;
  PlateauScheduler scheduler(adam, plateau);
  scheduler.step(1.0);
  scheduler.step(0.5);   // worse: lr 1.0 -> 0.1
  EXPECT_DOUBLE_EQ(scheduler.learning_rate(), 0.1);
  const torch::Tensor before = a.detach().clone();
  adam.step();
  EXPECT_NEAR((before - a).abs().max().item<double>(), 0.1, 1e-3);
}

TEST(FusedAdam, RefusesWhatItDoesNotImplement) {
  EXPECT_THROW(FusedAdam({torch::ones({2}, torch::dtype(torch::kFloat64).requires_grad(true))}, options()), c10::Error);
  EXPECT_THROW(FusedAdam({torch::ones({2}, torch::requires_grad())}, options().amsgrad(true)), c10::Error);
  EXPECT_THROW(FusedAdam({torch::ones({4, 4}, torch::requires_grad()).t()}, options()), c10::Error);
}

}  // namespace
}  // namespace avgzsl::nn
