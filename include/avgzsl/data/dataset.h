// The native avgzsl dataset: one directory with a JSON manifest and safetensors files.
// The format is documented in docs/dataset_format.md; keep the two in step.
//
//   DIR/manifest.json                  name, dimensions, classes, class splits, video ids
//   DIR/class_text.safetensors         "clip" [C, Dclip], "clap" [C, Dclap]   (row = class id)
//   DIR/videos/<split>.safetensors     "visual" [N, Dv], "audio" [N, Da], "label" [N] int64
//
// A class id is the index of the class in the manifest's "classes" list.
#pragma once

#include <torch/types.h>

#include <array>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace avgzsl::data {

// The class lists of METHOD §6.
inline constexpr std::array<const char*, 6> kClassSplitNames = {
    "stage_1_train",     "stage_1_val_seen", "stage_1_val_unseen",
    "stage_2_train",     "stage_2_test_seen", "stage_2_test_unseen"};

// The video sets of the reference's feature release (one folder each there).
inline constexpr std::array<const char*, 5> kVideoSplitNames = {
    "stage_1_train", "stage_1_val_seen", "stage_1_val_unseen", "stage_2_test_seen",
    "stage_2_test_unseen"};

struct ClassInfo {
  std::string name;          // folder-style name, e.g. "ApplyEyeMakeup"
  std::string display_name;  // what the text encoders saw, e.g. "apply eye makeup"
};

struct VideoSplit {
  std::vector<std::string> video_ids;
  torch::Tensor visual;  // [N, visual_dim] float32; undefined when the dataset has no visual features
  torch::Tensor audio;   // [N, audio_dim] float32; undefined when the dataset has no audio features
  torch::Tensor labels;  // [N] int64 class ids
  int64_t size() const { return static_cast<int64_t>(video_ids.size()); }
};

struct Dataset {
  std::string name;
  std::string description;
  int64_t visual_dim = 0;  // 0: no visual features
  int64_t audio_dim = 0;   // 0: no audio features
  int64_t clip_dim = 0;    // 0: no CLIP class-text embeddings
  int64_t clap_dim = 0;    // 0: no CLAP class-text embeddings
  std::vector<ClassInfo> classes;
  std::map<std::string, std::vector<int64_t>> class_splits;  // split name -> sorted class ids
  std::map<std::string, VideoSplit> video_splits;            // split name -> videos
  torch::Tensor clip_text;  // [C, clip_dim] float32
  torch::Tensor clap_text;  // [C, clap_dim] float32

  int64_t num_classes() const { return static_cast<int64_t>(classes.size()); }
  // Throws std::invalid_argument naming the class when it is unknown.
  int64_t class_id(const std::string& name) const;
  const std::vector<int64_t>& class_split(const std::string& split) const;
  const VideoSplit& video_split(const std::string& split) const;
};

// Reads and validates a dataset directory. Every defect (missing manifest or file, dimension
// mismatch, NaN/Inf, a class without text embedding, an empty split, labels out of range or
// outside their split) raises std::runtime_error whose message starts with the offending file.
Dataset load_dataset(const std::filesystem::path& dir);

// The same checks on an in-memory dataset; `where` prefixes the messages.
void validate_dataset(const Dataset& dataset, const std::string& where);

// Video ids that leak between the protocol's sets: listed twice in one split, or both in a split a
// stage trains on and in one it is evaluated on (stage 1: stage_1_train against stage_1_val_*;
// stage 2, which trains on all of stage 1: stage_1_* against stage_2_test_*). One line per id,
// "<id>: in <split> and <split>" or "<id>: twice in <split>", sorted; empty when none.
std::vector<std::string> video_leaks(const Dataset& dataset);

// Writes a validated dataset to `dir` atomically (the directory appears complete or not at all).
void save_dataset(const Dataset& dataset, const std::filesystem::path& dir, bool replace_existing = false);
// What save_dataset will check of `dir`, for a job to check before its work: throws
// std::runtime_error when `dir` exists (unless `replace_existing`), is a file, or cannot be made.
void check_dataset_destination(const std::filesystem::path& dir, bool replace_existing = false);

}  // namespace avgzsl::data
