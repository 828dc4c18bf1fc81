// Everything that defines a training run. The JSON keys are the long command-line option names,
// so a config file and the command line speak the same language (docs/usage.md).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <filesystem>
#include <string>

#include "avgzsl/data/protocol_sets.h"
#include "avgzsl/gzsl/clipclap.h"
#include "avgzsl/gzsl/clipclap_loss.h"

namespace avgzsl::training {

struct TrainConfig {
  std::string data;                  // dataset directory (native format)
  std::string method = "clipclap";   // gzsl/method_registry.h
  // The method's own hyper-parameters (not ClipClap's: it has the options below). Before
  // apply_paper_defaults: the user's overrides; after: every option, overrides applied.
  nlohmann::json method_options = nlohmann::json::object();
  std::string stage = "all";         // "1", "2" or "all"
  // 0 (and a negative weight decay): the method's setting for the dataset (see apply_paper_defaults).
  int epochs = 0;
  double lr = 0;
  int batch_size = 0;                // videos per batch (ClipClap: 64)
  int batches_per_epoch = 0;         // an "epoch" is this many batches, sampled with replacement (ClipClap: 300)
  uint64_t seed = 42;                // seeds weights, dropout and the sampler
  int threads = 0;                   // 0: all cores (not part of the result, but of its bit pattern)
  data::Modality modality = data::Modality::kBoth;
  std::optional<data::LabelSource> labels;  // unset: the text half matching the modality (reference behaviour)
  gzsl::LossSwitches losses;
  double weight_decay = -1;          // Adam's L2 penalty (ClipClap: 1e-5)
  int plateau_patience = 3;          // ReduceLROnPlateau on validation HM
  double plateau_factor = 0.1;
  // ClipClap's own hyper-parameters; other methods refuse values other than these defaults.
  int hidden_dim = 512;
  int embedding_dim = 64;
  double dropout = 0.1;              // every block of the model
  bool allow_leakage = false;        // train although a video is in a training and an evaluation split

  data::LabelSource label_source() const { return labels.value_or(data::matching_label_source(modality)); }
  // Fills what was left at 0 from the method's settings for the dataset's family (by name; any
  // other dataset gets UCF's): ClipClap UCF 7e-5 / 20 epochs, ActivityNet and VGGSound 1e-4 / 15
  // (METHOD §5), the baselines their run scripts'. Completes method_options. Throws
  // std::invalid_argument for an unknown method, an option the method does not have, ClipClap's
  // options given to another method, or a modality the method cannot use.
  void apply_paper_defaults(const std::string& dataset_name);
  // Throws std::invalid_argument on out-of-range values.
  void validate() const;
};

using gzsl::parse_losses;
using gzsl::to_string;

nlohmann::json to_json(const TrainConfig& config);
// Applies the keys present in `json` onto `config`; unknown keys and wrong types throw
// std::invalid_argument naming the key. `source` prefixes messages (a file name).
void apply_json(TrainConfig& config, const nlohmann::json& json, const std::string& source);
// apply_json of a JSON config file (`avgzsl train --config FILE`); errors name the file.
void apply_json_file(TrainConfig& config, const std::filesystem::path& path);

}  // namespace avgzsl::training
