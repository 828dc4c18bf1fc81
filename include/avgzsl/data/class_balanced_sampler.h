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
  // For each video of `batch`, a video of another class: the class uniformly among the others,
  // then one of its videos uniformly (AVCA-GZSL's ContrastiveDataset). Drawn from a random stream
  // of its own, so that batches are the same whether or not a method asks for negatives. Throws
  // std::invalid_argument when there is only one class.
  std::vector<int64_t> negatives(const std::vector<int64_t>& batch);
  int64_t num_classes() const { return static_cast<int64_t>(videos_by_class_.size()); }

 private:
  // Uniform in [0, n) by rejection, so that the sequence depends only on the seed and not on
  // the standard library's distribution implementation.
  static uint64_t uniform_below(std::mt19937_64& rng, uint64_t n);
  uint64_t uniform_below(uint64_t n);

  std::vector<std::vector<int64_t>> videos_by_class_;  // only classes that have videos
  std::vector<size_t> group_of_video_;                 // video index -> index into videos_by_class_
  std::mt19937_64 rng_;
  std::mt19937_64 negative_rng_;
};

}  // namespace avgzsl::data
