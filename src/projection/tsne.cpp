#include "avgzsl/projection/tsne.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "barnes_hut.h"

namespace avgzsl::projection {

namespace {

// scikit-learn 1.2's constants (manifold/_t_sne.py, manifold/_utils.pyx).
constexpr double kMachineEpsilon = std::numeric_limits<double>::epsilon();  // floor of P and Q
constexpr int kPerplexitySteps = 100;
constexpr double kPerplexityTolerance = 1e-5;  // on the entropy, in nats
constexpr double kZeroSumFloor = 1e-8;        // EPSILON_DBL: a row whose kernel underflowed
constexpr int kCheckEvery = 50;               // _N_ITER_CHECK: error, progress and gradient norm
constexpr int kIterationsWithoutProgress = 300;
constexpr double kMinGradNorm = 1e-7;
constexpr double kMomentumExaggerated = 0.5, kMomentumFinal = 0.8;
constexpr double kGainIncrease = 0.2, kGainDecrease = 0.8, kMinGain = 0.01;
constexpr int64_t kRowsPerBlock = 1024;  // distance blocks: 1024 x N doubles at a time
constexpr int64_t kRowGrain = 16;

// [N, D] float64, contiguous, on the CPU; throws on the wrong rank, too few points, non-finite values.
torch::Tensor checked_points(const torch::Tensor& points, const std::string& what) {
  if (!points.defined() || points.dim() != 2)
    throw std::invalid_argument(what + ": expected a [N, D] tensor, got " +
                                (points.defined() ? std::to_string(points.dim()) + " dimensions" : "none"));
  if (!points.is_floating_point())
    throw std::invalid_argument(what + ": expected floating-point values, got " + std::string(points.dtype().name()));
  if (points.size(0) < 2 || points.size(1) < 1)
    throw std::invalid_argument(what + ": expected at least 2 points of at least 1 dimension, got [" +
                                std::to_string(points.size(0)) + ", " + std::to_string(points.size(1)) + "]");
  auto x = points.to(torch::kCPU, torch::kFloat64).contiguous();
  if (!torch::isfinite(x).all().item<bool>())
    throw std::invalid_argument(what + ": expected finite values, got NaN or infinity");
  return x;
}

void check_perplexity(double perplexity, int64_t n) {
  if (!(perplexity > 0) || !(perplexity < static_cast<double>(n)))
    throw std::invalid_argument("t-SNE: perplexity must be positive and below the number of points (" +
                                std::to_string(n) + "), got " + std::to_string(perplexity));
}

// sklearn's euclidean_distances(squared=True) for rows [begin, end) against all: (-2 x.y + |x|^2)
// + |y|^2, clamped at 0, in that order so that the rounding is theirs. [end - begin, N].
torch::Tensor squared_distances_block(const torch::Tensor& x, const torch::Tensor& norms, int64_t begin, int64_t end) {
  auto d = torch::mm(x.slice(0, begin, end), x.t()).mul_(-2);
  d.add_(norms.slice(0, begin, end).unsqueeze(1)).add_(norms.unsqueeze(0)).clamp_min_(0);
  return d;
}

// sklearn's _binary_search_perplexity for one point: the precision beta of exp(-beta d_j) whose
// entropy is log(perplexity) within 1e-5, by bisection (doubling / halving while unbounded) from
// beta = 1 for at most 100 steps. d are squared distances rounded to float32 as sklearn rounds
// them; `self` (or -1) is left at probability 0. Writes the conditional probabilities to p.
void calibrate_row(const float* d, int64_t n, int64_t self, double desired_entropy, double* p) {
  double beta = 1, beta_min = -std::numeric_limits<double>::infinity(),
         beta_max = std::numeric_limits<double>::infinity();
  for (int64_t j = 0; j < n; ++j) p[j] = 0;
  for (int step = 0; step < kPerplexitySteps; ++step) {
    double sum = 0;
    for (int64_t j = 0; j < n; ++j) {
      if (j == self) continue;
      p[j] = std::exp(-static_cast<double>(d[j]) * beta);
      sum += p[j];
    }
    if (sum == 0.0) sum = kZeroSumFloor;
    double weighted = 0;
    for (int64_t j = 0; j < n; ++j) {
      p[j] /= sum;
      weighted += static_cast<double>(d[j]) * p[j];
    }
    const double difference = std::log(sum) + beta * weighted - desired_entropy;
    if (std::fabs(difference) <= kPerplexityTolerance) break;
    if (difference > 0) {
      beta_min = beta;
      beta = beta_max == std::numeric_limits<double>::infinity() ? beta * 2 : (beta + beta_max) / 2;
    } else {
      beta_max = beta;
      beta = beta_min == -std::numeric_limits<double>::infinity() ? beta / 2 : (beta + beta_min) / 2;
    }
  }
}

// sklearn computes log(perplexity) of a C float.
double desired_entropy(double perplexity) { return std::log(static_cast<double>(static_cast<float>(perplexity))); }

torch::Tensor dense_joint_probabilities(const torch::Tensor& x, double perplexity) {
  const int64_t n = x.size(0);
  const auto norms = x.mul(x).sum(1);
  auto conditional = torch::zeros({n, n}, torch::kFloat64);
  double* c = conditional.data_ptr<double>();
  const double entropy = desired_entropy(perplexity);
  for (int64_t begin = 0; begin < n; begin += kRowsPerBlock) {
    const int64_t end = std::min(n, begin + kRowsPerBlock);
    auto d = squared_distances_block(x, norms, begin, end);
    for (int64_t i = begin; i < end; ++i) d[i - begin][i] = 0;
    const auto d32 = d.to(torch::kFloat32).contiguous();
    const float* dp = d32.data_ptr<float>();
    at::parallel_for(begin, end, kRowGrain, [&](int64_t row_begin, int64_t row_end) {
      for (int64_t i = row_begin; i < row_end; ++i) calibrate_row(dp + (i - begin) * n, n, i, entropy, c + i * n);
    });
  }
  auto p = conditional + conditional.t();
  const double sum = std::max(p.sum().item<double>(), kMachineEpsilon);
  p.div_(sum).clamp_min_(kMachineEpsilon);
  p.fill_diagonal_(0);
  return p;
}

// sklearn's _joint_probabilities_nn over the exact k nearest neighbours (blocked distances, ties
// to the lower index): conditional P over each point's neighbours, P + P^T, normalised by its sum.
detail::SparseP sparse_joint_probabilities(const torch::Tensor& x, double perplexity) {
  const int64_t n = x.size(0);
  const int64_t k = std::min<int64_t>(n - 1, static_cast<int64_t>(3.0 * perplexity + 1));
  const auto norms = x.mul(x).sum(1);
  std::vector<int64_t> neighbours(static_cast<size_t>(n * k));
  std::vector<float> distances(static_cast<size_t>(n * k));
  for (int64_t begin = 0; begin < n; begin += kRowsPerBlock) {
    const int64_t end = std::min(n, begin + kRowsPerBlock);
    const auto d = squared_distances_block(x, norms, begin, end);
    const double* dp = d.data_ptr<double>();
    at::parallel_for(begin, end, kRowGrain, [&](int64_t row_begin, int64_t row_end) {
      std::vector<int64_t> order(static_cast<size_t>(n - 1));
      for (int64_t i = row_begin; i < row_end; ++i) {
        const double* row = dp + (i - begin) * n;
        for (int64_t j = 0, m = 0; j < n; ++j)
          if (j != i) order[m++] = j;
        const auto closer = [row](int64_t a, int64_t b) { return row[a] < row[b] || (row[a] == row[b] && a < b); };
        std::partial_sort(order.begin(), order.begin() + k, order.end(), closer);
        std::sort(order.begin(), order.begin() + k);  // sklearn sorts the kNN graph's columns
        for (int64_t m = 0; m < k; ++m) {
          neighbours[i * k + m] = order[m];
          distances[i * k + m] = static_cast<float>(row[order[m]]);
        }
      }
    });
  }
  std::vector<double> conditional(static_cast<size_t>(n * k));
  const double entropy = desired_entropy(perplexity);
  at::parallel_for(0, n, kRowGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      calibrate_row(distances.data() + i * k, k, -1, entropy, conditional.data() + i * k);
  });

