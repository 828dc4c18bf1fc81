// GZSL evaluation by calibrated stacking and mean class accuracy (METHOD §7), mirroring the
// reference's get_best_evaluation (src/utils.py) decision for decision:
//
//   D[i, k] = ||theta_o(i) - theta_w(k)||  over the split's classes k, sorted by class id;
//   GZSL prediction = argmin_k (D[i, k] + beta * [k is seen]), first index on ties;
//   ZSL prediction  = argmin over unseen classes only;
//   S, U = mean per-class accuracy over seen / unseen classes, HM = 2SU / (S + U).
//
// One distance matrix serves every beta: per video the best seen and best unseen columns are
// found once, and a beta only decides between the two. The float32 rounding of D + beta is
// reproduced exactly (seen columns whose distances lie within rounding of the best are kept as
// candidates), so predictions equal the reference's brute-force argmin bit for bit.
//
// Classes of a split without videos: the reference divides 0 by 0 and its mean becomes NaN.
// We leave such a class out of the mean of its group (S, U or ZSL) and report it with
// videos = 0; a group with no videos at all is an error.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace avgzsl::metrics {

struct ClassAccuracy {
  int64_t class_id = 0;
  bool seen = false;
  int64_t videos = 0;        // videos of this class in the evaluated split
  int64_t gzsl_correct = 0;  // correct among all classes, with calibration
  int64_t zsl_correct = 0;   // correct among unseen classes only (0 for seen classes)
};

struct GzslScores {
  float beta = 0.f;    // added to seen-class distances
  double seen = 0;     // S, a fraction in [0, 1]
  double unseen = 0;   // U
  double hm = 0;       // harmonic mean of S and U
  double zsl = 0;      // mean per-class accuracy over unseen classes, unseen candidates only
  std::vector<ClassAccuracy> classes;  // sorted by class id
};

// The reference's grid: torch.linspace(0, 5, 76) in float32.
std::vector<float> reference_beta_grid();

// The beta that the reference applies at test time: it averages three copies of the
// validation beta plus 1e-10 in double precision, then stores the result as float32.
float reference_test_beta(float validation_beta);

// Euclidean distances [N, K] between video embeddings [N, E] and class embeddings [K, E].
torch::Tensor embedding_distances(const torch::Tensor& video_embeddings, const torch::Tensor& class_embeddings);

class CalibratedStacking {
 public:
  // distances: [N, K] with columns for sorted(seen ∪ unseen); labels: [N] int64 class ids, each
  // in seen ∪ unseen. Throws std::invalid_argument on shape or label mismatch, or when the
  // seen or unseen videos are missing altogether.
  CalibratedStacking(const torch::Tensor& distances, const torch::Tensor& labels, std::vector<int64_t> seen,
                     std::vector<int64_t> unseen);

  GzslScores evaluate(float beta) const;
  // The beta of `betas` with the highest HM (the first of equals, like numpy.argmax).
  GzslScores search(const std::vector<float>& betas) const;
  // Each video's GZSL prediction under `beta`, as a class id (what evaluate() counts).
  std::vector<int64_t> predicted_classes(float beta) const;

 private:
  struct Candidate {
    int32_t column;
    float distance;
  };
  // Per-video prediction under `beta`, as a column index.
  int32_t predict(int64_t video, float beta) const;
  GzslScores score(const std::vector<int32_t>& gzsl_predictions, float beta) const;

  int64_t num_videos_ = 0;
  std::vector<int64_t> columns_;      // class id of each column
  std::vector<bool> column_seen_;
  std::vector<int32_t> label_column_;  // column of each video's true class
  std::vector<int32_t> unseen_best_;   // per video: first column of the minimal unseen distance
  std::vector<float> unseen_best_distance_;
  std::vector<int64_t> seen_offsets_;  // CSR: per video, seen columns near the seen minimum
  std::vector<Candidate> seen_candidates_;
  torch::Tensor distances_;            // kept for betas beyond the candidate margin
  std::vector<int64_t> class_videos_;  // per column
  std::vector<int64_t> zsl_correct_;   // per column (constant over beta)
  float candidate_beta_limit_ = 0.f;
};

}  // namespace avgzsl::metrics
