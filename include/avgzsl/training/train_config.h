// Everything that defines a training run. The JSON keys are the long command-line option names,
// so a config file and the command line speak the same language (docs/usage.md).
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <filesystem>
#include <string>

#include "avgzsl/data/protocol_sets.h"
#include "avgzsl/gzsl/clipclap.h"
#include "avgzsl/gzsl/clipclap_loss.h"

namespace avgzsl::training {

struct TrainConfig {
  std::string data;                  // dataset directory (native format)
  std::string stage = "all";         // "1", "2" or "all"
  int epochs = 0;                    // 0: the paper's setting for the dataset (see apply_paper_defaults)
  double lr = 0;                     // 0: the paper's setting for the dataset
  int batch_size = 64;               // videos per batch
  int batches_per_epoch = 300;       // an "epoch" is this many batches, sampled with replacement
  uint64_t seed = 42;                // seeds weights, dropout and the sampler
  int threads = 0;                   // 0: all cores (not part of the result, but of its bit pattern)
  data::Modality modality = data::Modality::kBoth;
  std::optional<data::LabelSource> labels;  // unset: the text half matching the modality (reference behaviour)
  gzsl::LossSwitches losses;
  double weight_decay = 1e-5;        // Adam's L2 penalty
  int plateau_patience = 3;          // ReduceLROnPlateau on validation HM
  double plateau_factor = 0.1;
  int hidden_dim = 512;
  int embedding_dim = 64;
  double dropout = 0.1;              // every block of the model
  bool allow_leakage = false;        // train although a video is in a training and an evaluation split

  data::LabelSource label_source() const { return labels.value_or(data::matching_label_source(modality)); }
  // Fills epochs and lr when left at 0: UCF 7e-5 / 20 epochs, ActivityNet and VGGSound 1e-4 / 15
  // (METHOD §5), chosen by the dataset name; any other dataset gets UCF's settings.
  void apply_paper_defaults(const std::string& dataset_name);
  // Throws std::invalid_argument on out-of-range values.
  void validate() const;
};

// "ce,reg,rec" (any subset, any order) <-> switches; throws on unknown or empty lists.
gzsl::LossSwitches parse_losses(const std::string& text);
std::string to_string(const gzsl::LossSwitches& losses);

nlohmann::json to_json(const TrainConfig& config);
// Applies the keys present in `json` onto `config`; unknown keys and wrong types throw
// std::invalid_argument naming the key. `source` prefixes messages (a file name).
void apply_json(TrainConfig& config, const nlohmann::json& json, const std::string& source);
// apply_json of a JSON config file (`avgzsl train --config FILE`); errors name the file.
void apply_json_file(TrainConfig& config, const std::filesystem::path& path);

}  // namespace avgzsl::training
