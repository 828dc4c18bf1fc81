// Batches whose classes are uniform in expectation (METHOD §5): each slot of a batch picks a
// class uniformly among the classes that have videos, then one of its videos uniformly; both
// draws are with replacement.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include <torch/types.h>

namespace avgzsl::data {

class ClassBalancedSampler {
 public:
  // `labels`: [N] int64 class ids of the training videos. Throws std::invalid_argument when
  // `labels` is empty.
  ClassBalancedSampler(const torch::Tensor& labels, uint64_t seed);

  // Indices into `labels` for one batch.
  std::vector<int64_t> next_batch(int64_t batch_size);
  int64_t num_classes() const { return static_cast<int64_t>(videos_by_class_.size()); }

 private:
  // Uniform in [0, n) by rejection, so that the sequence depends only on the seed and not on
  // the standard library's distribution implementation.
  uint64_t uniform_below(uint64_t n);

  std::vector<std::vector<int64_t>> videos_by_class_;  // only classes that have videos
  std::mt19937_64 rng_;
};

}  // namespace avgzsl::data
