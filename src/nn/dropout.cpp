#include "avgzsl/nn/dropout.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <mutex>

namespace avgzsl::nn {

namespace {

constexpr int64_t kGrain = 1 << 15;

// splitmix64's output function (Steele, Lea, Flood 2014): a bijective hash of a 64-bit counter
// whose outputs pass BigCrush as a sequence.
inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Elements [begin, end): the top 24 bits of the hash as a uniform draw in [0, 2^24).
__attribute__((target_clones("avx512f", "avx2", "default")))
void fill_mask(float* __restrict mask, int64_t begin, int64_t end, uint64_t seed, uint32_t keep_below, float scale) {
  for (int64_t i = begin; i < end; ++i) {
    const auto draw = static_cast<uint32_t>(splitmix64(seed + static_cast<uint64_t>(i)) >> 40);
    mask[i] = draw < keep_below ? scale : 0.0f;
  }
}

uint64_t next_seed() {
  at::Generator generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  return at::check_generator<at::CPUGeneratorImpl>(generator)->random64();
}

}  // namespace

torch::Tensor dropout_mask(const torch::Tensor& like, double p, uint64_t seed) {
  TORCH_CHECK(p >= 0 && p < 1, "Expected a dropout probability in [0, 1), but got ", p);
  torch::Tensor mask = torch::empty(like.sizes(), torch::kFloat32);
  // P(keep) = keep_below / 2^24, the nearest such fraction to 1 - p.
  const auto keep_below = static_cast<uint32_t>(std::llround((1.0 - p) * (1 << 24)));
  const float scale = 1.0f / static_cast<float>(1.0 - p);   // as LibTorch's noise.div_(1 - p)
  float* data = mask.data_ptr<float>();
  at::parallel_for(0, mask.numel(), kGrain,
                   [&](int64_t begin, int64_t end) { fill_mask(data, begin, end, seed, keep_below, scale); });
  return mask;
}

DropoutImpl::DropoutImpl(double p) : p_(p) {
  TORCH_CHECK(p >= 0 && p <= 1, "Expected a dropout probability in [0, 1], but got ", p);
}

torch::Tensor DropoutImpl::forward(const torch::Tensor& input) {
  if (!is_training() || p_ == 0) return input;
  if (p_ == 1) return input * 0;
  TORCH_CHECK(input.scalar_type() == torch::kFloat32 && input.device().is_cpu(),
              "avgzsl's Dropout draws float32 CPU masks, but got ", input.scalar_type(), " on ", input.device());
  return input * dropout_mask(input, p_, next_seed());
}

}  // namespace avgzsl::nn
