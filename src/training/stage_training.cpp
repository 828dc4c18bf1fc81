#include "avgzsl/training/stage_training.h"

#include <torch/autograd.h>
#include <torch/optim/adam.h>
#include <torch/utils.h>

#include <chrono>
#include <fmt/format.h>

#include "avgzsl/data/class_balanced_sampler.h"
#include "avgzsl/gzsl/clipclap_loss.h"
#include "avgzsl/nn/plateau_scheduler.h"
#include "avgzsl/util/progress.h"

namespace avgzsl::training {

namespace {

// Rows embedded per forward pass at evaluation time (bounds memory on large splits).
constexpr int64_t kEvalChunk = 8192;

StateDict clone_state(const gzsl::ClipClapImpl& model) {
  StateDict out;
  for (auto& [name, t] : model.state_dict()) out.emplace_back(name, t.detach().clone());
  return out;
}

}  // namespace

gzsl::ClipClapOptions model_options(const TrainConfig& config, int64_t input_dim, int64_t text_dim) {
  gzsl::ClipClapOptions o;
  o.input_dim = input_dim;
  o.text_dim = text_dim;
  o.hidden_dim = config.hidden_dim;
  o.embedding_dim = config.embedding_dim;
  o.encoder_dropout = o.video_proj_dropout = o.class_proj_dropout = config.dropout;
  return o;
}

torch::Tensor split_distances(gzsl::ClipClapImpl& model, const data::EvaluationSet& set, const torch::Tensor& class_text) {
  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  std::vector<int64_t> columns = set.seen;
  columns.insert(columns.end(), set.unseen.begin(), set.unseen.end());
  std::sort(columns.begin(), columns.end());
  const torch::Tensor class_embeddings =
      model.embed_classes(class_text.index_select(0, torch::tensor(columns, torch::kInt64)));  // [K, E]
  std::vector<torch::Tensor> rows;
  for (int64_t start = 0; start < set.inputs.size(0); start += kEvalChunk) {
    const torch::Tensor chunk = set.inputs.narrow(0, start, std::min(kEvalChunk, set.inputs.size(0) - start));
    rows.push_back(metrics::embedding_distances(model.embed_videos(chunk), class_embeddings));
  }
  model.train(was_training);
  return torch::cat(rows, 0);
}

metrics::GzslScores search_beta(gzsl::ClipClapImpl& model, const data::EvaluationSet& set, const torch::Tensor& class_text) {
  return metrics::CalibratedStacking(split_distances(model, set, class_text), set.labels, set.seen, set.unseen)
      .search(metrics::reference_beta_grid());
}

metrics::GzslScores evaluate_at(gzsl::ClipClapImpl& model, const data::EvaluationSet& set, const torch::Tensor& class_text,
                                float beta) {
  return metrics::CalibratedStacking(split_distances(model, set, class_text), set.labels, set.seen, set.unseen)
      .evaluate(beta);
}

TrainStep::TrainStep(gzsl::ClipClapImpl& model, torch::optim::Optimizer& optimizer, const data::TrainingSet& train,
                     const torch::Tensor& class_text, const gzsl::LossSwitches& losses)
    : model_(model), optimizer_(optimizer), train_(train), class_text_(class_text), losses_(losses) {
  position_ = torch::full({class_text.size(0)}, -1, torch::kInt64);
  for (size_t i = 0; i < train.classes.size(); ++i) position_[train.classes[i]] = static_cast<int64_t>(i);
  train_text_ = class_text.index_select(0, torch::tensor(train.classes, torch::kInt64));
  TORCH_CHECK((position_.index_select(0, train.labels) >= 0).all().item<bool>(),
              "Expected every training video to belong to a training class");
}

StepLosses TrainStep::run(const std::vector<int64_t>& batch) {
  const torch::Tensor index = torch::tensor(batch, torch::kInt64);
  const torch::Tensor x = train_.inputs.index_select(0, index);   // [B, input_dim]
  const torch::Tensor y = train_.labels.index_select(0, index);   // [B] class ids
  const torch::Tensor t = class_text_.index_select(0, y);         // [B, text_dim]
  const torch::Tensor target = position_.index_select(0, y);      // [B] in [0, K)

  const gzsl::ClipClapOutputs out = model_.forward(x, t);
  const gzsl::LossTerms loss = gzsl::clipclap_loss(model_, out, train_text_, target, losses_);
  optimizer_.zero_grad();
  loss.total.backward();
  optimizer_.step();
  {
    // The reference's train_step calls get_embeddings in training mode after every step
    // (O_enc, W_enc, O_proj, W_proj); that moves the BatchNorm running statistics and draws
    // dropout masks. Repeat it so that our models match the reference's.
    torch::NoGradGuard no_grad;
    const torch::Tensor o = model_.O_enc->forward(x);
    const torch::Tensor w = model_.W_enc->forward(t);
    model_.O_proj->forward(o);
    model_.W_proj->forward(w);
  }
  return {loss.total.item<double>(), loss.cross_entropy.item<double>(), loss.regression.item<double>(),
          loss.reconstruction.item<double>()};
}

StageResult train_stage(int stage, const data::TrainingSet& train, const data::EvaluationSet& validation,
                        const torch::Tensor& class_text, const TrainConfig& config, int epochs,
                        const std::function<void(const EpochRecord&)>& on_epoch, const std::string& progress_label) {
  // The reference re-seeds at the start of every stage (fix_seeds in main()).
  torch::manual_seed(config.seed);
  StageResult result;
  result.model = gzsl::ClipClap(model_options(config, train.inputs.size(1), class_text.size(1)));
  gzsl::ClipClapImpl& model = *result.model;

  torch::optim::Adam optimizer(model.parameters(), torch::optim::AdamOptions(config.lr).weight_decay(config.weight_decay));
  nn::PlateauOptions plateau;
  plateau.patience = config.plateau_patience;
  plateau.factor = config.plateau_factor;
  nn::PlateauScheduler scheduler(optimizer, plateau);
  data::ClassBalancedSampler sampler(train.labels, config.seed);

  TrainStep step(model, optimizer, train, class_text, config.losses);

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
    double sums[4] = {0, 0, 0, 0};
    for (int b = 0; b < config.batches_per_epoch; ++b) {
      const StepLosses loss = step.run(sampler.next_batch(config.batch_size));
      sums[0] += loss.total;
      sums[1] += loss.cross_entropy;
      sums[2] += loss.regression;
      sums[3] += loss.reconstruction;
      if (progress.enabled()) {
        progress.update(static_cast<int64_t>(epoch) * config.batches_per_epoch + b + 1,
                        fmt::format("epoch {}/{} loss {:.4f}", epoch + 1, epochs, sums[0] / (b + 1)));
      }
    }
    const double n = config.batches_per_epoch;
    record.loss = sums[0] / n;
    record.cross_entropy = sums[1] / n;
    record.regression = sums[2] / n;
    record.reconstruction = sums[3] / n;
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