  // P + P^T: each row's entries and its mirrored ones, sorted by column, duplicates summed.
  std::vector<std::vector<std::pair<int64_t, double>>> rows(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t m = 0; m < k; ++m) {
      rows[i].emplace_back(neighbours[i * k + m], conditional[i * k + m]);
      rows[neighbours[i * k + m]].emplace_back(i, conditional[i * k + m]);
    }
  detail::SparseP p;
  p.row_start.push_back(0);
  double sum = 0;
  for (auto& row : rows) {
    std::sort(row.begin(), row.end());
    for (size_t m = 0; m < row.size(); ++m) {
      if (m > 0 && row[m].first == row[m - 1].first) {
        p.values.back() += row[m].second;
      } else {
        p.columns.push_back(row[m].first);
        p.values.push_back(row[m].second);
      }
    }
    p.row_start.push_back(static_cast<int64_t>(p.columns.size()));
  }
  for (double v : p.values) sum += v;
  sum = std::max(sum, kMachineEpsilon);
  for (double& v : p.values) v /= sum;
  return p;
}

// The exact gradient of sklearn's _kl_divergence, 4 sum_j (e p_ij - q_ij) w_ij (y_i - y_j) with
// exaggeration e, as one fused pass per point (attraction, repulsion and its share of Z, in j
// order) and a second one for the error: a chain of [N, N] LibTorch operations was 4x slower
// (15.8 s against 3.9 s for a t-SNE of 1,000 points). Unlike sklearn, q is not floored at machine
// epsilon in the gradient (that changes only pairs whose q is below 2.2e-16); the error floors p
// and q as sklearn does. grad and y are [N, 2] row-major, p [N, N].
void exact_gradient(const double* p, const double* y, int64_t n, double exaggeration, double* grad, double* error) {
  std::vector<double> z_share(static_cast<size_t>(n)), repulsive(static_cast<size_t>(2 * n));
  at::parallel_for(0, n, kRowGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const double xi = y[2 * i], yi = y[2 * i + 1];
      const double* row = p + i * n;
      double z = 0, ax = 0, ay = 0, rx = 0, ry = 0;
      for (int64_t j = 0; j < n; ++j) {
        if (j == i) continue;
        const double dx = xi - y[2 * j], dy = yi - y[2 * j + 1];
        const double w = 1.0 / (1.0 + dx * dx + dy * dy);
        z += w;
        const double pw = row[j] * w, ww = w * w;
        ax += pw * dx;
        ay += pw * dy;
        rx += ww * dx;
        ry += ww * dy;
      }
      z_share[i] = z;
      grad[2 * i] = ax;  // the attraction for now
      grad[2 * i + 1] = ay;
      repulsive[2 * i] = rx;
      repulsive[2 * i + 1] = ry;
    }
  });
  double z = 0;  // summed in point order, whatever the threads
  for (int64_t i = 0; i < n; ++i) z += z_share[i];
  for (int64_t i = 0; i < 2 * n; ++i) grad[i] = 4.0 * (exaggeration * grad[i] - repulsive[i] / z);
  if (!error) return;
  std::vector<double> error_share(static_cast<size_t>(n));
  at::parallel_for(0, n, kRowGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const double xi = y[2 * i], yi = y[2 * i + 1];
      double c = 0;
      for (int64_t j = 0; j < n; ++j) {
        if (j == i) continue;
        const double dx = xi - y[2 * j], dy = yi - y[2 * j + 1];
        const double q = std::max(1.0 / (1.0 + dx * dx + dy * dy) / z, kMachineEpsilon);
        const double pij = exaggeration * p[i * n + j];
        c += pij * std::log(std::max(pij, kMachineEpsilon) / q);
      }
      error_share[i] = c;
    }
  });
  double total = 0;
  for (int64_t i = 0; i < n; ++i) total += error_share[i];
  *error = total;
}

