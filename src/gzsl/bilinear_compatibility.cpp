#include "avgzsl/gzsl/bilinear_compatibility.h"

#include <torch/nn/functional/normalization.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <utility>

#include "avgzsl/gzsl/avca_gzsl_defaults.h"

namespace avgzsl::gzsl {

namespace F = torch::nn::functional;

namespace {

// The original's table: ranks 0..700.
constexpr int64_t kOriginalRankWeights = 701;
// main.py passes margin=0.1 to all three losses (its --margin flag is for the other baselines).
constexpr double kRankingMargin = 0.1;

}  // namespace

torch::Tensor ale_rank_weights(int64_t count) {
  TORCH_CHECK(count >= 1, "Expected at least one ALE rank weight, but got ", count);
  torch::Tensor betas = torch::zeros({count});
  // 1 / (1, 2, ..., count - 1) computed as the original does (Tensor.__rtruediv__ is reciprocal),
  // then prefix sums: betas[r] = H_r. A longer table has the same leading values.
  const torch::Tensor inverse = torch::reciprocal(torch::arange(count - 1, torch::kLong).to(torch::kFloat) + 1);
  betas.narrow(0, 1, count - 1).copy_(torch::cumsum(inverse, 0));
  return betas;
}

torch::Tensor cls_contrastive_loss(const torch::Tensor& scores, const torch::Tensor& labels,
                                   const ClsContrastiveLossOptions& options) {
  TORCH_CHECK(scores.dim() == 2 && scores.size(1) >= 2, "Expected scores [B, K] with K >= 2 classes, but got ",
              scores.sizes());
  TORCH_CHECK(labels.dim() == 1 && labels.size(0) == scores.size(0) && labels.scalar_type() == torch::kLong,
              "Expected int64 labels [", scores.size(0), "], but got ", labels.scalar_type(), " ", labels.sizes());
  const int64_t batch_size = scores.size(0);
  const int64_t classes = scores.size(1);
  const torch::Tensor index = labels.unsqueeze(1);                      // [B, 1]
  const torch::Tensor positive = scores.gather(1, index);               // [B, 1] score of the true class
  const torch::Tensor positive_mask =
      torch::zeros_like(scores, scores.options().dtype(torch::kBool)).scatter_(1, index, true);  // [B, K]
  // (margin + s_ij) - s_iy, in the original's order of float operations. clamp (not relu): at a
  // cost of exactly 0 clamp's backward still passes the gradient, as in the original.
  torch::Tensor cost = ((scores + options.margin) - positive.expand_as(scores)).clamp(0).masked_fill(positive_mask, 0);
  if (options.max_violation) {
    cost = std::get<0>(cost.topk(options.topk, /*dim=*/1));           // [B, topk]
    if (options.reduction == RankingReduction::mean) cost = cost / options.topk;
    // "weighted" has no effect under max_violation (the original's branches).
  } else if (options.reduction == RankingReduction::mean) {
    cost = cost / (classes - 1);
  } else if (options.reduction == RankingReduction::weighted) {
    // r_i = number of violating negatives; every cost of row i is weighted by H_{r_i} / r_i (a row
    // with r = 0 has no cost, and its weight 0 / 1e-8 = 0). r can reach K - 1, so the table covers
    // K entries where the original's 701 would overflow.
    const torch::Tensor ranks = (cost > 0).sum(1).unsqueeze(1);       // [B, 1] int64
    const torch::Tensor betas = ale_rank_weights(std::max(kOriginalRankWeights, classes)).to(scores.device());
    const torch::Tensor weights = betas.index_select(0, ranks.squeeze(1)).unsqueeze(1) / (ranks + 1e-8);  // [B, 1]
    cost = cost * weights;
  }
  return cost.sum() / batch_size;
}

ClsContrastiveLossOptions ranking_loss_options(BilinearRanking ranking) {
  ClsContrastiveLossOptions o;
  o.margin = kRankingMargin;
  switch (ranking) {
    case BilinearRanking::devise:
      o.reduction = RankingReduction::sum;
      break;
    case BilinearRanking::ale:
      o.reduction = RankingReduction::weighted;
      break;
    case BilinearRanking::sje:
      o.max_violation = true;
      o.topk = 1;
      o.reduction = RankingReduction::sum;
      break;
  }
  return o;
}

std::string ranking_method_name(BilinearRanking ranking) {
  switch (ranking) {
    case BilinearRanking::devise:
      return "devise";
    case BilinearRanking::ale:
      return "ale";
    case BilinearRanking::sje:
      return "sje";
  }
  throw std::invalid_argument("unknown bilinear ranking method");
}

void to_json(nlohmann::json& j, const BilinearCompatibilityOptions& o) {
  j = {{"dropout_baselines", o.dropout_baselines}, {"norm_inputs", o.norm_inputs}};
}

void from_json(const nlohmann::json& j, BilinearCompatibilityOptions& o) {
  j.at("dropout_baselines").get_to(o.dropout_baselines);
  j.at("norm_inputs").get_to(o.norm_inputs);
}

BilinearCompatibility::BilinearCompatibility(BilinearRanking ranking, const MethodDims& dims,
                                             const BilinearCompatibilityOptions& options)
    : ranking_(ranking), dims_(dims), options_(options), loss_options_(ranking_loss_options(ranking)) {
  if (dims.visual < 0 || dims.audio < 0 || dims.input() <= 0 || dims.text <= 0) {
    throw std::invalid_argument(method_name() + ": expected a positive input width (visual " + std::to_string(dims.visual) +
                                " + audio " + std::to_string(dims.audio) + ") and text width (" +
                                std::to_string(dims.text) + ")");
  }
  if (!(options.dropout_baselines >= 0 && options.dropout_baselines < 1)) {
    throw std::invalid_argument(method_name() + ": dropout_baselines must be in [0, 1), got " +
                                std::to_string(options.dropout_baselines));
  }
  // DeviseModel's order: bilinear, then dropout (which has no tensors). The 300 of the original
  // (word2vec) is the class-text width here.
  bilinear = register_module("bilinear", torch::nn::Linear(torch::nn::LinearOptions(dims.input(), dims.text).bias(false)));
  dropout = register_module("dropout", nn::Dropout(options.dropout_baselines));
}

torch::Tensor BilinearCompatibility::project(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 2 && x.size(1) == dims_.input(), "Expected video inputs [N, ", dims_.input(),
              "] (visual ", dims_.visual, " + audio ", dims_.audio, "), but got ", x.sizes());
  // F.normalize: x / max(||x||_2, 1e-12) per row, over the whole [v | a] (not per modality).
  const torch::Tensor v = options_.norm_inputs ? F::normalize(x, F::NormalizeFuncOptions().p(2).dim(1)) : x;
  return bilinear->forward(dropout->forward(v));  // [N, text]
}

