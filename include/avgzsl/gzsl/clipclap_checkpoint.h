// A ClipClap checkpoint is a pair of files written atomically:
//   NAME.safetensors   the state_dict under the reference's names (parameters and BatchNorm
//                      running statistics; num_batches_tracked as int64)
//   NAME.json          {"model": ClipClapOptions, ...caller's fields (epoch, beta, ...)}
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>

#include "avgzsl/gzsl/clipclap.h"

namespace avgzsl::gzsl {

struct ClipClapCheckpoint {
  ClipClap model{nullptr};
  nlohmann::json info;  // the whole NAME.json
};

// `stem`: path without extension. `info` must be an object; "model" is filled in.
void save_clipclap_checkpoint(const std::filesystem::path& stem, ClipClapImpl& model, nlohmann::json info);
// Throws std::runtime_error naming the file on a missing file, unknown/missing tensors or shape
// mismatches. The model is returned in eval mode.
ClipClapCheckpoint load_clipclap_checkpoint(const std::filesystem::path& stem);

}  // namespace avgzsl::gzsl