// PCA scores of the first two components, exact (eigendecomposition of the smaller Gram matrix),
// each component's sign chosen so that its largest-magnitude score is positive (sklearn's
// svd_flip convention on U), scaled so that the first column has standard deviation 1e-4.
torch::Tensor pca_initialisation(const torch::Tensor& x) {
  const int64_t n = x.size(0), dims = x.size(1);
  const auto centred = x - x.mean(0, /*keepdim=*/true);
  torch::Tensor scores;  // [N, 2], largest component first
  if (dims <= n) {
    const auto [values, vectors] = torch::linalg_eigh(torch::mm(centred.t(), centred));
    scores = torch::mm(centred, vectors.flip(1).slice(1, 0, std::min<int64_t>(2, dims)));
  } else {
    const auto [values, vectors] = torch::linalg_eigh(torch::mm(centred, centred.t()));
    scores = vectors.flip(1).slice(1, 0, 2) * values.flip(0).slice(0, 0, 2).clamp_min(0).sqrt().unsqueeze(0);
  }
  if (scores.size(1) < 2) scores = torch::cat({scores, torch::zeros({n, 2 - scores.size(1)}, scores.options())}, 1);
  for (int64_t c = 0; c < 2; ++c) {
    auto column = scores.select(1, c);
    const int64_t largest = column.abs().argmax().item<int64_t>();
    if (column[largest].item<double>() < 0) column.neg_();
  }
  const double spread = scores.select(1, 0).std(/*unbiased=*/false).item<double>();
  if (!(spread > 0)) throw std::invalid_argument("t-SNE: the points are all identical, nothing to embed");
  return (scores / spread * 1e-4).contiguous();
}

}  // namespace

