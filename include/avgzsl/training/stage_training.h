// One training stage of the protocol (METHOD §5): Adam, class-balanced batches, validation with
// the beta search after every epoch, ReduceLROnPlateau on the validation HM.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <torch/optim/optimizer.h>

#include "avgzsl/data/protocol_sets.h"
#include "avgzsl/metrics/gzsl_evaluation.h"
#include "avgzsl/gzsl/clipclap.h"
#include "avgzsl/training/train_config.h"

namespace avgzsl::training {

struct EpochRecord {
  int stage = 1;
  int epoch = 0;                 // 0-based, as the reference counts
  double learning_rate = 0;      // in force during this epoch
  double loss = 0;               // mean total loss over the epoch's batches
  double cross_entropy = 0;
  double regression = 0;
  double reconstruction = 0;
  metrics::GzslScores validation;  // best beta on the validation split after this epoch
  double seconds = 0;
};

using StateDict = std::vector<std::pair<std::string, torch::Tensor>>;

struct StageResult {
  gzsl::ClipClap model{nullptr};  // after the last epoch, in eval mode
  std::vector<EpochRecord> epochs;
  int best_epoch = -1;              // the reference's rule: first strictly better HM, and a
                                    // leading HM of 0 is replaced by any later epoch
  StateDict best_state;             // copy of the model at best_epoch
};

gzsl::ClipClapOptions model_options(const TrainConfig& config, int64_t input_dim, int64_t text_dim);

struct StepLosses {
  double total = 0, cross_entropy = 0, regression = 0, reconstruction = 0;
};

// One optimisation step of the reference's train_step: forward, the three losses, backward,
// Adam, and the reference's extra training-mode embedding pass. Shared by training and bench/.
class TrainStep {
 public:
  TrainStep(gzsl::ClipClapImpl& model, torch::optim::Optimizer& optimizer, const data::TrainingSet& train,
            const torch::Tensor& class_text, const gzsl::LossSwitches& losses);
  // `batch`: indices into the training set.
  StepLosses run(const std::vector<int64_t>& batch);

 private:
  gzsl::ClipClapImpl& model_;
  torch::optim::Optimizer& optimizer_;
  const data::TrainingSet& train_;
  torch::Tensor class_text_;   // [C, text_dim], row = class id
  torch::Tensor train_text_;   // [K, text_dim] texts of the training classes
  torch::Tensor position_;     // [C] class id -> index among the training classes, -1 otherwise
  gzsl::LossSwitches losses_;
};

// Trains a fresh model for `epochs` epochs. `on_epoch` runs after each epoch's validation.
// `progress_label` non-empty: a terminal progress line with that label.
StageResult train_stage(int stage, const data::TrainingSet& train, const data::EvaluationSet& validation,
                        const torch::Tensor& class_text, const TrainConfig& config, int epochs,
                        const std::function<void(const EpochRecord&)>& on_epoch, const std::string& progress_label);

// Distances [N, K] between the videos of `set` and its classes (sorted seen ∪ unseen), in eval mode.
torch::Tensor split_distances(gzsl::ClipClapImpl& model, const data::EvaluationSet& set, const torch::Tensor& class_text);

// Best-beta evaluation over the reference's grid.
metrics::GzslScores search_beta(gzsl::ClipClapImpl& model, const data::EvaluationSet& set, const torch::Tensor& class_text);
// Evaluation at a fixed beta.
metrics::GzslScores evaluate_at(gzsl::ClipClapImpl& model, const data::EvaluationSet& set, const torch::Tensor& class_text,
                                float beta);

}  // namespace avgzsl::training
