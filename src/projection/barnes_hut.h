// The Barnes-Hut t-SNE gradient over a quadtree (private to projection/).
//
// Hand-written: no Debian package ships a C or C++ t-SNE library (`apt-cache search tsne` finds
// only the R packages r-cran-rtsne and r-cran-tsne), LibTorch has no spatial tree, and the
// quadtree is a few hundred lines. It follows scikit-learn 1.2's _barnes_hut_tsne / _quad_tree
// (the cell summary rule width^2 / distance^2 < theta^2, the error over the sparse P) in float64.
#pragma once

#include <cstdint>
#include <vector>

namespace avgzsl::projection::detail {

// A symmetric sparse P in CSR form: row i's neighbours are columns[row_start[i] .. row_start[i+1]).
struct SparseP {
  std::vector<int64_t> row_start;  // [N + 1]
  std::vector<int64_t> columns;    // [nnz]
  std::vector<double> values;      // [nnz], summing to 1 over the whole matrix
  int64_t size() const { return static_cast<int64_t>(row_start.size()) - 1; }
};

// A quadtree over 2-D points, rebuilt every iteration. Cells split at their centre until they
// hold one point (or only copies of one point); each cell keeps its count and centre of mass.
class QuadTree {
 public:
  // y: [n, 2] row-major. Keeps a pointer to y: y must outlive the tree and not change.
  QuadTree(const double* y, int64_t n);

  // The repulsive force on point i, sum_j w_ij^2 (y_i - y_j), into force[0..1], and the
  // normaliser's share sum_j w_ij, w = 1 / (1 + |y_i - y_j|^2), over all j != i, with cells that
  // look small from y_i (width^2 < theta^2 distance^2) taken as one point at their centre of mass.
  // Returns the share.
  double repulsion(int64_t i, double theta, double* force) const;

 private:
  // 32 bytes, two to a cache line: the walk in repulsion() is most of t-SNE's time.
  struct Cell {
    double center_of_mass[2] = {0, 0};
    double squared_width = 0;  // the larger side, squared
    int32_t count = 0;
    // > 0: the four children are cells_[child .. child + 3]; <= 0: a leaf whose points are
    // order_[-child, -child + count).
    int32_t child = 0;
  };
  void build(int64_t cell, int64_t begin, int64_t end, double min_x, double min_y, double max_x, double max_y, int depth);

  const double* y_;
  std::vector<int64_t> order_;  // point indices, grouped by leaf
  std::vector<Cell> cells_;
};

// One Barnes-Hut gradient: grad [n, 2] = 4 (exaggeration * sum_j p_ij w_ij (y_i - y_j)
// - sum_j w_ij^2 (y_i - y_j) / Z), parallel over points (each point's sums in a fixed order, so
// the result does not depend on the thread count). When `error` is not null it receives
// sklearn's estimate sum_ij p_ij log(p_ij / q_ij) over the nonzero p (with the exaggerated P, as
// sklearn computes it), q from the tree's Z.
void barnes_hut_gradient(const SparseP& p, const double* y, int64_t n, double theta, double exaggeration,
                         double* grad, double* error);

}  // namespace avgzsl::projection::detail
