#include "avgzsl/data/class_balanced_sampler.h"

#include <map>
#include <stdexcept>

namespace avgzsl::data {

ClassBalancedSampler::ClassBalancedSampler(const torch::Tensor& labels, uint64_t seed)
    : rng_(seed), negative_rng_(seed ^ 0x9e3779b97f4a7c15ULL) {
  TORCH_CHECK(labels.dim() == 1 && labels.scalar_type() == torch::kInt64,
              "Expected int64 labels of shape [N], but got ", labels.scalar_type(), " ", labels.sizes());
  if (labels.size(0) == 0) throw std::invalid_argument("cannot sample batches from an empty training set");
  const torch::Tensor contiguous = labels.contiguous();
  const auto* y = contiguous.data_ptr<int64_t>();
  std::map<int64_t, std::vector<int64_t>> by_class;  // ordered by class id: deterministic
  for (int64_t i = 0; i < contiguous.size(0); ++i) by_class[y[i]].push_back(i);
  group_of_video_.resize(static_cast<size_t>(contiguous.size(0)));
  for (auto& [cls, members] : by_class) {
    for (int64_t i : members) group_of_video_[static_cast<size_t>(i)] = videos_by_class_.size();
    videos_by_class_.push_back(std::move(members));
  }
}

uint64_t ClassBalancedSampler::uniform_below(std::mt19937_64& rng, uint64_t n) {
  const uint64_t limit = std::numeric_limits<uint64_t>::max() - std::numeric_limits<uint64_t>::max() % n;
  uint64_t x = 0;
  do {
    x = rng();
  } while (x >= limit);
  return x % n;
}

uint64_t ClassBalancedSampler::uniform_below(uint64_t n) { return uniform_below(rng_, n); }

std::vector<int64_t> ClassBalancedSampler::next_batch(int64_t batch_size) {
  std::vector<int64_t> batch(static_cast<size_t>(batch_size));
  for (auto& index : batch) {
    const auto& members = videos_by_class_[uniform_below(videos_by_class_.size())];
    index = members[uniform_below(members.size())];
  }
  return batch;
}

std::vector<int64_t> ClassBalancedSampler::negatives(const std::vector<int64_t>& batch) {
  const uint64_t groups = videos_by_class_.size();
  if (groups < 2) throw std::invalid_argument("negatives need at least two classes with videos");
  std::vector<int64_t> out(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    const uint64_t own = group_of_video_.at(static_cast<size_t>(batch[i]));
    uint64_t other = uniform_below(negative_rng_, groups - 1);
    if (other >= own) ++other;  // uniform over the other classes
    const auto& members = videos_by_class_[other];
    out[i] = members[uniform_below(negative_rng_, members.size())];
  }
  return out;
}

}  // namespace avgzsl::data
