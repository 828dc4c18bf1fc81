#include "avgzsl/nn/poincare_ball.h"

#include <torch/autograd.h>

namespace avgzsl::nn::poincare {

namespace {

constexpr double kArtanhMargin = 1e-5;   // pmath Artanh: clamp to [-1 + 1e-5, 1 - 1e-5]
constexpr double kMinNorm = 1e-5;        // pmath: clamp_min of every norm that divides
constexpr double kBoundaryMargin = 1e-3; // pmath _project: max norm (1 - 1e-3) / sqrt(c)
constexpr double kTanhClamp = 15;        // pmath tanh(x, clamp=15)
constexpr double kMobiusEps = 1e-5;      // pmath _mobius_add: denominator + 1e-5

// pmath's Artanh autograd.Function: the forward clamps, the backward divides by 1 - x^2 of the
// clamped x and passes the gradient through the clamp unchanged.
struct ClampedArtanh : public torch::autograd::Function<ClampedArtanh> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x) {
    const torch::Tensor xc = x.clamp(-1 + kArtanhMargin, 1 - kArtanhMargin);
    ctx->save_for_backward({xc});
    return (torch::log(1 + xc) - torch::log(1 - xc)) * 0.5;
  }
  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grad_output) {
    const torch::Tensor xc = ctx->get_saved_variables()[0];
    return {grad_output[0] / (1 - xc.pow(2))};
  }
};

torch::Tensor row_norm(const torch::Tensor& x) { return x.norm(2, /*dim=*/-1, /*keepdim=*/true); }

}  // namespace

torch::Tensor artanh(const torch::Tensor& x) { return ClampedArtanh::apply(x); }

torch::Tensor project(const torch::Tensor& x, const torch::Tensor& c) {
  const torch::Tensor norm = row_norm(x).clamp_min(kMinNorm);
  const torch::Tensor maxnorm = (1 - kBoundaryMargin) / c.to(x.scalar_type()).pow(0.5);
  return torch::where(norm > maxnorm, x / norm * maxnorm, x);
}

torch::Tensor expmap0(const torch::Tensor& u, const torch::Tensor& c) {
  const torch::Tensor sqrt_c = c.to(u.scalar_type()).pow(0.5);
  const torch::Tensor u_norm = row_norm(u).clamp_min(kMinNorm);
  return (sqrt_c * u_norm).clamp(-kTanhClamp, kTanhClamp).tanh() * u / (sqrt_c * u_norm);
}

torch::Tensor logmap0(const torch::Tensor& y, const torch::Tensor& c) {
  const torch::Tensor sqrt_c = c.to(y.scalar_type()).pow(0.5);
  const torch::Tensor y_norm = row_norm(y).clamp_min(kMinNorm);
  return y / y_norm / sqrt_c * artanh(sqrt_c * y_norm);
}

torch::Tensor mobius_add(const torch::Tensor& x, const torch::Tensor& y, const torch::Tensor& c_in) {
  const torch::Tensor c = c_in.to(x.scalar_type());
  const torch::Tensor x2 = x.pow(2).sum(-1, /*keepdim=*/true);
  const torch::Tensor y2 = y.pow(2).sum(-1, /*keepdim=*/true);
  const torch::Tensor xy = (x * y).sum(-1, /*keepdim=*/true);
  const torch::Tensor num = (1 + 2 * c * xy + c * y2) * x + (1 - c * x2) * y;
  const torch::Tensor denom = 1 + 2 * c * xy + c.pow(2) * x2 * y2;
  return num / (denom + kMobiusEps);
}

torch::Tensor dist(const torch::Tensor& x, const torch::Tensor& y, const torch::Tensor& c_in) {
  const torch::Tensor c = c_in.to(x.scalar_type());
  const torch::Tensor sqrt_c = c.pow(0.5);
  // pmath _dist: norm without keepdim, so a per-row c [B, 1] must lose its last dim too.
  const torch::Tensor s = sqrt_c.dim() > 0 ? sqrt_c.squeeze(-1) : sqrt_c;
  return artanh(s * mobius_add(-x, y, c).norm(2, /*dim=*/-1)) * 2 / s;
}

}  // namespace avgzsl::nn::poincare
