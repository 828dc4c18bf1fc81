// Adam (with PyTorch's L2 weight decay, as torch.optim.Adam applies it) in one pass over each
// parameter tensor. LibTorch's Adam makes about nine element-wise passes per tensor, each a
// dispatched operator with its own temporaries; for ClipClap's 2.2M float parameters that was a
// third of a training step (docs/performance.md). Here every element is read and written once.
//
// Hand-written: LibTorch 1.13 has no fused or multi-tensor Adam for the CPU.
//
// The arithmetic is torch.optim.Adam's (amsgrad off), element by element, in float:
//   g = grad + wd * p
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g * g
//   p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// so it agrees with it to float rounding (tests/fused_adam_test.cpp pins it to LibTorch's Adam
// and the method-parity tests to PyTorch's). Each element is independent, so the result does not
// depend on the number of threads.
//
// It is a torch::optim::Optimizer with AdamOptions in its parameter groups, so that schedulers
// that set the learning rate (nn::PlateauScheduler) work on it unchanged. Float32 CPU tensors
// only; anything else is refused at construction.
#pragma once

#include <torch/optim/adam.h>

#include <vector>

namespace avgzsl::nn {

class FusedAdam : public torch::optim::Optimizer {
 public:
  FusedAdam(std::vector<torch::Tensor> params, const torch::optim::AdamOptions& options);

  torch::Tensor step(LossClosure closure = nullptr) override;
  // How many steps have been taken.
  int64_t steps() const { return steps_; }

 private:
  struct Moments {
    torch::Tensor exp_avg, exp_avg_sq;
  };
  std::vector<std::vector<Moments>> moments_;  // [group][parameter]
  int64_t steps_ = 0;
};

}  // namespace avgzsl::nn
