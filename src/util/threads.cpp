#include "avgzsl/util/threads.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>

#include <stdexcept>
#include <string>
#include <thread>

#include "avgzsl/util/option_error.h"

namespace avgzsl::util {

namespace {

// OpenBLAS runs its own thread pool for matrix products. Its setter is looked up at run time so
// that avgzsl still links and runs against another BLAS (reference BLAS, MKL in official builds).
void set_blas_threads(int threads) {
  using SetThreads = void (*)(int);
  if (auto* set = reinterpret_cast<SetThreads>(::dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) set(threads);
  // Official LibTorch builds use MKL, whose count at::set_num_threads also sets.
  if (auto* set = reinterpret_cast<SetThreads>(::dlsym(RTLD_DEFAULT, "MKL_Set_Num_Threads"))) set(threads);
}

int blas_threads() {
  using GetThreads = int (*)();
  if (auto* get = reinterpret_cast<GetThreads>(::dlsym(RTLD_DEFAULT, "openblas_get_num_threads"))) return get();
  if (auto* get = reinterpret_cast<GetThreads>(::dlsym(RTLD_DEFAULT, "MKL_Get_Max_Threads"))) return get();
  return 0;
}

}  // namespace

int configure_threads(int threads) {
  if (threads < 0) throw OptionError("threads", "the thread count", " must be 0 (all cores) or positive, got " + std::to_string(threads));
  if (threads == 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(threads);
  set_blas_threads(threads);
  return threads;
}

ScopedTorchThreads::ScopedTorchThreads(int threads) : previous_(at::get_num_threads()), blas_threads_(blas_threads()) {
  if (threads == previous_) return;
  at::set_num_threads(threads);
  if (blas_threads_ > 0) set_blas_threads(blas_threads_);
}

ScopedTorchThreads::~ScopedTorchThreads() {
  if (at::get_num_threads() == previous_) return;
  at::set_num_threads(previous_);
  if (blas_threads_ > 0) set_blas_threads(blas_threads_);
}

void restart_with_passive_openmp(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  ::setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  ::execv("/proc/self/exe", argv);
}

}  // namespace avgzsl::util
