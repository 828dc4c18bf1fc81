// Checks over large float32 buffers (feature matrices), fast enough to run on every import.
#pragma once

#include <cstdint>

namespace avgzsl::util {

// Index of the first NaN or Inf among `count` values, or -1 when all are finite. Tests the
// exponent bits with integer operations, which the compiler vectorizes: std::isfinite in a loop
// stays scalar, and a check of a whole dataset ran at memory-latency speed.
int64_t first_non_finite(const float* values, int64_t count);

}  // namespace avgzsl::util
