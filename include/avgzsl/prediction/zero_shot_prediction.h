// Zero-shot classification of videos among class names given at call time (`avgzsl predict`),
// and the training-free baseline of `avgzsl evaluate`.
//
// Training-free scoring (no ClipClap model): gzsl/training_free.h.
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

// Checks everything (models, run, class list) before decoding any video; a video that cannot be
// read gets its error in the report, the others are still scored.
PredictionReport predict_videos(const PredictOptions& options);

}  // namespace avgzsl::prediction
