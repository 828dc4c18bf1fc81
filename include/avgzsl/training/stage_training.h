// One training stage of the protocol (METHOD §5), for any method: Adam, class-balanced batches,
// validation with the beta search after every epoch, ReduceLROnPlateau on the validation HM.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/optim/optimizer.h>

#include "avgzsl/data/protocol_sets.h"
#include "avgzsl/data/class_balanced_sampler.h"
#include "avgzsl/gzsl/clipclap.h"
#include "avgzsl/gzsl/method.h"
#include "avgzsl/metrics/gzsl_evaluation.h"
#include "avgzsl/training/train_config.h"

namespace avgzsl::training {

struct EpochRecord {
  int stage = 1;
  int epoch = 0;                 // 0-based, as the reference counts
  double learning_rate = 0;      // in force during this epoch
  double loss = 0;               // mean total loss over the epoch's batches
  std::vector<std::pair<std::string, double>> terms;  // mean of each of the method's loss terms
  metrics::GzslScores validation;  // best beta on the validation split after this epoch
  double seconds = 0;
};

using StateDict = std::vector<std::pair<std::string, torch::Tensor>>;
using ModelPtr = std::shared_ptr<gzsl::Method>;

struct StageResult {
  ModelPtr model;                   // after the last epoch, in eval mode
  std::vector<EpochRecord> epochs;
  int best_epoch = -1;              // the reference's rule: first strictly better HM, and a
                                    // leading HM of 0 is replaced by any later epoch
  StateDict best_state;             // copy of the model at best_epoch
};

// How x = [v | a] and the class texts of `sets` are laid out.
gzsl::MethodDims method_dims(const data::ProtocolSets& sets);
// ClipClap's options from the train command's own options.
gzsl::ClipClapOptions clipclap_options(const TrainConfig& config, const gzsl::MethodDims& dims);
// A freshly initialised model of config.method (config resolved: method options complete).
ModelPtr build_model(const TrainConfig& config, const gzsl::MethodDims& dims);
// A fresh model holding `state` (e.g. the stage-1 best epoch), in eval mode.
ModelPtr model_from_state(const TrainConfig& config, const gzsl::MethodDims& dims, const StateDict& state);

struct StepLosses {
  double total = 0;
  std::vector<std::pair<std::string, double>> terms;
};

// One optimisation step of the originals' train_step: a batch (with negatives for the methods
// that use them), forward, the method's losses, backward, Adam, then the method's after-step
// hook. Shared by training and bench/.
class TrainStep {
 public:
  // `sampler` draws the negatives; it must outlive the step.
  TrainStep(gzsl::Method& model, torch::optim::Optimizer& optimizer, const data::TrainingSet& train,
            const torch::Tensor& class_text, data::ClassBalancedSampler& sampler);
  // `batch`: indices into the training set.
  StepLosses run(const std::vector<int64_t>& batch);

 private:
  gzsl::Method& model_;
  torch::optim::Optimizer& optimizer_;
  const data::TrainingSet& train_;
  data::ClassBalancedSampler& sampler_;
  torch::Tensor class_text_;   // [C, text_dim], row = class id
  torch::Tensor train_text_;   // [K, text_dim] texts of the training classes
  torch::Tensor position_;     // [C] class id -> index among the training classes, -1 otherwise
};

// Trains a fresh model for `epochs` epochs. `on_epoch` runs after each epoch's validation.
// `progress_label` non-empty: a terminal progress line with that label.
StageResult train_stage(int stage, const data::TrainingSet& train, const data::EvaluationSet& validation,
                        const torch::Tensor& class_text, const gzsl::MethodDims& dims, const TrainConfig& config, int epochs,
                        const std::function<void(const EpochRecord&)>& on_epoch, const std::string& progress_label);

// Distances [N, K] between the videos of `set` and its classes (sorted seen ∪ unseen), in eval mode.
torch::Tensor split_distances(gzsl::Method& model, const data::EvaluationSet& set, const torch::Tensor& class_text);

// Best-beta evaluation over the reference's grid.
metrics::GzslScores search_beta(gzsl::Method& model, const data::EvaluationSet& set, const torch::Tensor& class_text);

}  // namespace avgzsl::training
