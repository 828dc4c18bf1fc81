#include "avgzsl/extraction/feature_store.h"

#include <torch/torch.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <stdexcept>
#include <tuple>

#include "avgzsl/io/atomic_file.h"
#include "avgzsl/io/safetensors.h"

namespace avgzsl::extraction {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kStoreFormat = "avgzsl-feature-store";

[[noreturn]] void fail(const fs::path& path, const std::string& problem) {
  throw std::runtime_error(path.string() + ": " + problem);
}

json read_json_file(const fs::path& path) {
  try {
    return json::parse(io::read_file(path));
  } catch (const json::exception& e) {
    fail(path, std::string("not valid JSON (") + e.what() + ")");
  }
}

std::string differing_keys(const json& a, const json& b) {
  std::string keys;
  for (const auto& [key, value] : a.items()) {
    if (!b.contains(key) || b.at(key) != value) keys += (keys.empty() ? "" : ", ") + key;
  }
  for (const auto& [key, value] : b.items()) {
    if (!a.contains(key)) keys += (keys.empty() ? "" : ", ") + key;
  }
  return keys;
}

json to_json(const ExtractedVideo& v) {
  return {{"index", v.index}, {"id", v.id},
          {"label", v.label}, {"path", v.path},
          {"has_audio", v.has_audio}, {"silent_audio", v.silent_audio}};
}
json to_json(const FailedVideo& f) {
  return {{"index", f.index}, {"id", f.id}, {"label", f.label}, {"path", f.path}, {"reason", f.reason}};
}

}  // namespace

FeatureStore::FeatureStore(fs::path dir, json job, ShardSpec shard, int64_t videos)
    : dir_(std::move(dir)), job_(std::move(job)), shard_(shard), videos_(videos) {}

namespace {

// Takes the store's lock, or throws naming the job that holds it. flock: released by the kernel
// when the holder dies, so a killed job never leaves a stale lock.
std::shared_ptr<const int> lock_store(const fs::path& dir) {
  const fs::path file = dir / "lock";
  const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) fail(file, std::string("cannot create the store's lock file (") + std::strerror(errno) + ")");
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char holder[32] = {};
    const ssize_t n = ::pread(fd, holder, sizeof holder - 1, 0);
    ::close(fd);
    const std::string pid = n > 0 ? std::string(holder, size_t(n)) : "unknown";
    fail(dir, "is being written by another avgzsl job (PID " + pid.substr(0, pid.find_first_of("\n ")) +
                  "); wait for it to finish or use another output folder");
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    // Only the message of a refused job needs the PID; the lock itself holds.
  }
  return std::shared_ptr<const int>(new int(fd), [](const int* p) {
    ::close(*p);
    delete p;
  });
}

// What a creation interrupted before store.json (a full disk, a kill) leaves: the lock, an empty
// chunks/, temporary files. Anything else is someone's data and is never removed.
bool only_creation_leftovers(const fs::path& dir) {
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name == "lock" || name.rfind("store.json.tmp-", 0) == 0) continue;
    if (name == "chunks" && entry.is_directory() && fs::is_empty(entry.path())) continue;
    return false;
  }
  return true;
}

void remove_all_but_lock(const fs::path& dir) {
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().filename() != "lock") fs::remove_all(entry.path());
  }
}

}  // namespace

