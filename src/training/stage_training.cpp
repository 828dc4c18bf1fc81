#include "avgzsl/training/stage_training.h"

#include <ATen/record_function.h>
#include <torch/autograd.h>
#include <torch/utils.h>

#include <chrono>
#include <fmt/format.h>

#include "avgzsl/data/class_balanced_sampler.h"
#include "avgzsl/gzsl/method_registry.h"
#include "avgzsl/nn/fused_adam.h"
#include "avgzsl/nn/plateau_scheduler.h"
#include "avgzsl/util/progress.h"
#include "avgzsl/util/threads.h"

namespace avgzsl::training {

namespace {

// Rows embedded per forward pass at evaluation time (bounds memory on large splits).
constexpr int64_t kEvalChunk = 8192;

StateDict clone_state(const gzsl::Method& model) {
  StateDict out;
  for (auto& [name, t] : model.state_dict()) out.emplace_back(name, t.detach().clone());
  return out;
}

}  // namespace

gzsl::MethodDims method_dims(const data::ProtocolSets& sets) { return {sets.visual_dim, sets.audio_dim, sets.text_dim}; }

gzsl::ClipClapOptions clipclap_options(const TrainConfig& config, const gzsl::MethodDims& dims) {
  gzsl::ClipClapOptions o;
  o.input_dim = dims.input();
  o.text_dim = dims.text;
  o.hidden_dim = config.hidden_dim;
  o.embedding_dim = config.embedding_dim;
  o.encoder_dropout = o.video_proj_dropout = o.class_proj_dropout = config.dropout;
  o.losses = config.losses;
  return o;
}

ModelPtr build_model(const TrainConfig& config, const gzsl::MethodDims& dims) {
  if (config.method == "clipclap") return std::make_shared<gzsl::ClipClapImpl>(clipclap_options(config, dims), dims);
  return gzsl::method_spec(config.method).make(dims, config.method_options);
}

ModelPtr model_from_state(const TrainConfig& config, const gzsl::MethodDims& dims, const StateDict& state) {
  ModelPtr model = build_model(config, dims);
  model->load_state_dict(state, "in-memory state");
  model->eval();
  return model;
}

torch::Tensor split_distances(gzsl::Method& model, const data::EvaluationSet& set, const torch::Tensor& class_text) {
  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  std::vector<int64_t> columns = set.seen;
  columns.insert(columns.end(), set.unseen.begin(), set.unseen.end());
  std::sort(columns.begin(), columns.end());
  const torch::Tensor texts = class_text.index_select(0, torch::tensor(columns, torch::kInt64));  // [K, text]
  std::vector<torch::Tensor> rows;
  for (int64_t start = 0; start < set.inputs.size(0); start += kEvalChunk) {
    const torch::Tensor chunk = set.inputs.narrow(0, start, std::min(kEvalChunk, set.inputs.size(0) - start));
    rows.push_back(model.distances(chunk, texts).to(torch::kFloat32));
  }
  model.train(was_training);
  return torch::cat(rows, 0);
}

metrics::GzslScores search_beta(gzsl::Method& model, const data::EvaluationSet& set, const torch::Tensor& class_text) {
  return metrics::CalibratedStacking(split_distances(model, set, class_text), set.labels, set.seen, set.unseen)
      .search(metrics::reference_beta_grid());
}

TrainStep::TrainStep(gzsl::Method& model, torch::optim::Optimizer& optimizer, const data::TrainingSet& train,
                     const torch::Tensor& class_text, data::ClassBalancedSampler& sampler)
    : model_(model), optimizer_(optimizer), train_(train), sampler_(sampler), class_text_(class_text) {
  position_ = torch::full({class_text.size(0)}, -1, torch::kInt64);
  for (size_t i = 0; i < train.classes.size(); ++i) position_[train.classes[i]] = static_cast<int64_t>(i);
  train_text_ = class_text.index_select(0, torch::tensor(train.classes, torch::kInt64));
  TORCH_CHECK((position_.index_select(0, train.labels) >= 0).all().item<bool>(),
              "Expected every training video to belong to a training class");
}

StepLosses TrainStep::run(const std::vector<int64_t>& batch) {
  // Each phase is a profiler scope (bench/step_profile.cpp, docs/performance.md); without a
  // profiler attached a scope costs one branch.
  gzsl::TrainingBatch b;
  {
    RECORD_USER_SCOPE("avgzsl::batch");
    const torch::Tensor index = torch::tensor(batch, torch::kInt64);
    const torch::Tensor y = train_.labels.index_select(0, index);   // [B] class ids
    b.inputs = train_.inputs.index_select(0, index);                // [B, input_dim]
    b.text = class_text_.index_select(0, y);                        // [B, text_dim]
    b.target = position_.index_select(0, y);                        // [B] in [0, K)
    b.class_text = train_text_;
    b.text_rows = b.target;
    if (model_.uses_negatives()) {
      const torch::Tensor negative = torch::tensor(sampler_.negatives(batch), torch::kInt64);
      b.negative_inputs = train_.inputs.index_select(0, negative);
      b.negative_text = class_text_.index_select(0, train_.labels.index_select(0, negative));
    }
  }
  gzsl::MethodLoss loss;
  {
    RECORD_USER_SCOPE("avgzsl::forward");
    loss = model_.loss(b);
  }
  {
    RECORD_USER_SCOPE("avgzsl::backward");
    // Gradients are dropped rather than zeroed (LibTorch 2.x's default for zero_grad, not 1.13's):
    // backward then hands its result over instead of adding it to zeros, one pass over every
    // gradient less, and one fill less.
    for (auto& group : optimizer_.param_groups()) {
      for (auto& p : group.params()) p.mutable_grad().reset();
    }
    loss.total.backward();
  }
  {
    RECORD_USER_SCOPE("avgzsl::optimizer");
    optimizer_.step();
  }
  {
    RECORD_USER_SCOPE("avgzsl::after_step");
    model_.after_step(b);
  }
  RECORD_USER_SCOPE("avgzsl::loss_values");
  StepLosses out;
  out.total = loss.total.item<double>();
  for (const auto& term : loss.terms) out.terms.emplace_back(term.name, term.value.item<double>());
  return out;
}

StageResult train_stage(int stage, const data::TrainingSet& train, const data::EvaluationSet& validation,
                        const torch::Tensor& class_text, const gzsl::MethodDims& dims, const TrainConfig& config, int epochs,
                        const std::function<void(const EpochRecord&)>& on_epoch, const std::string& progress_label) {
  if (config.batch_size < 2 || config.batches_per_epoch < 1 || config.weight_decay < 0 || config.lr <= 0) {
    throw std::invalid_argument("train_stage needs a resolved configuration (TrainConfig::apply_paper_defaults fills "
                                "what the method leaves to the dataset)");
  }
  // The reference re-seeds at the start of every stage (fix_seeds in main()).
  torch::manual_seed(config.seed);
  StageResult result;
  result.model = build_model(config, dims);
  gzsl::Method& model = *result.model;

  nn::FusedAdam optimizer(model.trainable_parameters(), torch::optim::AdamOptions(config.lr).weight_decay(config.weight_decay));
  nn::PlateauOptions plateau;
  plateau.patience = config.plateau_patience;
  plateau.factor = config.plateau_factor;
  nn::PlateauScheduler scheduler(optimizer, plateau);
  data::ClassBalancedSampler sampler(train.labels, config.seed);

  TrainStep step(model, optimizer, train, class_text, sampler);

  util::Progress progress(progress_label, static_cast<int64_t>(epochs) * config.batches_per_epoch, "batches",
                          !progress_label.empty() && util::stderr_is_terminal());
  double best_hm = 0;
  for (int epoch = 0; epoch < epochs; ++epoch) {
    const auto started = std::chrono::steady_clock::now();
    EpochRecord record;
    record.stage = stage;
    record.epoch = epoch;
    record.learning_rate = scheduler.learning_rate();
    model.train();
    double total = 0;
    {
      const util::ScopedTorchThreads small_ops_on_one_thread(1);
      for (int b = 0; b < config.batches_per_epoch; ++b) {
        const StepLosses loss = step.run(sampler.next_batch(config.batch_size));
        total += loss.total;
        if (record.terms.empty()) {
          for (const auto& [name, value] : loss.terms) record.terms.emplace_back(name, 0.0);
        }
        for (size_t t = 0; t < loss.terms.size() && t < record.terms.size(); ++t) record.terms[t].second += loss.terms[t].second;
        if (progress.enabled()) {
          progress.update(static_cast<int64_t>(epoch) * config.batches_per_epoch + b + 1,
                          fmt::format("epoch {}/{} loss {:.4f}", epoch + 1, epochs, total / (b + 1)));
        }
      }
    }
    const double n = config.batches_per_epoch;
    record.loss = total / n;
    for (auto& term : record.terms) term.second /= n;
    record.validation = search_beta(model, validation, class_text);
    record.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

    // check_best_score of the reference: `if not best_score` also replaces a best HM of 0.
    if (result.best_epoch < 0 || best_hm == 0 || record.validation.hm > best_hm) {
      best_hm = record.validation.hm;
      result.best_epoch = epoch;
      result.best_state = clone_state(model);
    }
    result.epochs.push_back(record);
    progress.finish();
    if (on_epoch) on_epoch(record);
    scheduler.step(record.validation.hm);
  }
  model.eval();
  return result;
}

}  // namespace avgzsl::training
