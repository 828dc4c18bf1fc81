#include "test_support.h"

#include <unistd.h>

#include <atomic>
#include <chrono>

#include "avgzsl/data/synthetic.h"

namespace avgzsl::testing {
namespace fs = std::filesystem;

TempDir::TempDir() {
  static std::atomic<int> counter{0};
  const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
  path_ = fs::temp_directory_path() /
          ("avgzsl-test-" + std::to_string(::getpid()) + "-" + std::to_string(stamp) + "-" + std::to_string(counter++));
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

Dataset tiny_dataset(uint64_t seed) {
  SyntheticOptions o;
  o.seed = seed;
  o.videos_scale = 0.1;
  o.visual_dim = 24;
  o.audio_dim = 20;
  o.clip_dim = 16;
  o.clap_dim = 12;
  o.latent_dim = 6;
  return make_synthetic_dataset(o);
}

fs::path fixture_dir() { return AVGZSL_FIXTURE_DIR; }

}  // namespace avgzsl::testing
