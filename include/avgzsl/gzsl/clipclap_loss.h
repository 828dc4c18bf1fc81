// The three training losses of METHOD §4, as the reference's compute_loss computes them.
#pragma once

#include <torch/types.h>

#include "avgzsl/gzsl/clipclap.h"

namespace avgzsl::gzsl {

struct LossTerms {
  torch::Tensor total;           // ce + reg + rec (unweighted), scalar
  torch::Tensor cross_entropy;   // 0 when switched off
  torch::Tensor regression;
  torch::Tensor reconstruction;
};

// `class_text`: [K, text_dim] texts of the training classes (sorted class ids);
// `target_index`: [B] int64 index of each video's class among those K.
// Cross-entropy runs W_proj(W_enc(class_text)) through the model again, in its current
// train/eval mode, after `outputs` was computed: this is the reference's order, which matters
// for BatchNorm running statistics and dropout draws.
// `class_embeddings` [K, embedding]: theta_w of the K class texts when the caller has it already;
// otherwise it is computed here as model.embed_classes(class_text).
LossTerms clipclap_loss(ClipClapImpl& model, const ClipClapOutputs& outputs, const torch::Tensor& class_text,
                        const torch::Tensor& target_index, const LossSwitches& switches,
                        const torch::Tensor& class_embeddings = {});

}  // namespace avgzsl::gzsl
