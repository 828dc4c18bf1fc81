#include "avgzsl/util/threads.h"

#include <ATen/Parallel.h>

#include <stdexcept>
#include <string>
#include <thread>

namespace avgzsl::util {

int configure_threads(int threads) {
  if (threads < 0) throw std::invalid_argument("--threads must be 0 (all cores) or positive, got " + std::to_string(threads));
  if (threads == 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(threads);
  return threads;
}

}  // namespace avgzsl::util
