// Helpers shared by the test binaries: temporary directories and small datasets.
#pragma once

#include <filesystem>
#include <string>

#include "avgzsl/data/dataset.h"

namespace avgzsl::testing {

// A fresh directory under the system temp dir, removed with everything in it at scope end.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// A small valid dataset with the synthetic generator's geometry and few videos.
Dataset tiny_dataset(uint64_t seed = 0);

// Where tests/fixtures lives (set by CMake).
std::filesystem::path fixture_dir();

}  // namespace avgzsl::testing