BilinearCompatibilityOutputs BilinearCompatibility::forward(const torch::Tensor& x, const torch::Tensor& class_text) {
  TORCH_CHECK(class_text.dim() == 2 && class_text.size(1) == dims_.text, "Expected class texts [K, ", dims_.text,
              "], but got ", class_text.sizes());
  BilinearCompatibilityOutputs out;
  // The videos' dropout draws come before the texts', as in the original.
  out.projected = project(x);                       // [B, text]
  out.text = dropout->forward(class_text);          // [K, text]
  out.logits = out.projected.matmul(out.text.t());  // [B, K]
  return out;
}

nlohmann::json BilinearCompatibility::options_json() const { return options_; }

MethodLoss BilinearCompatibility::loss(const TrainingBatch& batch) {
  const BilinearCompatibilityOutputs out = forward(batch.inputs, batch.class_text);
  const torch::Tensor cost = cls_contrastive_loss(out.logits, batch.target, loss_options_);
  return MethodLoss{cost, {{"cost_s", cost.detach()}}};
}

torch::Tensor BilinearCompatibility::distances(const torch::Tensor& inputs, const torch::Tensor& class_text) {
  // evaluate_dataset_baseline (model_devise) runs the model in eval mode and hands its projected
  // features and (undropped) class texts to get_best_evaluation's "audio" mode: torch.cdist, the
  // plain Euclidean distance (distance_fn L2Loss, the default), not the dot product of training.
  const BilinearCompatibilityOutputs out = forward(inputs, class_text);
  return torch::cdist(out.projected, out.text);  // [N, K]
}

std::optional<JointEmbeddings> BilinearCompatibility::joint_embeddings(const torch::Tensor& inputs,
                                                                       const torch::Tensor& class_text) {
  const BilinearCompatibilityOutputs out = forward(inputs, class_text);
  return JointEmbeddings{out.projected, out.text};
}

namespace {

MethodSpec bilinear_spec(BilinearRanking ranking, std::string summary) {
  MethodSpec spec;
  spec.name = ranking_method_name(ranking);
  spec.summary = std::move(summary);
  spec.needs_visual_and_audio = false;  // x is used whole, whatever modalities it holds
  spec.defaults = [name = spec.name](const std::string& family) {
    // run_scripts/{UCF,ActivityNet,VGGSound}-GZSL/<name>.sh, cls_features lines: the shared
    // training settings, --norm_inputs, --dropout_baselines 0.2 (VGGSound 0.0).
    BilinearCompatibilityOptions o;
    o.dropout_baselines = family == "vggsound" ? 0.0 : 0.2;
    o.norm_inputs = true;
    return avca_gzsl_run_script_defaults(name, family, o);
  };
  spec.make = [ranking](const MethodDims& dims, const nlohmann::json& options) -> std::shared_ptr<Method> {
    return std::make_shared<BilinearCompatibility>(ranking, dims, options.get<BilinearCompatibilityOptions>());
  };
  return spec;
}

}  // namespace

MethodSpec devise_spec() {
  return bilinear_spec(BilinearRanking::devise,
                       "DEVISE (Frome et al., NeurIPS 2013) as in AVCA-GZSL: bilinear map of [v | a] onto the full "
                       "class text, hinge ranking loss summed over all violating classes; any modality");
}

MethodSpec ale_spec() {
  return bilinear_spec(BilinearRanking::ale,
                       "ALE (Akata et al., TPAMI 2016) as in AVCA-GZSL: bilinear map of [v | a] onto the full class "
                       "text, rank-weighted hinge ranking loss; any modality");
}

MethodSpec sje_spec() {
  return bilinear_spec(BilinearRanking::sje,
                       "SJE (Akata et al., CVPR 2015) as in AVCA-GZSL: bilinear map of [v | a] onto the full class "
                       "text, hinge on the most violating class; any modality");
}

}  // namespace avgzsl::gzsl
