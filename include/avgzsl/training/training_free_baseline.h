// The training-free baseline row of `avgzsl evaluate`: the protocol of METHOD §6-7 with no
// training; beta is searched on the stage-1 validation split and the test split is scored at the
// reference's test beta, with distance = -log(fused probability) (gzsl/training_free.h).
#pragma once

#include "avgzsl/data/dataset.h"
#include "avgzsl/training/protocol.h"

namespace avgzsl::training {

// Uses every modality the dataset has (visual with CLIP text, audio with CLAP text). Throws
// std::runtime_error when a modality lacks its class text.
ProtocolSummary evaluate_training_free(const data::Dataset& dataset);

}  // namespace avgzsl::training
