// The methods `avgzsl train --method` knows, each with the settings of its original run scripts.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "avgzsl/gzsl/method.h"

namespace avgzsl::gzsl {

// The benchmark a dataset belongs to, which picks the run-script settings: "ucf", "activitynet" or
// "vggsound" (by name, case-insensitively); any other dataset gets "ucf".
std::string dataset_family(const std::string& dataset_name);

// One method's training settings for a dataset family, as its original run scripts set them
// (the CLIP/CLAP `cls_features` lines where a script has several).
struct MethodDefaults {
  int epochs = 0;
  double lr = 0;
  int batch_size = 0;
  int batches_per_epoch = 0;
  double weight_decay = 0;  // Adam's L2 penalty of the original optimiser
  // The method's own hyper-parameters, under the original's command-line argument names
  // (e.g. {"dropout_baselines": 0.2}); exactly the keys `make` accepts.
  nlohmann::json options = nlohmann::json::object();
};

struct MethodSpec {
  std::string name;     // the --method value
  std::string summary;  // one line: the paper, and which modalities and text half it uses
  // Both v and a must be present (the method has one branch per modality).
  bool needs_visual_and_audio = false;
  std::function<MethodDefaults(const std::string& family)> defaults;
  // Builds a freshly initialised model. `options` holds every key of defaults(...).options; the
  // caller has already merged overrides and rejected unknown keys.
  std::function<std::shared_ptr<Method>(const MethodDims& dims, const nlohmann::json& options)> make;
};

// Every method, ClipClap first, in the order of the paper's table.
const std::vector<MethodSpec>& all_methods();
// Throws std::invalid_argument listing the known names.
const MethodSpec& method_spec(const std::string& name);
// `defaults` with `overrides` applied; an unknown key or a value of another JSON type throws
// std::invalid_argument naming the method, the key and the accepted keys.
nlohmann::json merge_method_options(const MethodSpec& spec, const nlohmann::json& defaults, const nlohmann::json& overrides);

}  // namespace avgzsl::gzsl
