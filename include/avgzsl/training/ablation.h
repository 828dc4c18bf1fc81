// `avgzsl ablate`: the paper's three ablation families (input modality; label-embedding source;
// loss terms), each row the full two-stage protocol, over one or more seeds.
#pragma once

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "avgzsl/data/dataset.h"
#include "avgzsl/training/protocol.h"
#include "avgzsl/training/train_config.h"
#include "avgzsl/util/text.h"

namespace avgzsl::training {

struct AblationVariant {
  std::string family;   // "modality", "labels", "losses"
  std::string variant;  // e.g. "audio", "clip", "reg+ce"
  TrainConfig config;
  // Why this row does not apply to the method (e.g. the loss switches are ClipClap's); empty
  // when it does. Such rows are reported, never run.
  std::string not_applicable;
};

// The rows of the paper's ablation tables, derived from `base` (which holds the shared
// hyper-parameters and the method). Rows that equal the full model share one configuration.
std::vector<AblationVariant> ablation_variants(const TrainConfig& base);

struct AblationRow {
  AblationVariant variant;
  std::vector<ProtocolSummary> runs;  // one per seed
};

// Runs every variant for seeds base.seed, base.seed + 1, ...; identical configurations are run
// once and shared between the rows that use them. `print` receives progress lines.
std::vector<AblationRow> run_ablation(const TrainConfig& base, const data::Dataset& dataset, int seeds,
                                      const util::LineSink& print);

std::string format_ablation_table(const std::vector<AblationRow>& rows);

// Every run's numbers: [{family, variant, config, runs: [{best_epoch, beta, S, U, HM, ZSL}]}]
// (percentages), written atomically by write_ablation_json.
nlohmann::json ablation_json(const std::vector<AblationRow>& rows);
void write_ablation_json(const std::filesystem::path& path, const std::vector<AblationRow>& rows);
// Throws std::runtime_error when `path`'s folder cannot be written, before hours of training.
void check_ablation_json_path(const std::filesystem::path& path);

}  // namespace avgzsl::training
