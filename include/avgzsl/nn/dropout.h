// Dropout (train mode: each element kept with probability 1 - p and scaled by 1 / (1 - p); eval
// mode: the identity), with its mask drawn from a counter-based generator.
//
// LibTorch's dropout on the CPU draws its mask with bernoulli_, one Mersenne-Twister double per
// element in one serial loop: 200 us for a 64x512 activation, about an eighth of a ClipClap
// training step over its 15 dropout layers (docs/performance.md). Here each call takes one 64-bit
// seed from LibTorch's default generator (so torch::manual_seed still fixes every mask) and the
// mask element i is a hash (splitmix64) of (seed, i): the same mask for any number of threads, in
// a loop that vectorises.
//
// The masks are not the ones PyTorch would draw from the same seed. Nothing compares them: the
// parity tests run with dropout 0, as the reference's fixtures do, and the reference's own
// training runs draw on the GPU's generator anyway.
#pragma once

#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>

namespace avgzsl::nn {

class DropoutImpl : public torch::nn::Cloneable<DropoutImpl> {
 public:
  explicit DropoutImpl(double p = 0.5);
  void reset() override {}
  torch::Tensor forward(const torch::Tensor& input);
  double p() const { return p_; }

 private:
  double p_;
};
TORCH_MODULE(Dropout);

// The mask alone, for tests: 0 or 1 / (1 - p) per element of a tensor shaped like `like`.
torch::Tensor dropout_mask(const torch::Tensor& like, double p, uint64_t seed);

}  // namespace avgzsl::nn
