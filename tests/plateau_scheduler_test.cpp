#include "avgzsl/nn/plateau_scheduler.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "avgzsl/io/atomic_file.h"
#include "test_support.h"

namespace avgzsl::nn {
namespace {

TEST(PlateauScheduler, FollowsPyTorchReduceLROnPlateau) {
  // Metric sequence and learning rates recorded from torch.optim.lr_scheduler.ReduceLROnPlateau
  // ("max", patience 3) by tests/fixtures/make_reference_fixtures.py.
  const auto fixture = nlohmann::json::parse(io::read_file(testing::fixture_dir() / "plateau_reference.json"));
  torch::Tensor p = torch::zeros({1}, torch::requires_grad());
  torch::optim::Adam adam({p}, torch::optim::AdamOptions(7e-5));
  PlateauScheduler scheduler(adam, PlateauOptions{});
  const auto metrics = fixture["metrics"].get<std::vector<double>>();
  const auto lrs = fixture["lrs"].get<std::vector<double>>();
  ASSERT_EQ(metrics.size(), lrs.size());
  for (size_t i = 0; i < metrics.size(); ++i) {
    scheduler.step(metrics[i]);
    EXPECT_NEAR(scheduler.learning_rate(), lrs[i], lrs[i] * 1e-12) << "after epoch " << i;
  }
}

TEST(PlateauScheduler, ReducesAfterPatienceEpochsWithoutRelativeGain) {
  torch::Tensor p = torch::zeros({1}, torch::requires_grad());
  torch::optim::Adam adam({p}, torch::optim::AdamOptions(1.0));
  PlateauScheduler scheduler(adam, PlateauOptions{});
  EXPECT_FALSE(scheduler.step(1.0));
  EXPECT_FALSE(scheduler.step(1.00005));  // below the 1e-4 relative threshold: a bad epoch
  EXPECT_FALSE(scheduler.step(1.0));
  EXPECT_FALSE(scheduler.step(1.0));
  EXPECT_TRUE(scheduler.step(1.0));       // fourth bad epoch > patience 3
  EXPECT_DOUBLE_EQ(scheduler.learning_rate(), 0.1);
}

}  // namespace
}  // namespace avgzsl::nn
