// `avgzsl train` and `avgzsl evaluate`: the protocol with a run directory on disk.
//
//   RUN_DIR/config.json              the resolved configuration (valid input for --config)
//   RUN_DIR/train.log                everything printed, with timestamps
//   RUN_DIR/stage1.{safetensors,json} best stage-1 epoch (checkpoint + epoch, beta, scores)
//   RUN_DIR/stage2.{safetensors,json} stage-2 model after best_epoch + 1 epochs
//   RUN_DIR/validation_metrics.csv   one row per epoch of both stages
//   RUN_DIR/test_per_class.csv       per-class test accuracies (GZSL and ZSL)
//   RUN_DIR/results.json             final numbers
//
// A run directory appears only when complete: `--stage all|1` build it under RUN_DIR.partial and
// rename it at the end; `--stage 2` adds stage-2 files to an existing stage-1 run, each written
// atomically, results.json last.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "avgzsl/data/dataset.h"
#include "avgzsl/data/protocol_sets.h"
#include "avgzsl/gzsl/method_checkpoint.h"
#include "avgzsl/training/protocol.h"
#include "avgzsl/training/train_config.h"
#include "avgzsl/util/text.h"

namespace avgzsl::training {

using util::LineSink;

struct TrainRunResult {
  bool tested = false;       // false after --stage 1
  ProtocolSummary summary;   // validation always; test when `tested`
  std::string dataset_name;
  std::string method;        // the run's --method
};

// Validates the dataset, the configuration and the output directory before any training.
// `config` must already hold command-line and config-file values; paper defaults are applied
// here from the dataset name. Lines meant for the user go to `print` and to train.log.
TrainRunResult train_run(TrainConfig config, const std::filesystem::path& run_dir, const LineSink& print,
                         bool replace_existing = false);

// What every training job starts with: the configuration checked, its dataset loaded, and the
// paper's defaults for that dataset applied (then checked again).
struct TrainingInputs {
  TrainConfig config;
  data::Dataset dataset;
};
TrainingInputs prepare_training(TrainConfig config);

// A finished run's models, ready to score: what `evaluate` and the figures of `report` start from.
struct OpenedRun {
  TrainConfig config;
  data::ProtocolSets sets;              // built from the dataset as the run was trained
  gzsl::MethodCheckpoint stage1;        // best stage-1 epoch (validation, beta search)
  std::optional<gzsl::MethodCheckpoint> stage2;  // absent after --stage 1 (no test)
  int best_epoch = 0;                   // 0-based
};
// Throws std::runtime_error naming the file: no run directory, unreadable config.json or
// checkpoints, checkpoints of another method than config.json's, or (non-empty `expected_method`)
// a run of another method.
OpenedRun open_run(const std::filesystem::path& run_dir, const data::Dataset& dataset,
                   const std::string& expected_method = "");

// Re-evaluates a finished run from its checkpoints on `dataset` (normally the one it was
// trained on: load_dataset(load_run_config(run_dir).data)). A non-empty `expected_method` that
// the run was not trained with is refused.
TrainRunResult evaluate_run(const std::filesystem::path& run_dir, const data::Dataset& dataset,
                            const std::string& expected_method = "");

// Builds a run directory from an original implementation's trained models (ClipClap's, or a
// baseline's with config.method set), so that
// `avgzsl evaluate --run RUN_DIR` scores them: `stage1_pt` is the stage-1 best model
// (ClipClap_model_score.pt, whose "epoch" is the best epoch + 1), `stage2_pt` the stage-2 model
// retrained for that many epochs (checkpoints/ClipClap_model_score_ckpt_<best epoch>.pt).
// `config` says how they were trained (dataset, modality, labels); shapes are checked against it.
void import_reference_run(TrainConfig config, const std::filesystem::path& stage1_pt,
                          const std::filesystem::path& stage2_pt, const std::filesystem::path& run_dir,
                          const LineSink& print, bool replace_existing = false);

// Reads RUN_DIR/config.json; throws std::runtime_error naming the file.
TrainConfig load_run_config(const std::filesystem::path& run_dir);

}  // namespace avgzsl::training
