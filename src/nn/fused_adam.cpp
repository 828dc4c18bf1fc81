#include "avgzsl/nn/fused_adam.h"

#include <ATen/Parallel.h>
#include <torch/autograd.h>

#include <cmath>
#include <tuple>

namespace avgzsl::nn {

namespace {

// Elements per thread task: below this, splitting costs more than it saves.
constexpr int64_t kGrain = 1 << 15;

struct StepScalars {
  float weight_decay, beta1, one_minus_beta1, beta2, one_minus_beta2, bias_correction2_sqrt, eps, step_size;
};

// Elements [begin, end) of one tensor. Compiled for AVX-512, AVX2 and plain x86-64, chosen when
// the program loads; all three round identically (no FMA contraction, see src/CMakeLists.txt).
__attribute__((target_clones("avx512f", "avx2", "default")))
void adam_update_range(float* __restrict p, const float* __restrict g, float* __restrict m, float* __restrict v,
                       int64_t begin, int64_t end, const StepScalars& s) {
  for (int64_t i = begin; i < end; ++i) {
    const float grad = g[i] + s.weight_decay * p[i];   // weight_decay 0 adds an exact 0
    const float exp_avg = m[i] * s.beta1 + s.one_minus_beta1 * grad;
    const float exp_avg_sq = v[i] * s.beta2 + s.one_minus_beta2 * grad * grad;
    m[i] = exp_avg;
    v[i] = exp_avg_sq;
    const float denom = std::sqrt(exp_avg_sq) / s.bias_correction2_sqrt + s.eps;
    p[i] = p[i] - s.step_size * (exp_avg / denom);
  }
}

// One parameter tensor, one pass.
void adam_update(float* p, const float* g, float* m, float* v, int64_t n, const StepScalars& s) {
  at::parallel_for(0, n, kGrain, [&](int64_t begin, int64_t end) { adam_update_range(p, g, m, v, begin, end, s); });
}

}  // namespace

FusedAdam::FusedAdam(std::vector<torch::Tensor> params, const torch::optim::AdamOptions& options)
    : torch::optim::Optimizer({torch::optim::OptimizerParamGroup(std::move(params))},
                              std::make_unique<torch::optim::AdamOptions>(options)) {
  const auto& [beta1, beta2] = options.betas();
  TORCH_CHECK(options.lr() >= 0 && options.eps() >= 0 && options.weight_decay() >= 0, "Invalid Adam options: lr ",
              options.lr(), ", eps ", options.eps(), ", weight_decay ", options.weight_decay());
  TORCH_CHECK(0 <= beta1 && beta1 < 1 && 0 <= beta2 && beta2 < 1, "Invalid Adam betas (", beta1, ", ", beta2, ")");
  TORCH_CHECK(!options.amsgrad(), "FusedAdam does not implement amsgrad");
  for (const auto& group : param_groups()) {
    std::vector<Moments> moments;
    for (const auto& p : group.params()) {
      TORCH_CHECK(p.scalar_type() == torch::kFloat32 && p.device().is_cpu() && p.is_contiguous(),
                  "FusedAdam updates contiguous float32 CPU tensors, but got ", p.scalar_type(), " on ", p.device());
      moments.push_back({torch::zeros_like(p), torch::zeros_like(p)});
    }
    moments_.push_back(std::move(moments));
  }
}

torch::Tensor FusedAdam::step(LossClosure closure) {
  torch::NoGradGuard no_grad;
  torch::Tensor loss;
  if (closure) {
    torch::AutoGradMode enable_grad(true);
    loss = closure();
  }
  ++steps_;
  for (size_t gi = 0; gi < param_groups().size(); ++gi) {
    auto& group = param_groups()[gi];
    const auto& options = static_cast<const torch::optim::AdamOptions&>(group.options());
    const auto& [beta1, beta2] = options.betas();
    // The scalars as torch.optim.Adam forms them (in double), then rounded to float once, as
    // ATen rounds a Scalar for a float tensor.
    const double bias_correction1 = 1 - std::pow(beta1, static_cast<double>(steps_));
    const double bias_correction2 = 1 - std::pow(beta2, static_cast<double>(steps_));
    const StepScalars s{static_cast<float>(options.weight_decay()), static_cast<float>(beta1),
                        static_cast<float>(1 - beta1),           static_cast<float>(beta2),
                        static_cast<float>(1 - beta2),           static_cast<float>(std::sqrt(bias_correction2)),
                        static_cast<float>(options.eps()),       static_cast<float>(options.lr() / bias_correction1)};
    for (size_t pi = 0; pi < group.params().size(); ++pi) {
      torch::Tensor& p = group.params()[pi];
      if (!p.grad().defined()) continue;
      const torch::Tensor grad = p.grad().contiguous();
      Moments& moments = moments_[gi][pi];
      adam_update(p.data_ptr<float>(), grad.data_ptr<float>(), moments.exp_avg.data_ptr<float>(),
                  moments.exp_avg_sq.data_ptr<float>(), p.numel(), s);
    }
  }
  return loss;
}

}  // namespace avgzsl::nn
