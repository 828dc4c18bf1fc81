// The layers avgzsl replaced for speed, against LibTorch's own, on a ClipClap activation
// (batch 64 x 512) in training mode:
//
//   ./build/bench/avgzsl_bench --benchmark_filter=Dropout
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "avgzsl/nn/dropout.h"

namespace layer_bench {

template <typename DropoutModule>
void BM_Dropout(benchmark::State& state) {
  torch::manual_seed(0);
  DropoutModule dropout(0.1);
  dropout->train();
  const torch::Tensor x = torch::randn({64, 512});
  for (auto _ : state) benchmark::DoNotOptimize(dropout->forward(x).data_ptr());
  state.SetItemsProcessed(state.iterations() * x.numel());
}
BENCHMARK_TEMPLATE(BM_Dropout, torch::nn::Dropout)->Name("BM_Dropout/libtorch")->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK_TEMPLATE(BM_Dropout, avgzsl::nn::Dropout)->Name("BM_Dropout/avgzsl")->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace layer_bench
