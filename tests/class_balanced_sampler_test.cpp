#include "avgzsl/data/class_balanced_sampler.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <map>

namespace avgzsl {
namespace {

double chi_square(const std::vector<int64_t>& counts) {
  double total = 0;
  for (auto c : counts) total += static_cast<double>(c);
  const double expected = total / static_cast<double>(counts.size());
  double x2 = 0;
  for (auto c : counts) x2 += (static_cast<double>(c) - expected) * (static_cast<double>(c) - expected) / expected;
  return x2;
}

TEST(ClassBalancedSampler, ClassesAreUniformDespiteImbalance) {
  // Class 3 has 1000 videos, class 8 has 10, class 5 has 100; class 4 has none.
  std::vector<int64_t> labels;
  labels.insert(labels.end(), 1000, 3);
  labels.insert(labels.end(), 10, 8);
  labels.insert(labels.end(), 100, 5);
  const torch::Tensor y = torch::tensor(labels, torch::kInt64);
  data::ClassBalancedSampler sampler(y, 42);
  EXPECT_EQ(sampler.num_classes(), 3);
  std::map<int64_t, int64_t> per_class;
  std::vector<int64_t> per_video_of_class8(10, 0);
  for (int b = 0; b < 500; ++b) {
    for (int64_t i : sampler.next_batch(64)) {
      ASSERT_GE(i, 0);
      ASSERT_LT(i, y.size(0));
      ++per_class[labels[i]];
      if (labels[i] == 8) ++per_video_of_class8[i - 1000];
    }
  }
  ASSERT_EQ(per_class.size(), 3u);
  // Chi-square bounds at p = 0.001: 13.82 for 2 degrees of freedom, 27.88 for 9.
  EXPECT_LT(chi_square({per_class[3], per_class[5], per_class[8]}), 13.82);
  EXPECT_LT(chi_square(per_video_of_class8), 27.88);
}

TEST(ClassBalancedSampler, SameSeedSameBatches) {
  const torch::Tensor y = torch::randint(0, 7, {300}, torch::kInt64);
  data::ClassBalancedSampler a(y, 9), b(y, 9), c(y, 10);
  const auto first = a.next_batch(64);
  EXPECT_EQ(first, b.next_batch(64));
  EXPECT_NE(first, c.next_batch(64));
}

TEST(ClassBalancedSampler, RejectsAnEmptyTrainingSet) {
  EXPECT_THROW(data::ClassBalancedSampler(torch::zeros({0}, torch::kInt64), 1), std::invalid_argument);
}

}  // namespace
}  // namespace avgzsl
