#include "barnes_hut.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace avgzsl::projection::detail {

namespace {
// Below this a cell's points are copies of one point for all purposes: 2^-52 of the root's width.
constexpr int kMaxDepth = 52;
// Points per parallel_for task: enough tree walks to amortise the task, small enough to balance.
constexpr int64_t kGrain = 64;
}  // namespace

QuadTree::QuadTree(const double* y, int64_t n) : y_(y), order_(n) {
  if (n >= std::numeric_limits<int32_t>::max() / 8)
    throw std::invalid_argument("Barnes-Hut t-SNE: at most " + std::to_string(std::numeric_limits<int32_t>::max() / 8) +
                                " points, got " + std::to_string(n));
  for (int64_t i = 0; i < n; ++i) order_[i] = i;
  double min_x = std::numeric_limits<double>::infinity(), min_y = min_x;
  double max_x = -min_x, max_y = -min_x;
  for (int64_t i = 0; i < n; ++i) {
    min_x = std::min(min_x, y[2 * i]);
    max_x = std::max(max_x, y[2 * i]);
    min_y = std::min(min_y, y[2 * i + 1]);
    max_y = std::max(max_y, y[2 * i + 1]);
  }
  cells_.reserve(static_cast<size_t>(4 * n + 1));
  cells_.emplace_back();
  build(0, 0, n, min_x, min_y, max_x, max_y, 0);
}

void QuadTree::build(int64_t cell, int64_t begin, int64_t end, double min_x, double min_y, double max_x, double max_y,
                     int depth) {
  double sum_x = 0, sum_y = 0;
  bool all_same = true;
  for (int64_t k = begin; k < end; ++k) {
    const double* p = y_ + 2 * order_[k];
    sum_x += p[0];
    sum_y += p[1];
    all_same = all_same && p[0] == y_[2 * order_[begin]] && p[1] == y_[2 * order_[begin] + 1];
  }
  const double width = std::max(max_x - min_x, max_y - min_y);
  Cell& c = cells_[cell];
  c.count = static_cast<int32_t>(end - begin);
  c.child = static_cast<int32_t>(-begin);
  if (c.count > 0) {
    c.center_of_mass[0] = sum_x / static_cast<double>(c.count);
    c.center_of_mass[1] = sum_y / static_cast<double>(c.count);
  }
  c.squared_width = width * width;
  if (c.count <= 1 || all_same || depth >= kMaxDepth) return;  // a leaf

  // Quadrants 0..3 = (x above the middle) + 2 (y above the middle), points grouped in that order.
  const double mid_x = 0.5 * (min_x + max_x), mid_y = 0.5 * (min_y + max_y);
  auto* first = order_.data() + begin;
  auto* last = order_.data() + end;
  auto* split_y = std::partition(first, last, [&](int64_t i) { return y_[2 * i + 1] <= mid_y; });
  auto* split_low = std::partition(first, split_y, [&](int64_t i) { return y_[2 * i] <= mid_x; });
  auto* split_high = std::partition(split_y, last, [&](int64_t i) { return y_[2 * i] <= mid_x; });
  const int64_t bounds[5] = {begin, split_low - order_.data(), split_y - order_.data(), split_high - order_.data(), end};

  const auto first_child = static_cast<int64_t>(cells_.size());
  cells_[cell].child = static_cast<int32_t>(first_child);  // `c` may dangle after the resize
  cells_.resize(cells_.size() + 4);
  for (int q = 0; q < 4; ++q) {
    const bool right = q & 1, top = q & 2;
    build(first_child + q, bounds[q], bounds[q + 1], right ? mid_x : min_x, top ? mid_y : min_y,
          right ? max_x : mid_x, top ? max_y : mid_y, depth + 1);
  }
}

double QuadTree::repulsion(int64_t i, double theta, double* force) const {
  const double xi = y_[2 * i], yi = y_[2 * i + 1];
  const double squared_theta = theta * theta;
  double z = 0, fx = 0, fy = 0;
  // Depth-first with an explicit stack: at most 3 pending siblings per level plus the root.
  int64_t stack[3 * kMaxDepth + 8];
  int top = 0;
  stack[top++] = 0;
  while (top > 0) {
    const Cell& c = cells_[stack[--top]];
    if (c.child <= 0) {
      // A leaf: its points one by one, so that copies of y_i count as w = 1 and y_i itself not at all.
      for (int64_t k = -int64_t{c.child}, end = k + c.count; k < end; ++k) {
        const int64_t j = order_[k];
        if (j == i) continue;
        const double dx = xi - y_[2 * j], dy = yi - y_[2 * j + 1];
        const double w = 1.0 / (1.0 + dx * dx + dy * dy);
        z += w;
        fx += w * w * dx;
        fy += w * w * dy;
      }
      continue;
    }
    const double dx = xi - c.center_of_mass[0], dy = yi - c.center_of_mass[1];
    const double squared_distance = dx * dx + dy * dy;
    if (c.squared_width < squared_theta * squared_distance) {
      const double w = 1.0 / (1.0 + squared_distance);
      const double count = static_cast<double>(c.count);
      z += count * w;
      fx += count * w * w * dx;
      fy += count * w * w * dy;
    } else {
      for (int q = 3; q >= 0; --q)
        if (cells_[c.child + q].count > 0) stack[top++] = c.child + q;
    }
  }
  force[0] = fx;
  force[1] = fy;
  return z;
}

void barnes_hut_gradient(const SparseP& p, const double* y, int64_t n, double theta, double exaggeration,
                         double* grad, double* error) {
  const QuadTree tree(y, n);
  std::vector<double> repulsive(static_cast<size_t>(2 * n));
  std::vector<double> z_share(static_cast<size_t>(n));
  at::parallel_for(0, n, kGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) z_share[i] = tree.repulsion(i, theta, &repulsive[2 * i]);
  });
  double z = 0;  // summed in point order, whatever the threads
  for (int64_t i = 0; i < n; ++i) z += z_share[i];

  std::vector<double> error_share(error ? static_cast<size_t>(n) : 0);
  const double tiny = std::numeric_limits<double>::min();
  at::parallel_for(0, n, kGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const double xi = y[2 * i], yi = y[2 * i + 1];
      double ax = 0, ay = 0, c = 0;
      for (int64_t k = p.row_start[i]; k < p.row_start[i + 1]; ++k) {
        const int64_t j = p.columns[k];
        const double dx = xi - y[2 * j], dy = yi - y[2 * j + 1];
        const double w = 1.0 / (1.0 + dx * dx + dy * dy);
        const double pij = exaggeration * p.values[k];
        ax += pij * w * dx;
        ay += pij * w * dy;
        if (error) c += pij * std::log(std::max(pij, tiny) / std::max(w / z, tiny));
      }
      grad[2 * i] = 4.0 * (ax - repulsive[2 * i] / z);
      grad[2 * i + 1] = 4.0 * (ay - repulsive[2 * i + 1] / z);
      if (error) error_share[i] = c;
    }
  });
  if (error) {
    double total = 0;
    for (int64_t i = 0; i < n; ++i) total += error_share[i];
    *error = total;
  }
}

}  // namespace avgzsl::projection::detail
