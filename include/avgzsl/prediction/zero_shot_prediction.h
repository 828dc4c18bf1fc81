// Zero-shot classification of videos among class names given at call time (`avgzsl predict`),
// and the training-free baseline of `avgzsl evaluate`.
//
// Training-free scoring (no ClipClap model): for each modality the video has, the cosine
// similarities between its embedding and the class texts of the same encoder (CLIP image-text,
// CLAP audio-text) become class probabilities softmax(100 * cos) -- 100 is the logit scale CLIP
// was trained to (exp(4.6052)) and the cap LAION's CLAP training clamps its scale to -- and the
// fused score is the mean of the available modalities' probabilities (late fusion: a video
// without an audio track is scored by its frames alone). Averaging probabilities instead of raw
// cosines keeps one encoder's wider cosine spread from drowning the other.
//
// With a trained run (`--run`): the run's stage-2 model embeds the videos' [v | a] and the class
// texts [t_clip | t_clap] (as its configuration selects) and classes are ranked by distance in
// its embedding space (score = -distance), as the evaluation protocol does.
#pragma once

#include <torch/types.h>

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "avgzsl/data/dataset.h"
#include "avgzsl/training/protocol.h"
#include "avgzsl/encoders/video_features.h"

namespace avgzsl::prediction {

inline constexpr double kTrainingFreeLogitScale = 100.0;

// [N, K] fused class probabilities. `visual` [N, Dv] with `clip_text` [K, Dv], and/or `audio`
// [N, Da] with `clap_text` [K, Da] (undefined tensors: that modality is absent). A zero audio
// row means "no audio track" for that video. Inputs need not be normalised.
torch::Tensor training_free_probabilities(const torch::Tensor& visual, const torch::Tensor& clip_text,
                                          const torch::Tensor& audio, const torch::Tensor& clap_text);

// The training-free baseline under the protocol of METHOD §6-7: no training; beta is searched on
// the stage-1 validation split and the test split is scored at the reference's test beta, with
// distance = -log(fused probability). Uses every modality the dataset has (visual with CLIP
// text, audio with CLAP text). Throws std::runtime_error when a modality lacks its class text.
training::ProtocolSummary evaluate_training_free(const data::Dataset& dataset);

struct PredictOptions {
  std::vector<std::filesystem::path> videos;
  std::vector<std::string> classes;  // the names, as the text encoders should read them
  std::filesystem::path clip_dir;
  std::filesystem::path clap_dir;    // empty: CLIP alone (training-free), or an error with a run that needs audio
  std::filesystem::path run_dir;     // empty: training-free
  std::string templates = "ucf";     // CLIP prompt set or file
  std::string audio_templates;       // CLAP prompts; empty: the audio half of `templates`
  int frames = 1;
  encoders::FramePixels pixels = encoders::FramePixels::kStandard;
  int top_k = 5;
  torch::Device device = torch::kCPU;
};

struct ClassScore {
  std::string name;
  double score = 0;  // training-free: fused probability; with a run: -distance
};

struct VideoPrediction {
  std::filesystem::path video;
  std::string error;                // non-empty: the video could not be read (no scores)
  bool has_audio = false;
  std::vector<ClassScore> top;      // best first, at most top_k
};

struct PredictionReport {
  std::string mode;                 // "training-free" or "run"
  std::string modalities;           // "visual", "visual+audio", ...
  std::vector<VideoPrediction> videos;
};

// Class names: a comma-separated list, or a file with one name per line. Trims spaces; throws
// std::invalid_argument on an empty or duplicated name, naming it.
std::vector<std::string> parse_class_list(const std::string& comma_separated);
std::vector<std::string> read_class_file(const std::filesystem::path& file);

// Checks everything (models, run, class list) before decoding any video; a video that cannot be
// read gets its error in the report, the others are still scored.
PredictionReport predict_videos(const PredictOptions& options);

}  // namespace avgzsl::prediction
