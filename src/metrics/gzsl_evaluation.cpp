#include "avgzsl/metrics/gzsl_evaluation.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace avgzsl::metrics {

namespace {

// Betas up to this size use the per-video candidate lists; larger ones rescan all seen columns.
constexpr float kCandidateBetaLimit = 16.f;

// S, U and ZSL are float32 means in the reference; keep that precision for HM and the argmax.
float mean_accuracy(const std::vector<int64_t>& correct, const std::vector<int64_t>& videos,
                    const std::vector<bool>& include) {
  double sum = 0;
  int64_t n = 0;
  for (size_t k = 0; k < correct.size(); ++k) {
    if (!include[k] || videos[k] == 0) continue;
    sum += static_cast<double>(static_cast<float>(correct[k]) / static_cast<float>(videos[k]));
    ++n;
  }
  return n == 0 ? 0.f : static_cast<float>(sum / static_cast<double>(n));
}

}  // namespace

std::vector<float> reference_beta_grid() {
  const torch::Tensor grid = torch::linspace(0, 5, 76, torch::kFloat32);
  return std::vector<float>(grid.data_ptr<float>(), grid.data_ptr<float>() + grid.numel());
}

float reference_test_beta(float validation_beta) {
  const double b = static_cast<double>(validation_beta);
  return static_cast<float>(1.0 / 3 * (b + b + b + 1e-10));
}

torch::Tensor embedding_distances(const torch::Tensor& video_embeddings, const torch::Tensor& class_embeddings) {
  TORCH_CHECK(video_embeddings.dim() == 2 && class_embeddings.dim() == 2 &&
                  video_embeddings.size(1) == class_embeddings.size(1),
              "Expected embeddings [N, E] and [K, E], but got ", video_embeddings.sizes(), " and ",
              class_embeddings.sizes());
  return torch::cdist(video_embeddings.to(torch::kFloat32), class_embeddings.to(torch::kFloat32));
}

CalibratedStacking::CalibratedStacking(const torch::Tensor& distances, const torch::Tensor& labels,
                                       std::vector<int64_t> seen, std::vector<int64_t> unseen)
    : candidate_beta_limit_(kCandidateBetaLimit) {
  std::sort(seen.begin(), seen.end());
  std::sort(unseen.begin(), unseen.end());
  if (seen.empty() || unseen.empty()) throw std::invalid_argument("GZSL evaluation needs seen and unseen classes");
  columns_ = seen;
  columns_.insert(columns_.end(), unseen.begin(), unseen.end());
  std::sort(columns_.begin(), columns_.end());
  if (std::adjacent_find(columns_.begin(), columns_.end()) != columns_.end()) {
    throw std::invalid_argument("a class is listed as both seen and unseen");
  }
  const auto K = static_cast<int64_t>(columns_.size());
  if (distances.dim() != 2 || distances.size(1) != K) {
    throw std::invalid_argument("distance matrix has shape " + c10::str(distances.sizes()) + ", expected [N, " +
                                std::to_string(K) + "]");
  }
  num_videos_ = distances.size(0);
  if (labels.dim() != 1 || labels.size(0) != num_videos_) {
    throw std::invalid_argument("expected one label per distance row, got " + c10::str(labels.sizes()));
  }
  column_seen_.resize(K);
  for (int64_t k = 0; k < K; ++k) column_seen_[k] = std::binary_search(seen.begin(), seen.end(), columns_[k]);

  distances_ = distances.to(torch::kFloat32).contiguous();
  const torch::Tensor y = labels.to(torch::kInt64).contiguous();
  const auto* yp = y.data_ptr<int64_t>();
  const auto* D = distances_.data_ptr<float>();

  label_column_.resize(num_videos_);
  class_videos_.assign(K, 0);
  zsl_correct_.assign(K, 0);
  unseen_best_.resize(num_videos_);
  unseen_best_distance_.resize(num_videos_);
  seen_offsets_.assign(1, 0);
  bool any_seen_video = false, any_unseen_video = false;
  for (int64_t i = 0; i < num_videos_; ++i) {
    const auto it = std::lower_bound(columns_.begin(), columns_.end(), yp[i]);
    if (it == columns_.end() || *it != yp[i]) {
      throw std::invalid_argument("video " + std::to_string(i) + " has class id " + std::to_string(yp[i]) +
                                  ", which is neither a seen nor an unseen class of this split");
    }
    const auto col = static_cast<int32_t>(it - columns_.begin());
    label_column_[i] = col;
    ++class_videos_[col];
    (column_seen_[col] ? any_seen_video : any_unseen_video) = true;

    const float* row = D + i * K;
    float best_seen = std::numeric_limits<float>::infinity();
    int32_t best_unseen = -1;
    float best_unseen_distance = std::numeric_limits<float>::infinity();
    for (int32_t k = 0; k < K; ++k) {
      if (column_seen_[k]) {
        best_seen = std::min(best_seen, row[k]);
      } else if (best_unseen < 0 || row[k] < best_unseen_distance) {
        best_unseen = k;
        best_unseen_distance = row[k];
      }
    }
    unseen_best_[i] = best_unseen;
    unseen_best_distance_[i] = best_unseen_distance;
    if (best_unseen == col) ++zsl_correct_[col];
    // d + beta rounds to the same float as best_seen + beta only if d is within one unit in the
    // last place of best_seen + beta; keep those columns, two ulps of margin for safety.
    const float margin = 2.f * (std::nextafter(best_seen + kCandidateBetaLimit, INFINITY) - (best_seen + kCandidateBetaLimit));
    for (int32_t k = 0; k < K; ++k) {
      if (column_seen_[k] && row[k] <= best_seen + margin) seen_candidates_.push_back({k, row[k]});
    }
    seen_offsets_.push_back(static_cast<int64_t>(seen_candidates_.size()));
  }
  if (!any_seen_video) throw std::invalid_argument("the split has no videos of seen classes");
  if (!any_unseen_video) throw std::invalid_argument("the split has no videos of unseen classes");
}

