// The reference implementation's trained models: `torch.save` of
//   {"epoch": best epoch + 1, "model": state_dict, "optimizer": state_dict, "metric": "score"}
// (src/utils.py save_best_model). Parameter names are ours (models/clipclap.h), possibly with
// DataParallel's "module." prefix, which is removed as the reference's load_model_parameters does.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "avgzsl/gzsl/clipclap.h"

namespace avgzsl::reference {

struct ReferenceCheckpoint {
  std::vector<std::pair<std::string, torch::Tensor>> state;  // the "model" entry, prefixes removed
  int64_t epoch = -1;                                        // the "epoch" entry; -1 when absent
  std::string metric;                                        // the "metric" entry, if a str
};

// Throws std::runtime_error naming the file when it is not such a dict or holds no tensors.
ReferenceCheckpoint read_reference_checkpoint(const std::filesystem::path& path);

// A ClipClap with the checkpoint's weights, in eval mode. Every tensor our model has must be
// present with its shape (the error names the tensor and both shapes); tensors our model does
// not have are listed in `ignored` (the reference also skips them).
gzsl::ClipClap clipclap_from_reference(const ReferenceCheckpoint& checkpoint, const gzsl::ClipClapOptions& options,
                                 const std::string& source, std::vector<std::string>* ignored = nullptr);

}  // namespace avgzsl::reference