FeatureStore FeatureStore::open_for_job(const fs::path& dir, const json& job, const ShardSpec& shard, int64_t videos,
                                        bool restart) {
  const fs::path manifest = dir / "store.json";
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec)) fail(dir, "exists and is not a directory; give a folder for the output");
  if (fs::exists(dir, ec) && !fs::exists(manifest, ec) && !only_creation_leftovers(dir)) {
    fail(dir, "exists and is not a feature store; use another output folder");
  }
  fs::create_directories(dir, ec);
  if (ec) fail(dir, "cannot create directory (" + ec.message() + ")");
  std::shared_ptr<const int> lock = lock_store(dir);
  if (fs::exists(manifest) && !restart) {
    FeatureStore existing = open_existing(dir);
    if (existing.job_ != job) {
      fail(dir, "holds the features of a different job (differs in: " + differing_keys(existing.job_, job) +
                    "); use another output folder or --restart");
    }
    if (existing.shard_.index != shard.index || existing.shard_.count != shard.count) {
      fail(dir, "holds shard " + existing.shard_.text() + " of this job, not " + shard.text());
    }
    existing.lock_ = std::move(lock);
    return existing;
  }
  // A new store: everything but the lock goes (an old store with --restart, or leftovers), then
  // chunks/, then store.json last: a store without store.json is never taken for a finished one.
  remove_all_but_lock(dir);
  fs::create_directories(dir / "chunks");
  const json content = {{"format", kStoreFormat},
                        {"format_version", 1},
                        {"job", job},
                        {"shard", {{"index", shard.index}, {"count", shard.count}}},
                        {"videos", videos}};
  io::write_file_atomically(manifest, content.dump(2) + "\n");
  FeatureStore created(dir, job, shard, videos);
  created.lock_ = std::move(lock);
  return created;
}

FeatureStore FeatureStore::open_existing(const fs::path& dir) {
  const fs::path manifest = dir / "store.json";
  if (!fs::exists(manifest)) fail(dir, "not a feature store (no store.json)");
  const json content = read_json_file(manifest);
  try {
    if (content.at("format").get<std::string>() != kStoreFormat) fail(manifest, "not an avgzsl feature store");
    ShardSpec shard;
    shard.index = content.at("shard").at("index").get<int>();
    shard.count = content.at("shard").at("count").get<int>();
    return FeatureStore(dir, content.at("job"), shard, content.at("videos").get<int64_t>());
  } catch (const json::exception& e) {
    fail(manifest, std::string("malformed store manifest (") + e.what() + ")");
  }
}

std::vector<data::ClassInfo> FeatureStore::classes() const {
  std::vector<data::ClassInfo> out;
  for (const json& c : job_.at("classes")) out.push_back({c.at("name").get<std::string>(), c.at("display_name").get<std::string>()});
  return out;
}

