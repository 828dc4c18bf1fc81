// GZSL evaluation of 10,000 videos against 300 classes over the 76 betas of the search:
// distance matrix, per-video minima, and the whole beta sweep. Target: under 0.5 s.
//
//   ./build/bench/avgzsl_bench --benchmark_filter=Evaluation
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "avgzsl/metrics/gzsl_evaluation.h"

using namespace avgzsl;  // data::, training::, ... as the library spells them

namespace {

void BM_EvaluationBetaSearch(benchmark::State& state) {
  const int64_t N = 10000, K = 300, E = 64, seen = 200;
  torch::manual_seed(0);
  const torch::Tensor videos = torch::rand({N, E}), classes = torch::rand({K, E});
  const torch::Tensor labels = torch::randint(0, K, {N}, torch::kInt64);
  std::vector<int64_t> seen_ids, unseen_ids;
  for (int64_t k = 0; k < K; ++k) (k < seen ? seen_ids : unseen_ids).push_back(k);
  const auto betas = avgzsl::metrics::reference_beta_grid();
  for (auto _ : state) {
    const torch::Tensor d = avgzsl::metrics::embedding_distances(videos, classes);
    avgzsl::metrics::CalibratedStacking stacking(d, labels, seen_ids, unseen_ids);
    benchmark::DoNotOptimize(stacking.search(betas).hm);
  }
}
BENCHMARK(BM_EvaluationBetaSearch)->Unit(benchmark::kMillisecond)->UseRealTime();

// The reference's way, for comparison: a fresh masked argmin over the full matrix per beta.
void BM_EvaluationBruteForcePerBeta(benchmark::State& state) {
  const int64_t N = 10000, K = 300, E = 64, seen = 200;
  torch::manual_seed(0);
  const torch::Tensor videos = torch::rand({N, E}), classes = torch::rand({K, E});
  torch::Tensor seen_mask = torch::zeros({K});
  seen_mask.narrow(0, 0, seen).fill_(1);
  const auto betas = avgzsl::metrics::reference_beta_grid();
  for (auto _ : state) {
    const torch::Tensor d = torch::cdist(videos, classes);
    for (float beta : betas) benchmark::DoNotOptimize((d + seen_mask * beta).argmin(1).data_ptr());
  }
}
BENCHMARK(BM_EvaluationBruteForcePerBeta)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
