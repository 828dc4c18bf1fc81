// The data of the two-stage protocol (METHOD §6), as the model consumes it.
//
//   stage-1 training:  videos of stage_1_train,                 classes stage_1_train
//   validation:        videos of stage_1_val_seen + _val_unseen, seen stage_1_val_seen, unseen stage_1_val_unseen
//   stage-2 training:  videos of all three stage-1 splits,       classes stage_2_train
//   test:              videos of stage_2_test_seen + _unseen,    seen stage_2_test_seen, unseen stage_2_test_unseen
#pragma once

#include <torch/types.h>

#include <string>
#include <vector>

#include "avgzsl/data/dataset.h"

namespace avgzsl::data {

// Which video features feed the model (METHOD §2: x = [v | a]).
enum class Modality { kVisual, kAudio, kBoth };
// Which class-text embeddings stand for a class (t = [t_clip | t_clap]).
enum class LabelSource { kClip, kClap, kBoth };

// "visual" | "audio" | "both"; throws std::invalid_argument listing the accepted values.
Modality parse_modality(const std::string& text);
std::string to_string(Modality modality);
// "clip" | "clap" | "both".
LabelSource parse_label_source(const std::string& text);
std::string to_string(LabelSource labels);
// The reference pairs each single modality with its own text half (visual-clip, audio-clap).
LabelSource matching_label_source(Modality modality);

struct TrainingSet {
  torch::Tensor inputs;          // [N, input_dim] float32
  torch::Tensor labels;          // [N] int64 class ids
  std::vector<int64_t> classes;  // sorted class ids; the cross-entropy runs over these
};

struct EvaluationSet {
  torch::Tensor inputs;         // [N, input_dim] float32
  torch::Tensor labels;         // [N] int64 class ids
  std::vector<int64_t> seen;    // sorted class ids
  std::vector<int64_t> unseen;  // sorted class ids
};

struct ProtocolSets {
  TrainingSet stage1_train;
  TrainingSet stage2_train;
  EvaluationSet validation;
  EvaluationSet test;
  torch::Tensor class_text;  // [num_classes, text_dim] float32, row = class id
  int64_t input_dim = 0;   // visual_dim + audio_dim: x = [v | a]
  int64_t visual_dim = 0;  // 0 when the modality leaves v out
  int64_t audio_dim = 0;   // 0 when the modality leaves a out
  int64_t text_dim = 0;
};

// Model inputs of a video split: [v | a] as selected. Throws std::invalid_argument when the
// dataset lacks a requested modality.
torch::Tensor model_inputs(const Dataset& dataset, const VideoSplit& videos, Modality modality);
// Class-text matrix [C, text_dim] as selected; throws when the dataset lacks an embedding source.
torch::Tensor class_text(const Dataset& dataset, LabelSource labels);

ProtocolSets build_protocol_sets(const Dataset& dataset, Modality modality, LabelSource labels);

}  // namespace avgzsl::data
