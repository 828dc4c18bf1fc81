#include "avgzsl/metrics/gzsl_evaluation.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

namespace avgzsl::metrics {
namespace {

torch::Tensor matrix(std::vector<std::vector<float>> rows) {
  torch::Tensor t = torch::empty({static_cast<int64_t>(rows.size()), static_cast<int64_t>(rows[0].size())});
  for (size_t i = 0; i < rows.size(); ++i)
    for (size_t j = 0; j < rows[i].size(); ++j) t[i][j] = rows[i][j];
  return t;
}

torch::Tensor labels(std::vector<int64_t> v) { return torch::tensor(v, torch::kInt64); }

// Seen classes {0, 1}, unseen {2}; hand-worked predictions for betas 0, 0.5, 1, 1.5.
class HandCase : public ::testing::Test {
 protected:
  torch::Tensor D = matrix({{1.0f, 2.0f, 1.5f},    // class 0
                            {3.0f, 1.0f, 2.0f},    // class 1
                            {1.0f, 2.0f, 1.25f},   // class 2
                            {2.0f, 2.0f, 1.0f}});  // class 2
  CalibratedStacking stacking{D, labels({0, 1, 2, 2}), {0, 1}, {2}};
};

TEST_F(HandCase, BetaZeroPrefersTheNearestClass) {
  const GzslScores s = stacking.evaluate(0.f);
  EXPECT_DOUBLE_EQ(s.seen, 1.0);   // videos 0 and 1 right
  EXPECT_DOUBLE_EQ(s.unseen, 0.5); // video 2 goes to seen class 0, video 3 right
  EXPECT_NEAR(s.hm, 2 * 0.5 / 1.5, 1e-6);
  EXPECT_DOUBLE_EQ(s.zsl, 1.0);    // unseen candidates only: only class 2
}

TEST_F(HandCase, TiesGoToTheLowerClassIdLikeTorchArgmin) {
  // beta 0.5: video 0 sees 1.5 (seen) vs 1.5 (unseen): the seen column comes first and wins.
  const GzslScores s = stacking.evaluate(0.5f);
  EXPECT_DOUBLE_EQ(s.seen, 1.0);
  EXPECT_DOUBLE_EQ(s.unseen, 1.0);
  EXPECT_NEAR(s.hm, 1.0, 1e-6);
  ASSERT_EQ(s.classes.size(), 3u);
  EXPECT_EQ(s.classes[0].gzsl_correct, 1);
  EXPECT_EQ(s.classes[2].gzsl_correct, 2);
}

TEST_F(HandCase, LargeBetaPushesVideosToUnseenClasses) {
  const GzslScores one = stacking.evaluate(1.0f);  // video 0 lost; video 1 ties 2.0 vs 2.0 and stays
  EXPECT_DOUBLE_EQ(one.seen, 0.5);
  EXPECT_DOUBLE_EQ(one.unseen, 1.0);
  const GzslScores big = stacking.evaluate(1.5f);  // both seen videos lost
  EXPECT_DOUBLE_EQ(big.seen, 0.0);
  EXPECT_DOUBLE_EQ(big.hm, 0.0);
}

TEST_F(HandCase, PredictedClassesAreTheHandWorkedOnes) {
  // The report's error flow counts these: beta 0 sends video 2 (unseen) to seen class 0,
  // beta 1 sends video 0 (seen) to unseen class 2, and video 1 keeps its tie.
  EXPECT_EQ(stacking.predicted_classes(0.f), (std::vector<int64_t>{0, 1, 0, 2}));
  EXPECT_EQ(stacking.predicted_classes(1.0f), (std::vector<int64_t>{2, 1, 2, 2}));
  EXPECT_EQ(stacking.predicted_classes(1.5f), (std::vector<int64_t>{2, 2, 2, 2}));
}

TEST_F(HandCase, SearchPicksTheBetaWithTheHighestHm) {
  const GzslScores best = stacking.search({0.f, 0.5f, 1.0f, 1.5f});
  EXPECT_FLOAT_EQ(best.beta, 0.5f);
  EXPECT_NEAR(best.hm, 1.0, 1e-6);
}

TEST_F(HandCase, SearchKeepsTheFirstOfEqualHms) {
  // beta 0 and beta 1 both give HM 2/3; without 0.5 the first must win.
  const GzslScores best = stacking.search({1.0f, 0.f, 1.5f});
  EXPECT_FLOAT_EQ(best.beta, 1.0f);
}

TEST(GzslEvaluation, ZslIgnoresSeenClasses) {
  // Seen {0}, unseen {1, 2}: GZSL sends everything to the close seen class; ZSL ranks unseen only.
  const auto D = matrix({{0.1f, 1.0f, 2.0f}, {0.1f, 2.0f, 1.0f}, {0.1f, 1.0f, 2.0f}, {0.5f, 1.0f, 3.0f}});
  CalibratedStacking s(D, labels({1, 2, 2, 0}), {0}, {1, 2});
  const GzslScores r = s.evaluate(0.f);
  EXPECT_DOUBLE_EQ(r.unseen, 0.0);
  EXPECT_DOUBLE_EQ(r.seen, 1.0);
  EXPECT_DOUBLE_EQ(r.zsl, (1.0 + 0.5) / 2);  // class 1: 1/1, class 2: 1/2
  EXPECT_EQ(r.classes[2].zsl_correct, 1);
  EXPECT_EQ(r.classes[0].zsl_correct, 0);
}

TEST(GzslEvaluation, PerClassMeanIsNotPerVideoMean) {
  // Seen class 0 has 3 videos (all right), seen class 1 one video (wrong): S = (1 + 0) / 2.
  const auto D = matrix({{0.f, 1.f, 5.f}, {0.f, 1.f, 5.f}, {0.f, 1.f, 5.f}, {0.f, 1.f, 5.f}, {5.f, 5.f, 0.f}});
  CalibratedStacking s(D, labels({0, 0, 0, 1, 2}), {0, 1}, {2});
  EXPECT_DOUBLE_EQ(s.evaluate(0.f).seen, 0.5);
}

TEST(GzslEvaluation, ClassWithoutVideosIsLeftOutOfTheMean) {
  // Seen class 1 has no video: S is the mean over class 0 only, and class 1 reports 0 videos.
  const auto D = matrix({{0.f, 1.f, 5.f}, {5.f, 5.f, 0.f}});
  CalibratedStacking s(D, labels({0, 2}), {0, 1}, {2});
  const GzslScores r = s.evaluate(0.f);
  EXPECT_DOUBLE_EQ(r.seen, 1.0);
  EXPECT_FALSE(std::isnan(r.hm));
  EXPECT_EQ(r.classes[1].videos, 0);
}

TEST(GzslEvaluation, RejectsInconsistentInput) {
  const auto D = matrix({{0.f, 1.f, 5.f}});
  EXPECT_THROW(CalibratedStacking(D, labels({7}), {0, 1}, {2}), std::invalid_argument);        // unknown label
  EXPECT_THROW(CalibratedStacking(D, labels({0, 1}), {0, 1}, {2}), std::invalid_argument);     // label count
  EXPECT_THROW(CalibratedStacking(D, labels({0}), {0, 1, 3}, {2}), std::invalid_argument);     // column count
  EXPECT_THROW(CalibratedStacking(D, labels({0}), {0, 1}, {2}), std::invalid_argument);        // no unseen video
  EXPECT_THROW(CalibratedStacking(D, labels({2}), {0, 1}, {2}), std::invalid_argument);        // no seen video
}

TEST(GzslEvaluation, ReferenceBetaGridAndTestBeta) {
  const auto grid = reference_beta_grid();
  ASSERT_EQ(grid.size(), 76u);
  EXPECT_EQ(grid.front(), 0.f);
  EXPECT_EQ(grid.back(), 5.f);
  EXPECT_NEAR(grid[15], 1.0f, 1e-6);
  // (3b + 1e-10) / 3 in double, stored as float32: indistinguishable from b unless b = 0.
  EXPECT_EQ(reference_test_beta(1.0f), 1.0f);
  EXPECT_GT(reference_test_beta(0.f), 0.f);
  EXPECT_LT(reference_test_beta(0.f), 1e-9f);
}

// The reference's brute force: D + beta on seen columns in float32, torch.argmin, per-class mean.
std::vector<int64_t> brute_force_correct(const torch::Tensor& D, const torch::Tensor& y, const std::vector<int64_t>& columns,
                                         const std::vector<bool>& seen, float beta) {
  torch::Tensor mask = torch::zeros({D.size(1)});
  for (size_t k = 0; k < seen.size(); ++k)
    if (seen[k]) mask[k] = beta;
  const torch::Tensor pred = (D + mask).argmin(1);
  std::vector<int64_t> correct(columns.size(), 0);
  for (int64_t i = 0; i < D.size(0); ++i) {
    const int64_t col = std::find(columns.begin(), columns.end(), y[i].item<int64_t>()) - columns.begin();
    if (pred[i].item<int64_t>() == col) ++correct[col];
  }
  return correct;
}

TEST(GzslEvaluation, MatchesBruteForceArgminForEveryBetaIncludingRoundingTies) {
  torch::manual_seed(3);
  const int64_t N = 400, K = 12;
  // Distances on a coarse grid (many exact ties) plus neighbours one ulp apart, which D + beta
  // can round onto the same float.
  torch::Tensor D = (torch::randint(0, 40, {N, K}).to(torch::kFloat32) * 0.125f + 0.5f);
  for (int64_t i = 0; i < N; i += 3) {
    const float base = D[i][0].item<float>();
    D[i][1] = std::nextafter(base, 100.f);
    D[i][2] = std::nextafter(std::nextafter(base, 100.f), 100.f);
  }
  std::vector<int64_t> seen = {0, 2, 3, 5, 7, 8, 11}, unseen = {1, 4, 6, 9, 10};
  std::vector<int64_t> columns(K);
  std::vector<bool> is_seen(K);
  for (int64_t k = 0; k < K; ++k) {
    columns[k] = k;
    is_seen[k] = std::count(seen.begin(), seen.end(), k) > 0;
  }
  const torch::Tensor y = torch::randint(0, K, {N}, torch::kInt64);
  CalibratedStacking stacking(D, y, seen, unseen);
  for (float beta : reference_beta_grid()) {
    const auto expected = brute_force_correct(D, y, columns, is_seen, beta);
    const GzslScores got = stacking.evaluate(beta);
    for (int64_t k = 0; k < K; ++k) ASSERT_EQ(got.classes[k].gzsl_correct, expected[k]) << "beta " << beta << " class " << k;
  }
}

TEST(GzslEvaluation, DistancesAreEuclidean) {
  const torch::Tensor a = torch::tensor({{0.f, 0.f}, {3.f, 4.f}});
  const torch::Tensor b = torch::tensor({{0.f, 0.f}, {0.f, 1.f}});
  const torch::Tensor d = embedding_distances(a, b);
  EXPECT_FLOAT_EQ(d[0][0].item<float>(), 0.f);
  EXPECT_FLOAT_EQ(d[0][1].item<float>(), 1.f);
  EXPECT_NEAR(d[1][0].item<float>(), 5.f, 1e-5);
  EXPECT_NEAR(d[1][1].item<float>(), std::sqrt(9.f + 9.f), 1e-5);
}

}  // namespace
}  // namespace avgzsl::metrics
