// Time and peak memory of `avgzsl merge` on VGGSound-size shard stores. Writes SHARDS stores of
// one extract job (309 classes, VIDEOS videos in all, 512-d visual and 1024-d audio float32
// features, chunks of 256 videos as extract writes them) with extract's own store writer
// (FeatureStore::write_chunk), then runs the real command, `avgzsl merge STORE... --out DIR`, as
// a child process: its peak resident memory (wait4's ru_maxrss) is the merge's alone. The floor,
// the same program refusing a merge at once, is what loading LibTorch costs before any work.
//
//   ./build/bench/avgzsl_merge_bench [VIDEOS] [SHARDS] [--keep]    (defaults: 200000 4)
// --keep leaves the stores and the output in /tmp.
#include <fcntl.h>
#include <fmt/format.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "avgzsl/extraction/feature_store.h"
#include "avgzsl/util/threads.h"

extern char** environ;

namespace fs = std::filesystem;
using namespace avgzsl;  // extraction::, util:: as the library spells them

namespace {

constexpr int64_t kClasses = 309, kVisualDim = 512, kAudioDim = 1024, kChunk = 256;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

nlohmann::json bench_job() {
  nlohmann::json classes = nlohmann::json::array();
  for (int64_t c = 0; c < kClasses; ++c) {
    classes.push_back({{"name", fmt::format("class_{:03d}", c)}, {"display_name", fmt::format("sound of class {:03d}", c)}});
  }
  return {{"name", "vggsound-bench"}, {"videos", "bench"}, {"clip", "bench"}, {"clap", "bench"}, {"classes", classes}};
}

// The stores of `shards` shards of one job of `videos` videos; returns their folders.
std::vector<fs::path> write_stores(const fs::path& root, int64_t videos, int shards) {
  const nlohmann::json job = bench_job();
  torch::manual_seed(0);
  const torch::Tensor clip_text = torch::randn({kClasses, kVisualDim}), clap_text = torch::randn({kClasses, kAudioDim});
  std::vector<fs::path> dirs;
  for (int k = 1; k <= shards; ++k) {
    const extraction::ShardSpec shard{k, shards};
    std::vector<extraction::ExtractedVideo> mine;
    for (int64_t i = 0; i < videos; ++i) {
      const std::string id = fmt::format("vid_{:07d}", i), label = fmt::format("class_{:03d}", i % kClasses);
      if (shard.contains(id)) mine.push_back({i, id, label, "/videos/" + label + "/" + id + ".mp4", true, false});
    }
    dirs.push_back(root / fmt::format("shard{}", k));
    extraction::FeatureStore store =
        extraction::FeatureStore::open_for_job(dirs.back(), job, shard, static_cast<int64_t>(mine.size()));
    store.write_class_text(clip_text, clap_text);
    for (size_t start = 0; start < mine.size(); start += kChunk) {
      const std::vector<extraction::ExtractedVideo> chunk(mine.begin() + static_cast<std::ptrdiff_t>(start),
                                                          mine.begin() + static_cast<std::ptrdiff_t>(std::min(start + kChunk, mine.size())));
      const auto n = static_cast<int64_t>(chunk.size());
      store.write_chunk(chunk, torch::randn({n, kVisualDim}), torch::randn({n, kAudioDim}), {});
    }
  }
  return dirs;
}

struct ChildRun {
  int status = 0;
  double seconds = 0;
  double peak_mb = 0;  // ru_maxrss
};

ChildRun run_child(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  ChildRun run;
  const auto start = std::chrono::steady_clock::now();
  pid_t pid = 0;
  posix_spawn_file_actions_t quiet;  // the command's summary would interleave with the table
  posix_spawn_file_actions_init(&quiet);
  posix_spawn_file_actions_addopen(&quiet, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  const int spawned = posix_spawn(&pid, argv[0], &quiet, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&quiet);
  if (spawned != 0) {
    fmt::print(stderr, "cannot start {}: {}\n", args[0], std::strerror(spawned));
    std::exit(1);
  }
  struct rusage usage {};
  wait4(pid, &run.status, 0, &usage);
  run.seconds = seconds_since(start);
  run.peak_mb = static_cast<double>(usage.ru_maxrss) * 1024 / 1e6;  // ru_maxrss is in KiB
  return run;
}

int64_t bytes_under(const fs::path& dir) {
  int64_t bytes = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) bytes += static_cast<int64_t>(e.file_size());
  }
  return bytes;
}

}  // namespace

int main(int argc, char** argv) {
  util::restart_with_passive_openmp(argv);
  const int64_t videos = argc > 1 ? std::atoll(argv[1]) : 200000;
  const int shards = argc > 2 ? std::atoi(argv[2]) : 4;
  const bool keep = argc > 3 && std::string(argv[3]) == "--keep";
  const fs::path root = fs::temp_directory_path() / fmt::format("avgzsl-merge-bench-{}", ::getpid());

  auto start = std::chrono::steady_clock::now();
  const std::vector<fs::path> stores = write_stores(root, videos, shards);
  fmt::print("wrote {} shard stores of {} videos ({:.0f} MB) in {:.1f} s at {}\n", shards, videos, bytes_under(root) / 1e6,
             seconds_since(start), root.string());

  std::vector<std::string> merge = {AVGZSL_CLI_PATH, "merge"};
  for (const fs::path& s : stores) merge.push_back(s.string());
  merge.insert(merge.end(), {"--out", (root / "merged").string()});
  const ChildRun floor = run_child({AVGZSL_CLI_PATH, "merge", (root / "no-such-store").string(), "--out", (root / "none").string()});
  const ChildRun run = run_child(merge);
  if (!WIFEXITED(run.status) || WEXITSTATUS(run.status) != 0) {
    fmt::print(stderr, "avgzsl merge failed (status {})\n", run.status);
    return 1;
  }
  const double out_mb = bytes_under(root / "merged" / "videos") / 1e6;
  fmt::print("output: {:.0f} MB of video features (merged/videos/*.safetensors)\n", out_mb);
  fmt::print("{:<28} {:>8} {:>14}\n", "", "seconds", "peak RSS (MB)");
  fmt::print("{:<28} {:>8.2f} {:>14.0f}\n", "floor (merge refused)", floor.seconds, floor.peak_mb);
  fmt::print("{:<28} {:>8.2f} {:>14.0f}   ({:.2f}x the output; {:.2f}x above the floor)\n", "avgzsl merge", run.seconds,
             run.peak_mb, run.peak_mb / out_mb, (run.peak_mb - floor.peak_mb) / out_mb);
  if (!keep) fs::remove_all(root);
  return 0;
}
