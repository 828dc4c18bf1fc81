#pragma once

namespace avgzsl::util {

// Sets LibTorch's intra-op thread count; 0 means every core. Returns the count in effect.
// More threads than free cores slows LibTorch's element-wise kernels badly, so the CLI
// exposes this as --threads.
int configure_threads(int threads);

}  // namespace avgzsl::util
