// DEVISE, ALE and SJE as the AVCA-GZSL benchmark runs them (github.com/ExplainableML/AVCA-GZSL):
// one bilinear compatibility model (src/model.py `DeviseModel`) trained with one of three settings
// of a margin ranking loss over the training classes (src/loss.py `ClsContrastiveLoss`, chosen in
// main.py). docs/methods/devise_ale_sje.md describes the methods and the quirks kept here.
//
//   x [B, visual + audio] (= cat(video, audio), visual first, as train.py concatenates)
//     -> F.normalize(x) when norm_inputs -> dropout          -> bilinear (Linear, no bias) -> [B, text]
//   t [K, text]           (the class texts)  -> dropout
//   logits [B, K] = bilinear(x) . t^T          (training: the ranking loss on these)
//   distances [N, K] = ||bilinear(x) - t||_2   (evaluation: Euclidean, see distances())
//
// The only parameter is "bilinear.weight" [text, visual + audio], the original's state_dict key.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <torch/nn/modules/linear.h>

#include <string>

#include "avgzsl/gzsl/method.h"
#include "avgzsl/gzsl/method_registry.h"
#include "avgzsl/nn/dropout.h"

namespace avgzsl::gzsl {

// The three ways ClsContrastiveLoss reduces the per-negative hinge costs (its `reduction`).
enum class RankingReduction {
  sum,       // sum of all costs / B
  mean,      // each cost / (K - 1) (or / topk under max_violation), then sum / B
  weighted,  // ALE: a row with r violating negatives has each cost weighted by H_r / r
};

// ClsContrastiveLoss's constructor arguments.
struct ClsContrastiveLossOptions {
  double margin = 0.2;          // hinge margin on dot-product scores
  bool max_violation = false;   // keep only the topk largest costs of each row (SJE)
  int64_t topk = 1;             // used only with max_violation
  RankingReduction reduction = RankingReduction::sum;
};

// The ALE rank weights: betas[0] = 0, betas[r] = 1 + 1/2 + ... + 1/r (the harmonic numbers),
// `count` entries, float32 on the CPU. The original builds 701 of them (ranks 0..700).
torch::Tensor ale_rank_weights(int64_t count);

// ClsContrastiveLoss.forward: for every row i with true class y_i and every other class j,
// cost_ij = max(0, margin + scores_ij - scores_iy), reduced as `options` says, summed and divided
// by the batch size. `scores` [B, K], `labels` [B] int64 indices into K. Returns a scalar.
// With RankingReduction::weighted a row can have up to K - 1 violating negatives; the original's
// table of 701 weights fails (index out of range) beyond 700, ours grows to max(701, K) entries
// with the same formula (identical values where the original works).
torch::Tensor cls_contrastive_loss(const torch::Tensor& scores, const torch::Tensor& labels,
                                   const ClsContrastiveLossOptions& options);

// Which of the three methods (main.py's --devise / --ale / --sje).
enum class BilinearRanking { devise, ale, sje };

// The loss main.py builds for the method (margin 0.1 in all three, not --margin):
//   devise: reduction sum;  ale: reduction weighted;  sje: max_violation, topk 1, reduction sum.
ClsContrastiveLossOptions ranking_loss_options(BilinearRanking ranking);
// "devise", "ale", "sje".
std::string ranking_method_name(BilinearRanking ranking);

// The model's hyper-parameters under the original's command-line names.
struct BilinearCompatibilityOptions {
  double dropout_baselines = 0.2;  // dropout on the inputs and on the class texts (training only)
  bool norm_inputs = true;         // L2-normalise x before the dropout (the cls_features scripts pass it)
};
void to_json(nlohmann::json& j, const BilinearCompatibilityOptions& o);
void from_json(const nlohmann::json& j, BilinearCompatibilityOptions& o);

// DeviseModel.forward's three outputs.
struct BilinearCompatibilityOutputs {
  torch::Tensor logits;     // [B, K] bilinear(x) . t^T
  torch::Tensor projected;  // [B, text] bilinear(x): the video in the text space
  torch::Tensor text;       // [K, text] the class texts after dropout
};

class BilinearCompatibility : public Method {
 public:
  BilinearCompatibility(BilinearRanking ranking, const MethodDims& dims, const BilinearCompatibilityOptions& options);

  // DeviseModel.forward(vis_fts, txt_fts): x [B, visual + audio], class_text [K, text].
  BilinearCompatibilityOutputs forward(const torch::Tensor& x, const torch::Tensor& class_text);

  // The batch's negative videos are unused (the originals draw them and ignore them).
  bool uses_negatives() const override { return false; }
  std::string method_name() const override { return ranking_method_name(ranking_); }
  const MethodDims& dims() const override { return dims_; }
  nlohmann::json options_json() const override;
  // The ranking loss on the positives' logits against all training classes (batch.class_text,
  // targets batch.target); the negative videos of the batch are not used, as in the original.
  // One term, "cost_s" (the original's loss detail).
  MethodLoss loss(const TrainingBatch& batch) override;
  // Euclidean distances between bilinear(x) and the raw class texts (evaluate_dataset_baseline's
  // "audio" mode on the projected features), although training scores by dot product.
  torch::Tensor distances(const torch::Tensor& inputs, const torch::Tensor& class_text) override;
  // bilinear(x) and the class texts.
  std::optional<JointEmbeddings> joint_embeddings(const torch::Tensor& inputs, const torch::Tensor& class_text) override;

  BilinearRanking ranking() const { return ranking_; }
  const BilinearCompatibilityOptions& options() const { return options_; }

  torch::nn::Linear bilinear{nullptr};  // weight [text, visual + audio], no bias
  nn::Dropout dropout{nullptr};  // p = dropout_baselines, shared by inputs and texts

 private:
  torch::Tensor project(const torch::Tensor& x);  // [N, visual + audio] -> [N, text]

  BilinearRanking ranking_;
  MethodDims dims_;
  BilinearCompatibilityOptions options_;
  ClsContrastiveLossOptions loss_options_;
};

// The registry entries, with the defaults of run_scripts/{UCF,ActivityNet,VGGSound}-GZSL/<name>.sh
// (the cls_features lines) and src/args.py.
MethodSpec devise_spec();
MethodSpec ale_spec();
MethodSpec sje_spec();

}  // namespace avgzsl::gzsl
