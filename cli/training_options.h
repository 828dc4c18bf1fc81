// The training options shared by `train` and `ablate`, and their resolution order:
// built-in defaults < --config FILE < options given on the command line.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "avgzsl/training/train_config.h"

namespace avgzsl::cli {

class TrainingOptions {
 public:
  // Registers --data, --config, --epochs, --lr, ... on `command`.
  void add_to(CLI::App* command, bool with_stage);
  // Defaults, then the config file, then what the command line gave.
  training::TrainConfig resolve() const;

 private:
  std::string config_file_;
  nlohmann::json given_ = nlohmann::json::object();
  std::vector<std::function<void(nlohmann::json&)>> collectors_;
};

}  // namespace avgzsl::cli