torch::Tensor joint_probabilities(const torch::Tensor& points, double perplexity) {
  const auto x = checked_points(points, "joint_probabilities");
  check_perplexity(perplexity, x.size(0));
  return dense_joint_probabilities(x, perplexity);
}

double kl_divergence(const torch::Tensor& p, const torch::Tensor& embedding) {
  const auto y = checked_points(embedding, "kl_divergence");
  const int64_t n = y.size(0);
  if (!p.defined() || p.dim() != 2 || p.size(0) != n || p.size(1) != n)
    throw std::invalid_argument("kl_divergence: expected P of [" + std::to_string(n) + ", " + std::to_string(n) +
                                "] for an embedding of " + std::to_string(n) + " points");
  const auto p64 = p.to(torch::kCPU, torch::kFloat64);
  auto w = torch::zeros({n, n}, torch::kFloat64);
  for (int64_t c = 0; c < y.size(1); ++c) {  // squared distances summed per coordinate, not by a matmul
    const auto column = y.select(1, c);
    w.add_((column.unsqueeze(1) - column.unsqueeze(0)).pow_(2));
  }
  w.add_(1).reciprocal_();
  w.fill_diagonal_(0);
  const auto q = w.div(w.sum()).clamp_min_(kMachineEpsilon);
  auto terms = p64 * (p64.clamp_min(kMachineEpsilon) / q).log_();
  terms.fill_diagonal_(0);
  return terms.sum().item<double>();
}

double trustworthiness(const torch::Tensor& high, const torch::Tensor& low, int k) {
  const auto x = checked_points(high, "trustworthiness");
  const auto y = checked_points(low, "trustworthiness");
  const int64_t n = x.size(0);
  if (y.size(0) != n)
    throw std::invalid_argument("trustworthiness: expected as many embedded points as points, got " +
                                std::to_string(y.size(0)) + " and " + std::to_string(n));
  if (k < 1 || !(static_cast<double>(k) < static_cast<double>(n) / 2))
    throw std::invalid_argument("trustworthiness: expected 1 <= k < N / 2 = " + std::to_string(n / 2.0) + ", got " +
                                std::to_string(k));
  const int64_t dims = y.size(1);
  const double* yp = y.data_ptr<double>();
  const auto norms = x.mul(x).sum(1);
  std::vector<int64_t> penalty(static_cast<size_t>(n));
  for (int64_t begin = 0; begin < n; begin += kRowsPerBlock) {
    const int64_t end = std::min(n, begin + kRowsPerBlock);
    const auto d = squared_distances_block(x, norms, begin, end);
    const double* dp = d.data_ptr<double>();
    at::parallel_for(begin, end, kRowGrain, [&](int64_t row_begin, int64_t row_end) {
      std::vector<double> low_distance(static_cast<size_t>(n));
      std::vector<int64_t> order(static_cast<size_t>(n - 1));
      for (int64_t i = row_begin; i < row_end; ++i) {
        // The k nearest in the embedding (ties to the lower index), distances summed directly as a
        // k-d tree does.
        for (int64_t j = 0; j < n; ++j) {
          double s = 0;
          for (int64_t c = 0; c < dims; ++c) {
            const double diff = yp[i * dims + c] - yp[j * dims + c];
            s += diff * diff;
          }
          low_distance[j] = s;
        }
        for (int64_t j = 0, m = 0; j < n; ++j)
          if (j != i) order[m++] = j;
        std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int64_t a, int64_t b) {
          return low_distance[a] < low_distance[b] || (low_distance[a] == low_distance[b] && a < b);
        });
        // Each one's rank among the input-space neighbours of i (1 = nearest; ties to the lower index).
        const double* row = dp + (i - begin) * n;
        int64_t sum = 0;
        for (int64_t m = 0; m < k; ++m) {
          const int64_t j = order[m];
          int64_t rank = 1;
          for (int64_t l = 0; l < n; ++l)
            if (l != i && (row[l] < row[j] || (row[l] == row[j] && l < j))) ++rank;
          sum += std::max<int64_t>(rank - k, 0);
        }
        penalty[i] = sum;
      }
    });
  }
  int64_t total = 0;
  for (int64_t v : penalty) total += v;
  const double nd = static_cast<double>(n), kd = k;
  return 1.0 - static_cast<double>(total) * (2.0 / (nd * kd * (2.0 * nd - 3.0 * kd - 1.0)));
}

