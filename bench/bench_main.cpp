// Google Benchmark's main, after restarting with passive OpenMP workers like the avgzsl CLI
// (src/util/threads.h), so that the numbers are those of `avgzsl train`.
#include <benchmark/benchmark.h>

#include "avgzsl/util/threads.h"

int main(int argc, char** argv) {
  avgzsl::util::restart_with_passive_openmp(argv);
  avgzsl::util::configure_threads(0);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
