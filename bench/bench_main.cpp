// Google Benchmark's main, set up like the avgzsl CLI (passive OpenMP workers, src/util/threads.h;
// freed tensor memory kept, src/util/allocator.h), so that the numbers are those of `avgzsl train`.
#include <benchmark/benchmark.h>

#include "avgzsl/util/allocator.h"
#include "avgzsl/util/threads.h"

int main(int argc, char** argv) {
  avgzsl::util::restart_with_passive_openmp(argv);
  avgzsl::util::keep_freed_tensor_memory();
  avgzsl::util::configure_threads(0);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