std::vector<fs::path> FeatureStore::chunk_files() const {
  std::vector<fs::path> files;
  if (!fs::is_directory(dir_ / "chunks")) return files;
  for (const auto& entry : fs::directory_iterator(dir_ / "chunks")) {
    const std::string name = entry.path().filename().string();
    // Temporary files of an interrupted atomic write do not end in ".safetensors".
    if (entry.is_regular_file() && name.size() == 18 && name.compare(6, 12, ".safetensors") == 0) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

namespace {

struct ChunkContents {
  std::vector<ExtractedVideo> videos;
  std::vector<FailedVideo> failures;
  int64_t visual_dim = 0;  // columns of its features; 0 without videos
  int64_t audio_dim = 0;   // 0: no audio features
};

// The columns of a chunk's feature tensor `name`, checked: one float row per video.
int64_t feature_columns(const io::SafetensorsFile& chunk, const char* name, size_t videos) {
  const io::SafetensorsEntry& e = chunk.entry(name);
  if (!at::isFloatingType(io::safetensors_dtype_to_torch(e.dtype))) {
    fail(chunk.path(), std::string("tensor '") + name + "' has dtype " + e.dtype + ", expected F32");
  }
  if (e.shape.size() != 2 || e.shape[0] != static_cast<int64_t>(videos)) {
    fail(chunk.path(), std::string("'") + name + "' has " + std::to_string(e.shape.empty() ? 0 : e.shape[0]) + " rows for " +
                           std::to_string(videos) + " videos");
  }
  return e.shape[1];
}

// A chunk's metadata and the shapes of its features; the feature bytes are not touched.
ChunkContents read_chunk(const fs::path& file) {
  const io::SafetensorsFile chunk(file);
  ChunkContents out;
  try {
    for (const json& v : json::parse(chunk.metadata().at("videos"))) {
      out.videos.push_back({v.at("index").get<int64_t>(), v.at("id").get<std::string>(), v.at("label").get<std::string>(),
                            v.at("path").get<std::string>(), v.at("has_audio").get<bool>(),
                            v.value("silent_audio", false)});
    }
    for (const json& f : json::parse(chunk.metadata().at("failures"))) {
      out.failures.push_back({f.at("index").get<int64_t>(), f.at("id").get<std::string>(), f.at("label").get<std::string>(),
                              f.at("path").get<std::string>(), f.at("reason").get<std::string>()});
    }
  } catch (const std::exception& e) {
    fail(file, std::string("malformed chunk metadata (") + e.what() + "); delete the file to extract its videos again");
  }
  if (!out.videos.empty()) {
    out.visual_dim = feature_columns(chunk, "visual", out.videos.size());
    if (chunk.contains("audio")) out.audio_dim = feature_columns(chunk, "audio", out.videos.size());
  }
  return out;
}

// Where the features of one extracted video lie: row `row` of chunk file `chunk`.
struct IndexedVideo {
  ExtractedVideo video;
  size_t chunk = 0;
  int64_t row = 0;
};

// The chunks of one or more stores, read for their metadata: what merge and read_all know before
// they copy any feature, so that each row is copied once, into its final place.
struct ChunkIndex {
  std::vector<fs::path> chunks;
  std::vector<IndexedVideo> videos;  // in chunk order
  std::vector<FailedVideo> failures;
  int64_t visual_dim = 0;
  int64_t audio_dim = 0;

  // Adds the chunks of `store`; returns how many videos (extracted or failed) they name.
  int64_t add_store(const fs::path& store, const std::vector<fs::path>& files) {
    int64_t named = 0;
    for (const fs::path& file : files) {
      ChunkContents chunk = read_chunk(file);
      named += static_cast<int64_t>(chunk.videos.size() + chunk.failures.size());
      if (!chunk.videos.empty()) {
        if (visual_dim == 0 && videos.empty()) {
          visual_dim = chunk.visual_dim;
          audio_dim = chunk.audio_dim;
        }
        if ((chunk.audio_dim > 0) != (audio_dim > 0)) {
          fail(store, "some chunks hold audio features and some do not; extract again with --restart");
        }
        if (chunk.visual_dim != visual_dim || chunk.audio_dim != audio_dim) {
          fail(file, "holds features of " + std::to_string(chunk.visual_dim) + "/" + std::to_string(chunk.audio_dim) +
                         " (visual/audio) dimensions, other chunks " + std::to_string(visual_dim) + "/" + std::to_string(audio_dim));
        }
      }
      for (size_t row = 0; row < chunk.videos.size(); ++row) {
        videos.push_back({std::move(chunk.videos[row]), chunks.size(), static_cast<int64_t>(row)});
      }
      for (auto& f : chunk.failures) failures.push_back(std::move(f));
      chunks.push_back(file);
    }
    return named;
  }

  // Positions of `videos` in the order of the job's list.
  std::vector<size_t> job_order() const {
    std::vector<size_t> order(videos.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return videos[a].video.index < videos[b].video.index; });
    return order;
  }

  // Copies every video's features, chunk by chunk, to row `place[i].second` of
  // `visual[place[i].first]` (and audio alike; first < 0: nowhere). The outputs are allocated by
  // the caller, float32 [rows, visual_dim] / [rows, audio_dim]; only one chunk is mapped at a time.
  void copy_features(const std::vector<std::pair<int, int64_t>>& place, std::vector<torch::Tensor>& visual,
                     std::vector<torch::Tensor>& audio) const {
    const auto bases = [](std::vector<torch::Tensor>& tensors) {
      std::vector<float*> out;
      for (torch::Tensor& t : tensors) out.push_back(t.data_ptr<float>());
      return out;
    };
    const std::vector<float*> visual_rows = bases(visual), audio_rows = bases(audio);
    std::vector<std::vector<size_t>> of_chunk(chunks.size());
    for (size_t i = 0; i < videos.size(); ++i) of_chunk[videos[i].chunk].push_back(i);
    for (size_t c = 0; c < chunks.size(); ++c) {
      if (of_chunk[c].empty()) continue;
      const io::SafetensorsFile chunk(chunks[c]);
      const auto copy_rows = [&](const char* name, int64_t dim, const std::vector<float*>& out) {
        if (chunk.entry(name).shape != std::vector<int64_t>{static_cast<int64_t>(of_chunk[c].size()), dim}) {
          fail(chunks[c], "changed since it was read (another job writing to the store?)");
        }
        // write_chunk stores float32; another float type is converted first.
        torch::Tensor converted;
        const float* from = reinterpret_cast<const float*>(chunk.bytes(name).data());
        if (chunk.entry(name).dtype != "F32") {
          converted = chunk.tensor(name, torch::kFloat32);
          from = converted.data_ptr<float>();
        }
        for (size_t i : of_chunk[c]) {
          const auto [target, row] = place[i];
          if (target >= 0) std::memcpy(out[static_cast<size_t>(target)] + row * dim, from + videos[i].row * dim, static_cast<size_t>(dim) * sizeof(float));
        }
      };
      copy_rows("visual", visual_dim, visual_rows);
      if (audio_dim > 0) copy_rows("audio", audio_dim, audio_rows);
    }
  }
};

}  // namespace

std::set<std::string> FeatureStore::done_ids() const {
  std::set<std::string> ids;
  for (const fs::path& file : chunk_files()) {
    const ChunkContents chunk = read_chunk(file);
    for (const auto& v : chunk.videos) ids.insert(v.id);
    for (const auto& f : chunk.failures) ids.insert(f.id);
  }
  return ids;
}

void FeatureStore::write_chunk(const std::vector<ExtractedVideo>& videos, const torch::Tensor& visual,
                               const torch::Tensor& audio, const std::vector<FailedVideo>& failures) {
  if (videos.empty() && failures.empty()) return;
  if (next_chunk_ == 0) {  // the first chunk of this run: continue after the last one on disk
    const std::vector<fs::path> existing = chunk_files();
    next_chunk_ = existing.empty() ? 1 : std::stoi(existing.back().filename().string().substr(0, 6)) + 1;
  }
  char name[32];
  std::snprintf(name, sizeof(name), "%06d.safetensors", next_chunk_++);
  json video_rows = json::array(), failure_rows = json::array();
  for (const auto& v : videos) video_rows.push_back(to_json(v));
  for (const auto& f : failures) failure_rows.push_back(to_json(f));
  io::NamedTensors tensors;
  if (!videos.empty()) {
    TORCH_CHECK(visual.dim() == 2 && visual.size(0) == static_cast<int64_t>(videos.size()), "chunk: ", videos.size(),
                " videos but visual features ", visual.sizes());
    tensors.emplace_back("visual", visual.to(torch::kCPU, torch::kFloat32).contiguous());
    if (audio.defined()) {
      TORCH_CHECK(audio.dim() == 2 && audio.size(0) == static_cast<int64_t>(videos.size()), "chunk: ", videos.size(),
                  " videos but audio features ", audio.sizes());
      tensors.emplace_back("audio", audio.to(torch::kCPU, torch::kFloat32).contiguous());
    }
  }
  io::save_safetensors(dir_ / "chunks" / name, tensors, {{"videos", video_rows.dump()}, {"failures", failure_rows.dump()}});
}

StoreContents FeatureStore::read_all() const {
  ChunkIndex index;
  index.add_store(dir_, chunk_files());
  StoreContents out;
  std::vector<std::pair<int, int64_t>> place(index.videos.size());
  for (size_t i : index.job_order()) {
    place[i] = {0, static_cast<int64_t>(out.videos.size())};
    out.videos.push_back(index.videos[i].video);
  }
  const auto rows = static_cast<int64_t>(out.videos.size());
  std::vector<torch::Tensor> visual, audio;
  if (rows > 0) visual.push_back(torch::empty({rows, index.visual_dim}, torch::kFloat32));
  if (rows > 0 && index.audio_dim > 0) audio.push_back(torch::empty({rows, index.audio_dim}, torch::kFloat32));
  index.copy_features(place, visual, audio);
  if (!visual.empty()) out.visual = visual.front();
  if (!audio.empty()) out.audio = audio.front();
  out.failures = std::move(index.failures);
  std::sort(out.failures.begin(), out.failures.end(), [](const auto& a, const auto& b) { return a.index < b.index; });
  return out;
}

bool FeatureStore::has_class_text() const { return fs::exists(dir_ / "class_text.safetensors"); }

void FeatureStore::write_class_text(const torch::Tensor& clip_text, const torch::Tensor& clap_text) const {
  io::NamedTensors tensors{{"clip", clip_text.to(torch::kCPU).contiguous()}};
  if (clap_text.defined()) tensors.emplace_back("clap", clap_text.to(torch::kCPU).contiguous());
  io::save_safetensors(dir_ / "class_text.safetensors", tensors);
}

std::pair<torch::Tensor, torch::Tensor> FeatureStore::read_class_text() const {
  const io::SafetensorsFile file(dir_ / "class_text.safetensors");
  return {file.tensor("clip", torch::kFloat32),
          file.contains("clap") ? file.tensor("clap", torch::kFloat32) : torch::Tensor()};
}

AssemblyReport assemble_dataset(const std::vector<FeatureStore>& stores, const SplitPlan& plan, const fs::path& out,
                                bool replace_existing,
                                const std::vector<SkippedFile>& skipped_files) {
  if (stores.empty()) throw std::invalid_argument("no feature stores to assemble");
  const FeatureStore& first = stores.front();
  const int shard_count = first.shard().count;
  std::map<int, const FeatureStore*> by_shard;
  for (const FeatureStore& store : stores) {
    if (store.job() != first.job()) {
      fail(store.dir(), "belongs to a different job than " + first.dir().string() +
                            " (differs in: " + differing_keys(first.job(), store.job()) + ")");
    }
    if (store.shard().count != shard_count) {
      fail(store.dir(), "is shard " + store.shard().text() + ", but " + first.dir().string() + " is shard " + first.shard().text());
    }
    if (!by_shard.emplace(store.shard().index, &store).second) {
      fail(store.dir(), "shard " + store.shard().text() + " is given twice (also " + by_shard[store.shard().index]->dir().string() + ")");
    }
  }
  for (int k = 1; k <= shard_count; ++k) {
    if (!by_shard.count(k)) {
      fail(first.dir(), "shard " + std::to_string(k) + "/" + std::to_string(shard_count) + " of this job is missing");
    }
  }

  // The metadata of every shard's chunks; the features are copied at the end, straight into the
  // split tensors, so that peak memory stays near the output's size (issue 16).
  ChunkIndex index;
  for (const auto& [k, store] : by_shard) {
    const int64_t done = index.add_store(store->dir(), store->chunk_files());
    if (done != store->videos_in_shard()) {
      fail(store->dir(), "is incomplete: " + std::to_string(done) + " of " + std::to_string(store->videos_in_shard()) +
                             " videos done; run the same extract command again to finish it");
    }
  }
  if (index.videos.empty()) fail(first.dir(), "no video could be decoded; see the failures in the chunks");
  std::vector<FailedVideo>& failures = index.failures;
  std::sort(failures.begin(), failures.end(), [](const auto& a, const auto& b) { return a.index < b.index; });

  data::Dataset dataset;
  dataset.name = first.job().value("name", std::string("extracted"));
  dataset.description = "extracted by avgzsl extract from " + first.job().value("videos", std::string("?"));
  dataset.classes = first.classes();
  dataset.visual_dim = index.visual_dim;
  std::tie(dataset.clip_text, dataset.clap_text) = first.read_class_text();
  dataset.clip_dim = dataset.clip_text.size(1);
  if (index.audio_dim > 0) {
    if (!dataset.clap_text.defined()) fail(first.dir(), "has audio features but no CLAP class text");
    dataset.audio_dim = index.audio_dim;
    dataset.clap_dim = dataset.clap_text.size(1);
  } else {
    dataset.clap_text = torch::Tensor();  // a visual-only dataset
  }
  std::map<std::string, int64_t> class_ids;
  for (size_t c = 0; c < dataset.classes.size(); ++c) class_ids[dataset.classes[c].name] = static_cast<int64_t>(c);
  for (const auto& [split, names] : plan.class_splits) {
    std::vector<int64_t>& ids = dataset.class_splits[split];
    for (const std::string& name : names) ids.push_back(class_ids.at(name));
    std::sort(ids.begin(), ids.end());
  }

  AssemblyReport report;
  report.failed = static_cast<int64_t>(failures.size());
  std::map<std::string, int> split_number;
  for (const char* split : data::kVideoSplitNames) split_number.emplace(split, static_cast<int>(split_number.size()));
  std::vector<std::vector<int64_t>> labels_of_split(split_number.size());
  std::vector<std::pair<int, int64_t>> place(index.videos.size(), {-1, 0});  // (split, row) of each video
  json left_out = json::array(), without_audio = json::array(), silent_audio = json::array();
  std::vector<std::pair<std::string, std::string>> ids_and_labels;
  for (const IndexedVideo& v : index.videos) ids_and_labels.emplace_back(v.video.id, v.video.label);
  const std::map<std::string, std::string> assignment = plan.assign(ids_and_labels);
  for (size_t i : index.job_order()) {
    const ExtractedVideo& v = index.videos[i].video;
    if (!v.has_audio) {
      ++report.without_audio;
      without_audio.push_back(v.id);
    }
    if (v.silent_audio) {
      ++report.silent_audio;
      silent_audio.push_back(v.id);
    }
    const auto split = assignment.find(v.id);
    if (split == assignment.end()) {
      ++report.left_out;
      left_out.push_back(v.id);
      continue;
    }
    const int number = split_number.at(split->second);
    std::vector<int64_t>& labels = labels_of_split[static_cast<size_t>(number)];
    place[i] = {number, static_cast<int64_t>(labels.size())};
    labels.push_back(class_ids.at(v.label));
    dataset.video_splits[split->second].video_ids.push_back(v.id);
  }
  std::vector<torch::Tensor> visual, audio;  // one per split, in split_number order
  for (const auto& labels : labels_of_split) {
    const auto rows = static_cast<int64_t>(labels.size());
    visual.push_back(torch::empty({rows, index.visual_dim}, torch::kFloat32));
    if (index.audio_dim > 0) audio.push_back(torch::empty({rows, index.audio_dim}, torch::kFloat32));
  }
  index.copy_features(place, visual, audio);
  for (const auto& [split, number] : split_number) {
    data::VideoSplit& s = dataset.video_splits[split];
    const std::vector<int64_t>& labels = labels_of_split[static_cast<size_t>(number)];
    report.per_split[split] = static_cast<int64_t>(labels.size());
    report.videos += static_cast<int64_t>(labels.size());
    s.visual = visual[static_cast<size_t>(number)];
    if (index.audio_dim > 0) s.audio = audio[static_cast<size_t>(number)];
    s.labels = torch::tensor(labels, torch::kInt64);
  }
  data::validate_dataset(dataset, out.string());
  data::save_dataset(dataset, out, replace_existing);

  json skipped_rows = json::array();
  for (const SkippedFile& f : skipped_files) skipped_rows.push_back({{"path", f.path.string()}, {"reason", f.reason}});
  json failure_rows = json::array();
  for (const auto& f : failures) failure_rows.push_back(to_json(f));
  const json report_json = {{"videos", report.videos},
                            {"per_split", report.per_split},
                            {"split_plan", plan.source},
                            {"failed", failure_rows},
                            {"without_audio", without_audio},
                            {"silent_audio", silent_audio},
                            {"left_out_by_split_plan", left_out},
                            {"skipped_files", skipped_rows}};
  io::write_file_atomically(out / "extract_report.json", report_json.dump(2) + "\n");
  return report;
}

}  // namespace avgzsl::extraction
