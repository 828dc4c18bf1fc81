// Training-free scoring (no ClipClap model): for each modality a video has, the cosine
// similarities between its embedding and the class texts of the same encoder (CLIP image-text,
// CLAP audio-text) become class probabilities softmax(100 * cos) -- 100 is the logit scale CLIP
// was trained to (exp(4.6052)) and the cap LAION's CLAP training clamps its scale to -- and the
// fused score is the mean of the available modalities' probabilities (late fusion: a video
// without an audio track is scored by its frames alone). Averaging probabilities instead of raw
// cosines keeps one encoder's wider cosine spread from drowning the other.
#pragma once

#include <torch/types.h>

namespace avgzsl::gzsl {

inline constexpr double kTrainingFreeLogitScale = 100.0;

// [N, K] fused class probabilities. `visual` [N, Dv] with `clip_text` [K, Dv], and/or `audio`
// [N, Da] with `clap_text` [K, Da] (undefined tensors: that modality is absent). A zero audio
// row means "no audio track" for that video. Inputs need not be normalised.
torch::Tensor training_free_probabilities(const torch::Tensor& visual, const torch::Tensor& clip_text,
                                          const torch::Tensor& audio, const torch::Tensor& clap_text);
// Their logarithm, computed without underflow (the distances of the training-free baseline).
torch::Tensor training_free_log_probabilities(const torch::Tensor& visual, const torch::Tensor& clip_text,
                                              const torch::Tensor& audio, const torch::Tensor& clap_text);

}  // namespace avgzsl::gzsl
