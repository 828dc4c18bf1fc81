#include "avgzsl/nn/dropout.h"

#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

namespace avgzsl::nn {
namespace {

TEST(Dropout, KeepsOneMinusPOfTheElementsScaledLikeLibTorch) {
  torch::manual_seed(0);
  Dropout dropout(0.1);
  dropout->train();
  const torch::Tensor x = torch::rand({1000, 1000}) + 0.5;
  const torch::Tensor y = dropout(x);
  const torch::Tensor kept = y != 0;
  // 1e6 Bernoulli(0.9) draws: standard deviation of the mean 3e-4.
  EXPECT_NEAR(kept.to(torch::kFloat64).mean().item<double>(), 0.9, 1.5e-3);
  // A kept element is x / 0.9 as LibTorch computes it: x * (1 / 0.9f).
  EXPECT_TRUE(torch::equal(y.masked_select(kept), (x * (1.0f / 0.9f)).masked_select(kept)));
  // Neighbouring draws are independent: P(both kept) = 0.81.
  const torch::Tensor flat = kept.flatten().to(torch::kFloat64);
  EXPECT_NEAR((flat.narrow(0, 0, flat.size(0) - 1) * flat.narrow(0, 1, flat.size(0) - 1)).mean().item<double>(), 0.81, 2e-3);
  // Rows and columns alike (no pattern along either axis of a 2-D activation).
  const torch::Tensor per_column = kept.to(torch::kFloat64).mean(0);
  EXPECT_LT((per_column - 0.9).abs().max().item<double>(), 0.05);
}

TEST(Dropout, IsTheIdentityInEvalModeAndAtZero) {
  const torch::Tensor x = torch::randn({64, 32});
  Dropout dropout(0.3);
  dropout->eval();
  EXPECT_TRUE(torch::equal(dropout(x), x));
  Dropout none(0.0);
  none->train();
  EXPECT_TRUE(torch::equal(none(x), x));
  Dropout all(1.0);
  all->train();
  EXPECT_TRUE(torch::equal(all(x), torch::zeros_like(x)));
}

TEST(Dropout, TheSeedFixesTheMaskForAnyThreadCount) {
  Dropout dropout(0.1);
  dropout->train();
  const torch::Tensor x = torch::ones({300, 512});   // above the per-thread grain: split across threads
  const int threads = at::get_num_threads();
  std::vector<torch::Tensor> masks;
  for (int n : {1, 2, 3}) {
    at::set_num_threads(n);
    torch::manual_seed(7);
    masks.push_back(dropout(x));
  }
  at::set_num_threads(threads);
  EXPECT_TRUE(torch::equal(masks[0], masks[1]));
  EXPECT_TRUE(torch::equal(masks[0], masks[2]));
  // The next call draws a new mask; another seed another one.
  EXPECT_FALSE(torch::equal(dropout(x), masks[0]));
  torch::manual_seed(8);
  EXPECT_FALSE(torch::equal(dropout(x), masks[0]));
}

TEST(Dropout, TheGradientIsTheMask) {
  torch::manual_seed(3);
  Dropout dropout(0.25);
  dropout->train();
  const torch::Tensor x = torch::randn({64, 100}, torch::requires_grad());
  const torch::Tensor y = dropout(x);
  y.sum().backward();
  const torch::Tensor mask = (y != 0).to(torch::kFloat32) * (1.0f / 0.75f);
  EXPECT_TRUE(torch::equal(x.grad(), mask));
}

TEST(Dropout, RefusesProbabilitiesOutsideZeroToOne) {
  EXPECT_THROW(Dropout(-0.1), c10::Error);
  EXPECT_THROW(Dropout(1.5), c10::Error);
  EXPECT_THROW(dropout_mask(torch::ones({2}), 1.0, 0), c10::Error);
}

}  // namespace
}  // namespace avgzsl::nn
