// Is importing a reference release dominated by disk reading? Writes a VGGSound-size release
// (309 classes, cls_split class counts, ~100k videos, 512-d visual and 1024-d audio features)
// with `avgzsl export`'s writer, then times, on the same files:
//   cat       find | xargs cat > /dev/null (the floor: reading the bytes)
//   import    import_clipclap_release (read, unpickle, check, assemble tensors)
// Both run on a warm page cache (the files were just written and read once), so "disk" here
// is the kernel's copy speed; on a cold cache both grow by the same device time.
//
//   ./build/bench/avgzsl_import_bench [SCALE] [--keep]
// SCALE multiplies the videos per class (default 1); --keep leaves the release in /tmp for
// profiling `avgzsl import-clipclap` on it.
#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "avgzsl/reference/clipclap_release.h"
#include "avgzsl/util/threads.h"

namespace fs = std::filesystem;
using avgzsl::data::Dataset;

using namespace avgzsl;  // data::, training::, ... as the library spells them

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

data::Dataset vggsound_size_dataset(double scale) {
  data::Dataset d;
  d.name = "VGGSound";
  d.visual_dim = 512;
  d.audio_dim = 1024;
  d.clip_dim = 512;
  d.clap_dim = 1024;
  const int64_t C = 309;
  for (int64_t c = 0; c < C; ++c) d.classes.push_back({fmt::format("class {:03d}", c), fmt::format("sound of class {:03d}", c)});
  const auto range = [](int64_t a, int64_t b) {
    std::vector<int64_t> v;
    for (int64_t i = a; i < b; ++i) v.push_back(i);
    return v;
  };
  d.class_splits["stage_1_train"] = range(0, 138);
  d.class_splits["stage_1_val_seen"] = range(0, 138);
  d.class_splits["stage_1_val_unseen"] = range(138, 207);
  d.class_splits["stage_2_train"] = range(0, 207);
  d.class_splits["stage_2_test_seen"] = range(0, 207);
  d.class_splits["stage_2_test_unseen"] = range(207, 271);
  const std::vector<std::pair<const char*, int64_t>> per_class = {{"stage_1_train", 320}, {"stage_1_val_seen", 32},
                                                                   {"stage_1_val_unseen", 320}, {"stage_2_test_seen", 40},
                                                                   {"stage_2_test_unseen", 320}};
  for (const auto& [split, count] : per_class) {
    avgzsl::data::VideoSplit v;
    std::vector<int64_t> labels;
    for (int64_t c : d.class_splits[split]) {
      for (int64_t i = 0; i < static_cast<int64_t>(count * scale); ++i) {
        labels.push_back(c);
        v.video_ids.push_back(fmt::format("{}_{:05d}_{}", c, i, split));
      }
    }
    const auto n = static_cast<int64_t>(labels.size());
    v.labels = torch::tensor(labels, torch::kInt64);
    v.visual = torch::randn({n, d.visual_dim});
    v.audio = torch::randn({n, d.audio_dim});
    d.video_splits[split] = std::move(v);
  }
  d.clip_text = torch::randn({C, d.clip_dim});
  d.clap_text = torch::randn({C, d.clap_dim});
  return d;
}

}  // namespace

int main(int argc, char** argv) {
  avgzsl::util::restart_with_passive_openmp(argv);
  avgzsl::util::configure_threads(0);
  const double scale = argc > 1 ? std::atof(argv[1]) : 1.0;
  const bool keep = argc > 2 && std::string(argv[2]) == "--keep";
  const fs::path root = fs::temp_directory_path() / fmt::format("avgzsl-import-bench-{}", ::getpid());
  int64_t videos = 0;
  {
    const data::Dataset d = vggsound_size_dataset(scale);
    for (const auto& [name, split] : d.video_splits) videos += split.size();
    const auto start = std::chrono::steady_clock::now();
    avgzsl::reference::export_clipclap_release(d, root / "VGGSound", "VGGSound");
    fmt::print("generated {} videos in {:.1f} s at {}\n", videos, seconds_since(start), root.string());
  }
  int64_t bytes = 0, files = 0;
  for (const auto& e : fs::recursive_directory_iterator(root / "VGGSound/features")) {
    if (e.is_regular_file()) {
      bytes += static_cast<int64_t>(e.file_size());
      ++files;
    }
  }
  const std::string cat = "find '" + (root / "VGGSound/features").string() + "' -type f -print0 | xargs -0 cat > /dev/null";
  if (std::system(cat.c_str()) != 0) return 1;  // warm the cache for both contenders
  auto start = std::chrono::steady_clock::now();
  if (std::system(cat.c_str()) != 0) return 1;
  const double cat_s = seconds_since(start);

  avgzsl::reference::ClipClapImportOptions options;
  options.root = root / "VGGSound";
  options.dataset = "VGGSound";
  options.text_rows = avgzsl::reference::ClassTextRows::kByName;
  start = std::chrono::steady_clock::now();
  const avgzsl::reference::ClipClapImport imported = avgzsl::reference::import_clipclap_release(options);
  const double import_s = seconds_since(start);
  int64_t imported_videos = 0;
  for (const auto& [name, split] : imported.dataset.video_splits) imported_videos += split.size();

  const double mb = bytes / 1e6;
  fmt::print("{} files, {:.0f} MB; imported {} videos\n", files, mb, imported_videos);
  fmt::print("{:<8} {:>8} {:>10}\n", "reader", "seconds", "MB/s");
  fmt::print("{:<8} {:>8.2f} {:>10.0f}\n", "cat", cat_s, mb / cat_s);
  fmt::print("{:<8} {:>8.2f} {:>10.0f}   ({:.1f}x cat's time)\n", "import", import_s, mb / import_s, import_s / cat_s);
  if (!keep) fs::remove_all(root);
  return imported_videos == videos ? 0 : 1;
}
