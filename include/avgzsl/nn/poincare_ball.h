// Maps of the Poincaré ball of curvature -c (the ball of radius 1/sqrt(c)), with the numerical
// safeguards of hyptorch's pmath.py (github.com/leymir/hyperbolic-image-embeddings, as vendored
// by Hyper-AVZSL's hyptorch/pmath.py), so that results match it to float rounding:
//
//   artanh(x)        = 0.5 (log(1 + x) - log(1 - x)), x clamped to [-1 + 1e-5, 1 - 1e-5]; its
//                      gradient is g / (1 - x_clamped^2) even where the clamp is active (pmath's
//                      Artanh autograd.Function), not 0 as a clamp's gradient would be
//   project(x, c)    = x scaled onto the radius (1 - 1e-3) / sqrt(c) where ||x|| exceeds it
//                      (||x|| clamped below at 1e-5)
//   expmap0(u, c)    = tanh(sqrt(c) ||u||) u / (sqrt(c) ||u||), tanh's argument clamped to
//                      [-15, 15], ||u|| clamped below at 1e-5
//   logmap0(y, c)    = artanh(sqrt(c) ||y||) y / (||y|| sqrt(c)), ||y|| clamped below at 1e-5
//   mobius_add(x,y,c)= ((1 + 2c<x,y> + c||y||^2) x + (1 - c||x||^2) y)
//                      / (1 + 2c<x,y> + c^2 ||x||^2 ||y||^2 + 1e-5)
//   dist(x, y, c)    = 2 / sqrt(c) artanh(sqrt(c) ||(-x) (+)_c y||)
//
// Points are rows: x [..., D]; norms over the last dim. `c` is a tensor that broadcasts against
// [..., 1] (a scalar tensor, or one curvature per row [B, 1]); sqrt(c) is c^0.5 as pmath writes it.
#pragma once

#include <torch/types.h>

namespace avgzsl::nn::poincare {

torch::Tensor artanh(const torch::Tensor& x);
torch::Tensor project(const torch::Tensor& x, const torch::Tensor& c);
torch::Tensor expmap0(const torch::Tensor& u, const torch::Tensor& c);
torch::Tensor logmap0(const torch::Tensor& y, const torch::Tensor& c);
torch::Tensor mobius_add(const torch::Tensor& x, const torch::Tensor& y, const torch::Tensor& c);
// Geodesic distance per row: x, y [..., D] -> [...].
torch::Tensor dist(const torch::Tensor& x, const torch::Tensor& y, const torch::Tensor& c);

}  // namespace avgzsl::nn::poincare
