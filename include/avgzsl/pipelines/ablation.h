// `avgzsl ablate`: the paper's three ablation families (input modality; label-embedding source;
// loss terms), each row the full two-stage protocol, over one or more seeds.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "avgzsl/data/dataset.h"
#include "avgzsl/pipelines/protocol.h"
#include "avgzsl/pipelines/train_config.h"

namespace avgzsl::pipelines {

struct AblationVariant {
  std::string family;   // "modality", "labels", "losses"
  std::string variant;  // e.g. "audio", "clip", "reg+ce"
  TrainConfig config;
};

// The rows of the paper's ablation tables, derived from `base` (which holds the shared
// hyper-parameters). Rows that equal the full model share one configuration.
std::vector<AblationVariant> ablation_variants(const TrainConfig& base);

struct AblationRow {
  AblationVariant variant;
  std::vector<ProtocolSummary> runs;  // one per seed
};

// Runs every variant for seeds base.seed, base.seed + 1, ...; identical configurations are run
// once and shared between the rows that use them. `print` receives progress lines.
std::vector<AblationRow> run_ablation(const TrainConfig& base, const Dataset& dataset, int seeds,
                                      const std::function<void(const std::string&)>& print);

std::string format_ablation_table(const std::vector<AblationRow>& rows);

}  // namespace avgzsl::pipelines
