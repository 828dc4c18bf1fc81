// t-SNE (van der Maaten & Hinton 2008) on LibTorch, following van der Maaten's reference
// implementation and scikit-learn's TSNE where they agree: per-point perplexity calibration by
// binary search, symmetrised P, early exaggeration, momentum 0.5 then 0.8 with per-coordinate
// gains (+0.2 / x0.8, floor 0.01), PCA initialisation scaled to std 1e-4, the "auto" learning
// rate max(N / early_exaggeration / 4, 50). Exact gradients up to `exact_limit` points;
// Barnes-Hut (theta) with P sparse over the 3*perplexity nearest neighbours above that.
// Deterministic for a seed and a thread count.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <functional>

namespace avgzsl::projection {

struct TsneOptions {
  double perplexity = 30;
  int iterations = 1000;                // total, including the exaggeration phase
  int exaggeration_iterations = 250;
  double early_exaggeration = 12;
  double learning_rate = 0;             // <= 0: sklearn's "auto"
  uint64_t seed = 0;                    // ties and any randomness (PCA sign is fixed)
  // Above this many points: Barnes-Hut. Measured (docs/tsne.md): the exact O(N^2) gradient costs
  // 1 s at 500 points, 1.3x Barnes-Hut's time there and 1.7x at 750, 2.6x at 2,000.
  int64_t exact_limit = 500;
  double theta = 0.5;                   // Barnes-Hut opening angle
  // Called now and then with (iterations done, total); the CLI draws progress with it.
  std::function<void(int, int)> on_iteration;
};

struct TsneResult {
  torch::Tensor embedding;  // [N, 2] float64
  double kl_divergence = 0; // KL(P || Q) of the final embedding, computed exactly (N <= exact_limit) or by Barnes-Hut's estimate
  bool barnes_hut = false;
};

// points: [N, D] float (any floating dtype), N >= 2, finite. Throws std::invalid_argument on
// bad shape, non-finite values, or a perplexity not below N (sklearn's rule: perplexity < N).
TsneResult tsne(const torch::Tensor& points, const TsneOptions& options = {});

// The symmetrised joint probabilities P [N, N] (float64, exact) that tsne() fits for these
// points: exposed so that tests compare them with sklearn's _joint_probabilities.
torch::Tensor joint_probabilities(const torch::Tensor& points, double perplexity);

// KL(P || Q) of `embedding` [N, 2] under the exact Student-t Q, P from joint_probabilities().
double kl_divergence(const torch::Tensor& p, const torch::Tensor& embedding);

// sklearn.manifold.trustworthiness(high, low, n_neighbors=k, metric="euclidean"): how far the
// k nearest neighbours in `low` are also near in `high` (1 = perfectly). Needs k < N / 2.
double trustworthiness(const torch::Tensor& high, const torch::Tensor& low, int k = 5);

}  // namespace avgzsl::projection
