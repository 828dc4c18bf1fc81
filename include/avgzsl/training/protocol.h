// The two-stage protocol of METHOD §6, in memory: stage 1 picks the epoch count and beta on the
// validation split, stage 2 retrains on train + val for best_epoch + 1 epochs, the stage-2 model
// is tested with the stage-1 beta.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "avgzsl/data/protocol_sets.h"
#include "avgzsl/training/stage_training.h"
#include "avgzsl/training/train_config.h"

namespace avgzsl::training {

struct ProtocolSummary {
  int best_epoch = -1;              // 0-based stage-1 epoch with the best validation HM
  metrics::GzslScores validation;   // stage-1 model on the validation split, best beta
  metrics::GzslScores test;         // stage-2 model on the test split at the stage-1 beta
};

// Beta search with the stage-1 model, test with the stage-2 model at the reference's test beta.
// This is the one place where final numbers are computed: training and `avgzsl evaluate` both
// call it, so they print the same numbers.
ProtocolSummary evaluate_protocol_models(gzsl::Method& stage1_model, gzsl::Method& stage2_model,
                                         const data::ProtocolSets& sets, int best_epoch);

// The same, keeping the calibrated stacking of both splits for callers that look further than
// the summary (the report's beta sweep and where its test errors go).
struct ProtocolScoring {
  metrics::CalibratedStacking validation;  // stage-1 model on the validation split
  metrics::CalibratedStacking test;        // stage-2 model on the test split
  float test_beta = 0;                     // the beta the test applies (reference_test_beta)
  ProtocolSummary summary;
};
ProtocolScoring score_protocol_models(gzsl::Method& stage1_model, gzsl::Method& stage2_model,
                                      const data::ProtocolSets& sets, int best_epoch);

struct ProtocolHooks {
  std::function<void(const EpochRecord&)> on_epoch;  // after each epoch of either stage
  bool show_progress = true;                          // a progress line on a terminal
};

// Runs stage 1, stage 2 and the test. The stage-1 result's model is replaced by the best epoch's.
struct ProtocolRun {
  StageResult stage1;
  StageResult stage2;
  ProtocolSummary summary;
};
ProtocolRun run_protocol(const TrainConfig& config, const data::ProtocolSets& sets, const ProtocolHooks& hooks);

// Rows of the result table: "S  U  HM  ZSL  beta  best epoch" in percent with two decimals.
struct ResultRow {
  std::string label;
  std::vector<ProtocolSummary> runs;  // one per seed; several give mean ± std
};
std::string format_result_table(const std::vector<ResultRow>& rows);

// Over runs of one setting: the mean and the sample standard deviation (0 for fewer than two
// values; both 0 for none).
struct MeanStd {
  double mean = 0;
  double std = 0;
};
MeanStd mean_and_sample_std(const std::vector<double>& values);
// "m" for one value, "m ± s" for several, "-" for none, with `decimals` decimals.
std::string format_mean_std(const std::vector<double>& values, int decimals);

}  // namespace avgzsl::training
