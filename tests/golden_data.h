// The shared golden data (../shared/data/golden, reference outputs of the Python implementations).
// CI has it; where it is absent the tests that need it report as skipped, not passed.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>

namespace avgzsl::testing {

inline std::filesystem::path golden_clip_dir() {
  return std::filesystem::path(AVGZSL_SHARED_DATA_DIR) / "golden" / "clip";
}

// A measured difference against golden data, for the test report (3 significant digits).
inline std::string measured_difference(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3g", value);
  return text;
}

inline std::filesystem::path golden_clap_dir() {
  return std::filesystem::path(AVGZSL_SHARED_DATA_DIR) / "golden" / "clap";
}

}  // namespace avgzsl::testing

// Skips the current test when `path` does not exist.
#define AVGZSL_SKIP_WITHOUT(path) \
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "golden data not found: " << (path).string()