int32_t CalibratedStacking::predict(int64_t i, float beta) const {
  int32_t seen_col = -1;
  float seen_value = std::numeric_limits<float>::infinity();
  auto consider = [&](int32_t k, float d) {
    const float v = d + beta;  // float32 sum, as in the reference's distance_mat + mask
    if (seen_col < 0 || v < seen_value || (v == seen_value && k < seen_col)) {
      seen_col = k;
      seen_value = v;
    }
  };
  if (std::fabs(beta) <= candidate_beta_limit_) {
    for (int64_t c = seen_offsets_[i]; c < seen_offsets_[i + 1]; ++c) consider(seen_candidates_[c].column, seen_candidates_[c].distance);
  } else {
    const auto K = static_cast<int32_t>(columns_.size());
    const float* row = distances_.data_ptr<float>() + i * K;
    for (int32_t k = 0; k < K; ++k) {
      if (column_seen_[k]) consider(k, row[k]);
    }
  }
  const int32_t unseen_col = unseen_best_[i];
  const float unseen_value = unseen_best_distance_[i];
  if (seen_value < unseen_value || (seen_value == unseen_value && seen_col < unseen_col)) return seen_col;
  return unseen_col;
}

GzslScores CalibratedStacking::score(const std::vector<int32_t>& predictions, float beta) const {
  const size_t K = columns_.size();
  std::vector<int64_t> correct(K, 0);
  for (int64_t i = 0; i < num_videos_; ++i) {
    if (predictions[i] == label_column_[i]) ++correct[label_column_[i]];
  }
  std::vector<bool> unseen_mask(K);
  for (size_t k = 0; k < K; ++k) unseen_mask[k] = !column_seen_[k];
  GzslScores s;
  s.beta = beta;
  const float S = mean_accuracy(correct, class_videos_, column_seen_);
  const float U = mean_accuracy(correct, class_videos_, unseen_mask);
  s.seen = S;
  s.unseen = U;
  // float32 like the reference; the epsilon only matters when S = U = 0 (then HM = 0).
  s.hm = static_cast<float>((2.f * U * S) / ((U + S) + static_cast<float>(std::numeric_limits<double>::epsilon())));
  s.zsl = mean_accuracy(zsl_correct_, class_videos_, unseen_mask);
  s.classes.resize(K);
  for (size_t k = 0; k < K; ++k) {
    s.classes[k] = {columns_[k], static_cast<bool>(column_seen_[k]), class_videos_[k], correct[k],
                    column_seen_[k] ? 0 : zsl_correct_[k]};
  }
  return s;
}

GzslScores CalibratedStacking::evaluate(float beta) const {
  std::vector<int32_t> predictions(num_videos_);
  for (int64_t i = 0; i < num_videos_; ++i) predictions[i] = predict(i, beta);
  return score(predictions, beta);
}

std::vector<int64_t> CalibratedStacking::predicted_classes(float beta) const {
  std::vector<int64_t> classes(num_videos_);
  for (int64_t i = 0; i < num_videos_; ++i) classes[i] = columns_[predict(i, beta)];
  return classes;
}

GzslScores CalibratedStacking::search(const std::vector<float>& betas) const {
  if (betas.empty()) throw std::invalid_argument("beta search needs at least one beta");
  GzslScores best;
  bool have = false;
  for (float beta : betas) {
    GzslScores s = evaluate(beta);
    if (!have || s.hm > best.hm) {
      best = std::move(s);
      have = true;
    }
  }
  return best;
}

}  // namespace avgzsl::metrics
