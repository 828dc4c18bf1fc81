#include "avgzsl/gzsl/cjme.h"

#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/linear.h>
#include <torch/torch.h>

#include <limits>
#include <stdexcept>

#include "avgzsl/gzsl/avca_gzsl_defaults.h"

namespace avgzsl::gzsl {

namespace cjme_detail {

// CJME.forward: threshold_attention is a clone of the weights with >= 0.5 set to 1 and < 0.5 set
// to 0 (a NaN weight stays NaN, as in the original).
torch::Tensor threshold(const torch::Tensor& w) {
  return torch::where(w >= 0.5, torch::ones_like(w), torch::where(w < 0.5, torch::zeros_like(w), w));
}

// torch.distributions.Categorical(probs).entropy() of torch 1.13: probabilities renormalised,
// logits = log(clamp(p, eps, 1 - eps)), entropy = -sum(logits * p). p: [B, K] -> [B].
torch::Tensor categorical_entropy(const torch::Tensor& probs) {
  const torch::Tensor p = probs / probs.sum(-1, /*keepdim=*/true);
  const double eps = std::numeric_limits<float>::epsilon();
  const torch::Tensor logits = torch::log(p.clamp(eps, 1 - eps)).clamp_min(std::numeric_limits<float>::lowest());
  return -(logits * p).sum(-1);
}

}  // namespace cjme_detail

void to_json(nlohmann::json& j, const CjmeOptions& o) {
  j = {{"dropout_baselines", o.dropout_baselines},
       {"embeddings_hidden_size", o.embeddings_hidden_size},
       {"embedding_use_bn", o.embedding_use_bn},
       {"margin", o.margin}};
}

void from_json(const nlohmann::json& j, CjmeOptions& o) {
  j.at("dropout_baselines").get_to(o.dropout_baselines);
  j.at("embeddings_hidden_size").get_to(o.embeddings_hidden_size);
  j.at("embedding_use_bn").get_to(o.embedding_use_bn);
  j.at("margin").get_to(o.margin);
}

Cjme::Cjme(const MethodDims& dims, const CjmeOptions& options) : dims_(dims), options_(options) {
  require_visual_audio_text(dims, "cjme");
  // Registration order = the original's: triplet_net, then attention_model.
  triplet_net = register_module("triplet_net", make_triplet_net(dims, options.embeddings_hidden_size, kEmbeddingSize,
                                                                options.dropout_baselines, options.embedding_use_bn,
                                                                /*relu_output=*/true));
  const int64_t both = dims.audio + dims.visual;
  attention_model = register_module(
      "attention_model", torch::nn::Sequential(torch::nn::BatchNorm1d(both), torch::nn::Linear(both, 1), torch::nn::Sigmoid()));
}

CjmeOutputs Cjme::forward(const torch::Tensor& x_p, const torch::Tensor& t_p, const torch::Tensor& x_q,
                          const torch::Tensor& t_q) {
  const VideoHalves p = split_video_inputs(x_p, dims_, "cjme positive inputs");
  const VideoHalves q = split_video_inputs(x_q, dims_, "cjme negative inputs");
  check_class_text(t_p, dims_, "cjme positive class texts");
  check_class_text(t_q, dims_, "cjme negative class texts");
  CjmeOutputs out;
  out.embeddings = triplet_net->forward(p.audio, p.visual, t_p, q.audio, q.visual, t_q);
  // The original feeds torch.cat((x_a_p, x_v_p)): AUDIO first, whereas our x is [v | a]; the
  // attention BatchNorm and Linear weights are laid out audio-first.
  out.attention_weights = attention_model->forward(torch::cat({p.audio, p.visual}, /*dim=*/1));  // [B, 1]
  out.threshold_attention = cjme_detail::threshold(out.attention_weights);
  return out;
}

CjmeLossTerms cjme_loss(const CjmeOutputs& out, const torch::Tensor& class_embeddings, double margin) {
  namespace F = torch::nn::functional;
  const TripletEmbeddings& e = out.embeddings;
  const torch::Tensor classes_t = class_embeddings.t().detach();  // [64, K]
  // nn.Softmax() without dim: PyTorch's legacy rule picks dim 1 for a 2-D tensor. The entropies
  // only decide the supervision targets; no gradient flows through them.
  const torch::Tensor p_audio = torch::softmax(e.a_p.detach().matmul(classes_t), /*dim=*/1);  // [B, K]
  const torch::Tensor p_video = torch::softmax(e.v_p.detach().matmul(classes_t), /*dim=*/1);
  const torch::Tensor entropy_audio = cjme_detail::categorical_entropy(p_audio);  // [B]
  const torch::Tensor entropy_video = cjme_detail::categorical_entropy(p_video);
  constexpr double kEpsilon = 0.1;  // CJMELoss.epsilon
  const torch::Tensor resultant_video = entropy_video - entropy_audio - kEpsilon;
  const torch::Tensor resultant_audio = entropy_audio - entropy_video - kEpsilon;
  // 1 (trust video) by default; 0 (trust audio) where the video is the more uncertain by more
  // than epsilon; 0.5 where neither differs by more than epsilon.
  torch::Tensor supervision = torch::ones(entropy_video.sizes(), entropy_video.options());
  supervision.masked_fill_(resultant_video > 0, 0.0);
  supervision.masked_fill_((resultant_video <= 0) == (resultant_audio <= 0), 0.5);

  CjmeLossTerms terms;
  terms.supervision = supervision;
  terms.attention = F::mse_loss(out.attention_weights, supervision.unsqueeze(1));
  // CompositeCJMETripletLoss: per-sample triplet losses with the text as anchor.
  const auto triplet = [&](const torch::Tensor& anchor, const torch::Tensor& pos, const torch::Tensor& neg) {
    return torch::triplet_margin_loss(anchor, pos, neg, margin, /*p=*/2, /*eps=*/1e-6, /*swap=*/false,
                                      at::Reduction::None);  // [B]
  };
  const torch::Tensor l_ta = triplet(e.t_p, e.a_p, e.a_q);
  const torch::Tensor l_tv = triplet(e.t_p, e.v_p, e.v_q);
  // Quirk kept: weights [B, 1] times losses [B] broadcast to [B, B] before the mean, so every
  // sample's weight multiplies every sample's loss: mean(1 - w) * mean(l_ta) + mean(w) * mean(l_tv).
  const torch::Tensor& w = out.attention_weights;
  terms.ct = ((1 - w) * l_ta + w * l_tv).mean();
  terms.l_av = F::mse_loss(e.a_p, e.v_p);
  terms.total = terms.ct + terms.l_av + terms.attention;
  return terms;
}

MethodLoss Cjme::loss(const TrainingBatch& batch) {
  const CjmeOutputs out = forward(batch.inputs, batch.text, batch.negative_inputs, batch.negative_text);
  check_class_text(batch.class_text, dims_, "cjme training class texts");
  torch::Tensor class_embeddings;
  {
    // train.py: model.get_classes_embedding(texts of the training classes), after the forward, in
    // the same mode (in training: a third BatchNorm update of embedding_net3, its own dropout),
    // then .detach(). No graph is needed for a detached tensor.
    torch::NoGradGuard no_grad;
    class_embeddings = triplet_net->get_classes_embedding(batch.class_text);
  }
  const CjmeLossTerms terms = cjme_loss(out, class_embeddings, options_.margin);
  return {terms.total, {{"ct", terms.ct}, {"l_av", terms.l_av}, {"attention", terms.attention}}};
}

torch::Tensor Cjme::distances(const torch::Tensor& inputs, const torch::Tensor& class_text) {
  const VideoHalves x = split_video_inputs(inputs, dims_, "cjme inputs");
  check_class_text(class_text, dims_, "cjme class texts");
  const torch::Tensor a = triplet_net->embedding_net1->forward(x.audio);     // [N, 64]
  const torch::Tensor v = triplet_net->embedding_net2->forward(x.visual);    // [N, 64]
  const torch::Tensor t = triplet_net->get_classes_embedding(class_text);    // [K, 64]
  const torch::Tensor s = cjme_detail::threshold(attention_model->forward(torch::cat({x.audio, x.visual}, 1)));  // [N, 1]
  // utils.py, mode "both" with args.cjme: the thresholded weight picks the audio or the video
  // distance of each video (torch.cdist, p=2).
  return (1 - s) * torch::cdist(a, t, /*p=*/2) + s * torch::cdist(v, t, /*p=*/2);
}

MethodSpec cjme_spec() {
  MethodSpec spec;
  spec.name = "cjme";
  spec.summary =
      "CJME (Parida et al., WACV 2020) as re-implemented in AVCA-GZSL: audio, video and text nets with an "
      "audio/video attention; needs visual and audio features; uses the full class text";
  spec.needs_visual_and_audio = true;
  spec.defaults = [](const std::string& family) {
    // run_scripts/*-GZSL/cjme.sh, cls_split lines: --embedding_use_bn, --dropout_baselines 0.2
    // (0.0 for VGGSound); margin and hidden size from src/args.py.
    CjmeOptions o;
    o.dropout_baselines = family == "vggsound" ? 0.0 : 0.2;
    return avca_gzsl_run_script_defaults("cjme", family, o);
  };
  spec.make = [](const MethodDims& dims, const nlohmann::json& options) -> std::shared_ptr<Method> {
    return std::make_shared<Cjme>(dims, options.get<CjmeOptions>());
  };
  return spec;
}

}  // namespace avgzsl::gzsl