TsneResult tsne(const torch::Tensor& points, const TsneOptions& options) {
  const auto x = checked_points(points, "t-SNE");
  const int64_t n = x.size(0);
  check_perplexity(options.perplexity, n);
  if (options.iterations < 1 || options.exaggeration_iterations < 0 ||
      options.exaggeration_iterations > options.iterations)
    throw std::invalid_argument("t-SNE: expected 0 <= exaggeration_iterations <= iterations and iterations >= 1, got " +
                                std::to_string(options.exaggeration_iterations) + " and " +
                                std::to_string(options.iterations));
  if (!(options.early_exaggeration > 0) || !(options.theta >= 0) || !std::isfinite(options.learning_rate))
    throw std::invalid_argument("t-SNE: expected early_exaggeration > 0, theta >= 0 and a finite learning rate");
  torch::NoGradGuard no_grad;

  TsneResult result;
  result.barnes_hut = n > options.exact_limit;
  torch::Tensor p_dense;
  detail::SparseP p_sparse;
  if (result.barnes_hut) {
    p_sparse = sparse_joint_probabilities(x, options.perplexity);
  } else {
    p_dense = dense_joint_probabilities(x, options.perplexity);
  }
  const double learning_rate = options.learning_rate > 0
                                   ? options.learning_rate
                                   : std::max(static_cast<double>(n) / options.early_exaggeration / 4.0, 50.0);

  auto y = pca_initialisation(x);  // [N, 2]
  auto update = torch::zeros_like(y);
  auto gains = torch::ones_like(y);
  // sklearn's _gradient_descent: one phase from `start` to `stop` with fresh momentum and gains,
  // stopping early when the error (every 50 iterations) has not improved for `patience` iterations
  // or the gradient's norm falls to 1e-7. Returns the last iteration done.
  const auto descend = [&](int start, int stop, double momentum, double exaggeration, int patience) {
    update.zero_();
    gains.fill_(1);
    double best_error = std::numeric_limits<double>::max();
    int best_iteration = start, i = start;
    for (; i < stop; ++i) {
      const bool check = (i + 1) % kCheckEvery == 0;
      double error = 0;
      auto grad = torch::empty_like(y);  // [N, 2]
      if (result.barnes_hut) {
        detail::barnes_hut_gradient(p_sparse, y.data_ptr<double>(), n, options.theta, exaggeration,
                                    grad.data_ptr<double>(), check ? &error : nullptr);
      } else {
        exact_gradient(p_dense.data_ptr<double>(), y.data_ptr<double>(), n, exaggeration, grad.data_ptr<double>(),
                       check ? &error : nullptr);
      }
      const auto increase = (update * grad) < 0;
      gains.copy_(torch::where(increase, gains + kGainIncrease, gains * kGainDecrease)).clamp_min_(kMinGain);
      grad.mul_(gains);
      update.mul_(momentum).sub_(grad, learning_rate);
      y.add_(update);
      if (options.on_iteration && ((i + 1) % kCheckEvery == 0 || i + 1 == options.iterations))
        options.on_iteration(i + 1, options.iterations);
      if (check) {
        if (error < best_error) {
          best_error = error;
          best_iteration = i;
        } else if (i - best_iteration > patience) {
          break;
        }
        if (grad.norm().item<double>() <= kMinGradNorm) break;
      }
    }
    return std::min(i, stop - 1);
  };
  const int exaggeration_iterations = options.exaggeration_iterations;
  int last = -1;
  if (exaggeration_iterations > 0)
    last = descend(0, exaggeration_iterations, kMomentumExaggerated, options.early_exaggeration,
                   exaggeration_iterations);
  if (last + 1 < options.iterations)
    last = descend(last + 1, options.iterations, kMomentumFinal, 1.0, kIterationsWithoutProgress);
  // A progress bar ends full even when the descent stopped early (no progress, tiny gradient).
  if (options.on_iteration && last + 1 < options.iterations) options.on_iteration(options.iterations, options.iterations);

  if (result.barnes_hut) {
    std::vector<double> unused(static_cast<size_t>(2 * n));
    detail::barnes_hut_gradient(p_sparse, y.data_ptr<double>(), n, options.theta, 1.0, unused.data(),
                                &result.kl_divergence);
  } else {
    result.kl_divergence = kl_divergence(p_dense, y);
  }
  result.embedding = y;
  return result;
}

}  // namespace avgzsl::projection
