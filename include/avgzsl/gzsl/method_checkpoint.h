// A model checkpoint of any method is a pair of files written atomically:
//   NAME.safetensors   the state_dict under the original implementation's names (parameters and
//                      BatchNorm running statistics; num_batches_tracked as int64)
//   NAME.json          {"format", "method", "dims", "model": the method's options, ...caller's
//                      fields (epoch, beta, ...)}
// Checkpoints written before methods existed have no "method" (ClipClap) and no "dims".
#pragma once

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "avgzsl/gzsl/method.h"

namespace avgzsl::gzsl {

struct MethodCheckpoint {
  std::shared_ptr<Method> model;
  nlohmann::json info;  // the whole NAME.json
};

// `stem`: path without extension. `info` must be an object; "method", "dims" and "model" are
// filled in.
void save_method_checkpoint(const std::filesystem::path& stem, Method& model, nlohmann::json info);
// Throws std::runtime_error naming the file on a missing file, an unknown method, unknown/missing
// tensors or shape mismatches. The model is returned in eval mode.
MethodCheckpoint load_method_checkpoint(const std::filesystem::path& stem);
// The method a checkpoint description names ("clipclap" when it predates methods).
std::string checkpoint_method(const nlohmann::json& info);

}  // namespace avgzsl::gzsl
