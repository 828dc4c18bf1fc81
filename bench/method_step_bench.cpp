// One training step of every method at batch 64 and the paper's feature sizes (v 512, a 1024,
// t 1536; 30 training classes; each method's UCF options), in ms and as a share of the machine's
// matrix-product rate measured in the same run (a 1024^3 product).
//
//   ./build/bench/avgzsl_bench --benchmark_filter='MethodStep|Matmul/1024'
//
// The FLOPs of a step are counted by LibTorch's own profiler (mm, addmm, bmm, baddbmm: forward,
// backward and any extra pass the method makes), not by hand, so that every method is counted
// the same way.
#include <benchmark/benchmark.h>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/torch.h>

#include <chrono>

#include "method_step_setup.h"

using namespace avgzsl;

namespace method_step_bench {

// Matrix-product FLOPs of one call of `work`, as LibTorch's profiler counts them.
double matmul_flops(const std::function<void()>& work) {
  namespace prof = torch::autograd::profiler;
  torch::profiler::impl::ProfilerConfig config(torch::profiler::impl::ProfilerState::CPU, /*report_input_shapes=*/true,
                                               /*profile_memory=*/false, /*with_stack=*/false, /*with_flops=*/true);
  prof::enableProfilerLegacy(config);
  work();
  const prof::thread_event_lists events = prof::disableProfilerLegacy();
  double flops = 0;
  for (const auto& thread : events) {
    for (const auto& e : thread) {
      const std::string name = e.name();
      if (name == "aten::mm" || name == "aten::addmm" || name == "aten::bmm" || name == "aten::baddbmm") {
        flops += static_cast<double>(const_cast<prof::LegacyEvent&>(e).flops());
      }
    }
  }
  return flops;
}

// GFLOP/s of a 1024^3 product on this machine, now (the reference of every share below).
double matmul_rate() {
  static const double rate = [] {
    torch::NoGradGuard no_grad;
    const int64_t n = 1024;
    const torch::Tensor a = torch::randn({n, n}), b = torch::randn({n, n});
    torch::Tensor c = torch::empty({n, n});
    torch::mm_out(c, a, b);
    int reps = 0;
    const auto start = std::chrono::steady_clock::now();
    double seconds = 0;
    while (seconds < 1.0) {
      torch::mm_out(c, a, b);
      ++reps;
      seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    return 2.0 * n * n * n * reps / seconds / 1e9;
  }();
  return rate;
}

template <typename Optimizer>
void BM_MethodStep(benchmark::State& state, const gzsl::MethodSpec* spec, int torch_threads) {
  bench::MethodStepSetup<Optimizer> setup(*spec, torch_threads);
  for (int warmup = 0; warmup < 5; ++warmup) setup.run();
  const double flops = matmul_flops([&] { setup.run(); });
  for (auto _ : state) benchmark::DoNotOptimize(setup.run());
  state.counters["GFLOP/s"] = benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
  state.counters["MFLOP/step"] = flops / 1e6;
  state.counters["matmul_GFLOP/s"] = matmul_rate();
  // The step's rate over the product's (0.5 = half the machine): flops per step in units of what
  // the product does in one second, as a rate.
  state.counters["share"] = benchmark::Counter(flops / (matmul_rate() * 1e9), benchmark::Counter::kIsIterationInvariantRate);
}

// One validation pass of the protocol (eval-mode distances of every video to every class, then
// the beta search) on a UCF-size split: 1,500 videos, 30 seen and 21 unseen classes. Next to the
// step's time it says what evaluation costs in an epoch (300 steps, one validation).
void BM_ValidationPass(benchmark::State& state, const gzsl::MethodSpec* spec) {
  bench::MethodStepSetup<nn::FusedAdam> setup(*spec, /*torch_threads=*/0);   // evaluation keeps every core
  for (int step = 0; step < 5; ++step) setup.run();
  data::EvaluationSet validation;
  validation.inputs = torch::randn({1500, bench::kVisual + bench::kAudio}).abs();
  validation.labels = torch::randint(0, 51, {1500}, torch::kInt64);
  for (int64_t c = 0; c < 51; ++c) (c < 30 ? validation.seen : validation.unseen).push_back(c);
  for (auto _ : state) benchmark::DoNotOptimize(training::search_beta(*setup.model, validation, setup.class_text).hm);
}

// One benchmark per method, named after it.
const bool registered = [] {
  for (const auto& spec : gzsl::all_methods()) {
    benchmark::RegisterBenchmark(("BM_MethodStep/" + spec.name).c_str(), BM_MethodStep<nn::FusedAdam>, &spec, 1)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime()
        ->MinTime(2.0);
  }
  benchmark::RegisterBenchmark("BM_ValidationPass/clipclap", BM_ValidationPass, &gzsl::method_spec("clipclap"))
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  // The baseline of the optimiser: the same ClipClap step with LibTorch's own Adam.
  benchmark::RegisterBenchmark("BM_MethodStepLibTorchAdam/clipclap", BM_MethodStep<torch::optim::Adam>,
                               &gzsl::method_spec("clipclap"), 1)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime()
      ->MinTime(2.0);
  // The baseline of the thread split: LibTorch's element-wise work on every core too.
  benchmark::RegisterBenchmark("BM_MethodStepAllTorchThreads/clipclap", BM_MethodStep<nn::FusedAdam>,
                               &gzsl::method_spec("clipclap"), 0)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime()
      ->MinTime(2.0);
  return true;
}();

}  // namespace method_step_bench
