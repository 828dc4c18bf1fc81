#include "avgzsl/data/protocol_sets.h"

#include <stdexcept>

namespace avgzsl::data {

Modality parse_modality(const std::string& text) {
  if (text == "visual" || text == "video") return Modality::kVisual;
  if (text == "audio") return Modality::kAudio;
  if (text == "both") return Modality::kBoth;
  throw std::invalid_argument("unknown modality '" + text + "' (expected visual, audio or both)");
}

std::string to_string(Modality modality) {
  switch (modality) {
    case Modality::kVisual: return "visual";
    case Modality::kAudio: return "audio";
    case Modality::kBoth: return "both";
  }
  return "?";
}

LabelSource parse_label_source(const std::string& text) {
  if (text == "clip") return LabelSource::kClip;
  if (text == "clap" || text == "wavcaps") return LabelSource::kClap;
  if (text == "both") return LabelSource::kBoth;
  throw std::invalid_argument("unknown label source '" + text + "' (expected clip, clap or both)");
}

std::string to_string(LabelSource labels) {
  switch (labels) {
    case LabelSource::kClip: return "clip";
    case LabelSource::kClap: return "clap";
    case LabelSource::kBoth: return "both";
  }
  return "?";
}

LabelSource matching_label_source(Modality modality) {
  switch (modality) {
    case Modality::kVisual: return LabelSource::kClip;
    case Modality::kAudio: return LabelSource::kClap;
    case Modality::kBoth: return LabelSource::kBoth;
  }
  return LabelSource::kBoth;
}

torch::Tensor model_inputs(const Dataset& dataset, const VideoSplit& videos, Modality modality) {
  const bool need_visual = modality != Modality::kAudio;
  const bool need_audio = modality != Modality::kVisual;
  if (need_visual && dataset.visual_dim == 0) {
    throw std::invalid_argument("dataset '" + dataset.name + "' has no visual features (modality " + to_string(modality) + ")");
  }
  if (need_audio && dataset.audio_dim == 0) {
    throw std::invalid_argument("dataset '" + dataset.name + "' has no audio features (modality " + to_string(modality) + ")");
  }
  if (modality == Modality::kVisual) return videos.visual;
  if (modality == Modality::kAudio) return videos.audio;
  return torch::cat({videos.visual, videos.audio}, /*dim=*/1);  // the reference's order: video first
}

torch::Tensor class_text(const Dataset& dataset, LabelSource labels) {
  const bool need_clip = labels != LabelSource::kClap;
  const bool need_clap = labels != LabelSource::kClip;
  if (need_clip && dataset.clip_dim == 0) {
    throw std::invalid_argument("dataset '" + dataset.name + "' has no CLIP class-text embeddings (labels " + to_string(labels) + ")");
  }
  if (need_clap && dataset.clap_dim == 0) {
    throw std::invalid_argument("dataset '" + dataset.name + "' has no CLAP class-text embeddings (labels " + to_string(labels) + ")");
  }
  if (labels == LabelSource::kClip) return dataset.clip_text;
  if (labels == LabelSource::kClap) return dataset.clap_text;
  return torch::cat({dataset.clip_text, dataset.clap_text}, /*dim=*/1);
}

namespace {

// Concatenates the inputs and labels of several video splits, in the given order.
std::pair<torch::Tensor, torch::Tensor> gather(const Dataset& dataset, std::initializer_list<const char*> splits,
                                               Modality modality) {
  std::vector<torch::Tensor> inputs, labels;
  for (const char* split : splits) {
    const VideoSplit& v = dataset.video_split(split);
    inputs.push_back(model_inputs(dataset, v, modality));
    labels.push_back(v.labels);
  }
  return {torch::cat(inputs, 0).contiguous(), torch::cat(labels, 0).contiguous()};
}

}  // namespace

ProtocolSets build_protocol_sets(const Dataset& dataset, Modality modality, LabelSource labels) {
  ProtocolSets sets;
  sets.class_text = class_text(dataset, labels).contiguous();
  sets.text_dim = sets.class_text.size(1);

  auto [s1_x, s1_y] = gather(dataset, {"stage_1_train"}, modality);
  sets.stage1_train = {s1_x, s1_y, dataset.class_split("stage_1_train")};
  auto [s2_x, s2_y] = gather(dataset, {"stage_1_train", "stage_1_val_seen", "stage_1_val_unseen"}, modality);
  sets.stage2_train = {s2_x, s2_y, dataset.class_split("stage_2_train")};
  auto [val_x, val_y] = gather(dataset, {"stage_1_val_seen", "stage_1_val_unseen"}, modality);
  sets.validation = {val_x, val_y, dataset.class_split("stage_1_val_seen"), dataset.class_split("stage_1_val_unseen")};
  auto [test_x, test_y] = gather(dataset, {"stage_2_test_seen", "stage_2_test_unseen"}, modality);
  sets.test = {test_x, test_y, dataset.class_split("stage_2_test_seen"), dataset.class_split("stage_2_test_unseen")};
  sets.input_dim = s1_x.size(1);
  sets.visual_dim = modality == Modality::kAudio ? 0 : dataset.visual_dim;
  sets.audio_dim = modality == Modality::kVisual ? 0 : dataset.audio_dim;
  return sets;
}

}  // namespace avgzsl::data
