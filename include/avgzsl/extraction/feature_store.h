// The resumable output of an extraction job: a folder of chunk files, each written atomically.
//
//   STORE/store.json                 the job (what decides the features, the classes and their
//                                    display names), the shard, the number of its videos
//   STORE/class_text.safetensors     "clip" [C, E] (and "clap" [C, E'] for audio-visual jobs):
//                                    the class-text embeddings of every class
//   STORE/chunks/NNNNNN.safetensors  "visual" [n, D] (and "audio" [n, D'] for audio-visual jobs)
//                                    for the n videos the chunk holds; metadata "videos" (JSON:
//                                    index, id, label, path, has_audio, silent_audio per row)
//                                    and "failures" (JSON: index, id, label, path, reason)
//
// A video is done once a chunk names it (as extracted or as failed). A killed job loses at most
// the chunk it was filling; restarted, it skips every video a chunk names, so nothing is lost or
// written twice. `avgzsl merge` joins the stores of the shards of one job.
#pragma once

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "avgzsl/data/dataset.h"
#include "avgzsl/extraction/split_plan.h"
#include "avgzsl/extraction/video_list.h"

namespace avgzsl::extraction {

struct ExtractedVideo {
  int64_t index = 0;       // position in the job's full video list: the order of the output
  std::string id;
  std::string label;
  std::string path;
  bool has_audio = false;
  bool silent_audio = false;  // an audio track whose samples are all zero
};

struct FailedVideo {
  int64_t index = 0;
  std::string id;
  std::string label;
  std::string path;
  std::string reason;
};

struct StoreContents {
  std::vector<ExtractedVideo> videos;  // sorted by index
  torch::Tensor visual;                // [N, D], row i = videos[i]
  torch::Tensor audio;                 // [N, D'] for audio-visual jobs, else undefined
  std::vector<FailedVideo> failures;   // sorted by index
};

class FeatureStore {
 public:
  // Opens `dir` for `job` (a JSON object; its "classes" are [{name, display_name}]) and `shard`
  // of it, which holds `videos` videos; creates it when absent, or empties it first when
  // `restart`. The store is locked (flock on dir/lock) while the object lives: a second job on it
  // is refused at once, naming the holder's PID. A folder left by a creation that never finished
  // (no store.json, nothing but empty chunks/ and temporary files) counts as absent. Throws
  // std::runtime_error when `dir` holds a store of a different job or shard, naming the keys
  // that differ, or another folder's files.
  static FeatureStore open_for_job(const std::filesystem::path& dir, const nlohmann::json& job, const ShardSpec& shard,
                                   int64_t videos, bool restart = false);
  // Opens an existing store read-only (merge). Throws std::runtime_error naming the folder.
  static FeatureStore open_existing(const std::filesystem::path& dir);

  const std::filesystem::path& dir() const { return dir_; }
  const nlohmann::json& job() const { return job_; }
  const ShardSpec& shard() const { return shard_; }
  int64_t videos_in_shard() const { return videos_; }
  std::vector<data::ClassInfo> classes() const;

  // Ids named by the chunks written so far.
  std::set<std::string> done_ids() const;
  // Appends a chunk atomically. `visual` is [videos.size(), D]; `audio` [videos.size(), D'] or
  // undefined (a visual-only job).
  void write_chunk(const std::vector<ExtractedVideo>& videos, const torch::Tensor& visual, const torch::Tensor& audio,
                   const std::vector<FailedVideo>& failures);
  // Every chunk, merged and sorted; throws naming the chunk file when one is corrupt.
  StoreContents read_all() const;
  // The finished chunk files, in the order they were written.
  std::vector<std::filesystem::path> chunk_files() const;

  bool has_class_text() const;
  // `clap_text` undefined for a visual-only job.
  void write_class_text(const torch::Tensor& clip_text, const torch::Tensor& clap_text) const;
  // {clip, clap}; clap undefined when the store has none.
  std::pair<torch::Tensor, torch::Tensor> read_class_text() const;

 private:
  FeatureStore(std::filesystem::path dir, nlohmann::json job, ShardSpec shard, int64_t videos);

  std::filesystem::path dir_;
  nlohmann::json job_;
  ShardSpec shard_;
  int64_t videos_ = 0;
  int next_chunk_ = 0;  // 0: not known yet
  std::shared_ptr<const int> lock_;   // the locked file descriptor of a store open for writing
};

struct AssemblyReport {
  int64_t videos = 0;               // in the dataset
  int64_t failed = 0;               // undecodable, listed in the report
  int64_t without_audio = 0;
  int64_t silent_audio = 0;
  int64_t left_out = 0;             // decodable, but the split plan has no set for them
  std::map<std::string, int64_t> per_split;
};

// The native dataset from the stores of one job (one store, or the N shards of a sharded job),
// split by `plan`.
// Writes DATASET atomically, then DATASET/extract_report.json (failures, videos without audio or
// with a silent track, videos left out). Throws std::runtime_error when a store is incomplete or the stores belong
// to different jobs, naming the store.
// `skipped_files` (files of the class folders that are not videos) are listed in the report too.
AssemblyReport assemble_dataset(const std::vector<FeatureStore>& stores, const SplitPlan& plan,
                                const std::filesystem::path& out, bool replace_existing,
                                const std::vector<SkippedFile>& skipped_files = {});

}  // namespace avgzsl::extraction
