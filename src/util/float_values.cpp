#include "avgzsl/util/float_values.h"

#include <cstring>

namespace avgzsl::util {

namespace {

constexpr uint32_t kExponentBits = 0x7f800000u;  // all set: Inf or NaN

bool block_finite(const float* values, int64_t count) {
  uint32_t bad = 0;
  for (int64_t i = 0; i < count; ++i) {
    uint32_t bits;
    std::memcpy(&bits, values + i, sizeof bits);
    bad |= static_cast<uint32_t>((bits & kExponentBits) == kExponentBits);
  }
  return bad == 0;
}

}  // namespace

int64_t first_non_finite(const float* values, int64_t count) {
  // Blocks of 4 KiB: the common all-finite case runs branch-free; a bad block is searched.
  constexpr int64_t kBlock = 1024;
  for (int64_t start = 0; start < count; start += kBlock) {
    const int64_t n = count - start < kBlock ? count - start : kBlock;
    if (block_finite(values + start, n)) continue;
    for (int64_t i = start;; ++i) {
      if (!block_finite(values + i, 1)) return i;
    }
  }
  return -1;
}

}  // namespace avgzsl::util
