#pragma once

namespace avgzsl::util {

// Sets LibTorch's intra-op threads and OpenBLAS's threads to `threads` (0: every core) and
// returns the count in effect.
//
// LibTorch's OpenMP workers spin after each parallel region by default and then steal the cores
// from OpenBLAS's own threads: a training step was 3.5x slower with 2 threads than with 1 on a
// 2-core machine. Executables therefore call restart_with_passive_openmp first.
int configure_threads(int threads);

// Within its scope LibTorch's own intra-op pool runs `threads` threads while the BLAS keeps the
// count it had. Training steps run under ScopedTorchThreads(1): their element-wise work is on
// 64-row tensors, too small to gain from a second thread, and waking one costs more (a ClipClap
// step 8.8 -> 7.8 ms on 2 cores, docs/performance.md); the products keep every core.
// at::set_num_threads may rebuild a thread pool: use it around loops, not single steps.
class ScopedTorchThreads {
 public:
  explicit ScopedTorchThreads(int threads);
  ~ScopedTorchThreads();
  ScopedTorchThreads(const ScopedTorchThreads&) = delete;
  ScopedTorchThreads& operator=(const ScopedTorchThreads&) = delete;

 private:
  int previous_;
  int blas_threads_;
};

// libgomp reads OMP_WAIT_POLICY once, when the process starts. Unless the user chose a policy,
// this sets it to PASSIVE and re-executes the program with the same arguments; it returns only
// when no restart was needed or the restart failed (then the program runs as it is).
void restart_with_passive_openmp(char** argv);

}  // namespace avgzsl::util
