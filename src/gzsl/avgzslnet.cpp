#include "avgzsl/gzsl/avgzslnet.h"

#include <torch/nn/functional/normalization.h>
#include <torch/torch.h>

#include <stdexcept>

#include "avgzsl/gzsl/avca_gzsl_defaults.h"

namespace avgzsl::gzsl {

void to_json(nlohmann::json& j, const AvgzslNetOptions& o) {
  j = {{"embeddings_hidden_size", o.embeddings_hidden_size},
       {"decoder_hidden_size", o.decoder_hidden_size},
       {"embedding_dropout", o.embedding_dropout},
       {"decoder_dropout", o.decoder_dropout},
       {"embedding_use_bn", o.embedding_use_bn},
       {"decoder_use_bn", o.decoder_use_bn},
       {"normalize_decoder_outputs", o.normalize_decoder_outputs},
       {"margin", o.margin},
       {"distance_fn", o.distance_fn}};
}

void from_json(const nlohmann::json& j, AvgzslNetOptions& o) {
  j.at("embeddings_hidden_size").get_to(o.embeddings_hidden_size);
  j.at("decoder_hidden_size").get_to(o.decoder_hidden_size);
  j.at("embedding_dropout").get_to(o.embedding_dropout);
  j.at("decoder_dropout").get_to(o.decoder_dropout);
  j.at("embedding_use_bn").get_to(o.embedding_use_bn);
  j.at("decoder_use_bn").get_to(o.decoder_use_bn);
  j.at("normalize_decoder_outputs").get_to(o.normalize_decoder_outputs);
  j.at("margin").get_to(o.margin);
  j.at("distance_fn").get_to(o.distance_fn);
  if (o.distance_fn != "L2Loss" && o.distance_fn != "SquaredL2Loss") {
    throw std::invalid_argument("avgzslnet: distance_fn must be \"L2Loss\" or \"SquaredL2Loss\" (src/args.py choices), but got \"" +
                                o.distance_fn + "\"");
  }
}

AvgzslDecoderNetImpl::AvgzslDecoderNetImpl(ProjectionNet net, bool normalize)
    : normalize_decoder_outputs(normalize) {
  embedding_net = register_module("embedding_net", std::move(net));
}

torch::Tensor AvgzslDecoderNetImpl::forward(const torch::Tensor& embedding) {
  const torch::Tensor decoded = embedding_net->forward(embedding);
  if (!normalize_decoder_outputs) return decoded;
  // F.normalize defaults: p 2, dim 1, eps 1e-12.
  return torch::nn::functional::normalize(decoded, torch::nn::functional::NormalizeFuncOptions().p(2).dim(1).eps(1e-12));
}

AvgzslNet::AvgzslNet(const MethodDims& dims, const AvgzslNetOptions& options) : dims_(dims), options_(options) {
  require_visual_audio_text(dims, "avgzslnet");
  // Registration (= initialisation) order of the original: triplet_net, then decoder_net.
  triplet_net = register_module("triplet_net", make_triplet_net(dims, options.embeddings_hidden_size, kEmbeddingSize,
                                                                options.embedding_dropout, options.embedding_use_bn,
                                                                /*relu_output=*/false));
  // The decoder maps back to the text width (the original's output_size=300, word2vec).
  ProjectionNet f_dec(ProjectionNetOptions{kEmbeddingSize, dims.text, options.decoder_hidden_size, options.decoder_dropout,
                                           options.decoder_use_bn, /*relu_output=*/false});
  decoder_net = register_module("decoder_net", AvgzslDecoderNet(f_dec, options.normalize_decoder_outputs));
}

AvgzslNetOutputs AvgzslNet::forward(const torch::Tensor& x_p, const torch::Tensor& t_p, const torch::Tensor& x_q,
                                    const torch::Tensor& t_q) {
  const VideoHalves p = split_video_inputs(x_p, dims_, "avgzslnet positive inputs");
  const VideoHalves q = split_video_inputs(x_q, dims_, "avgzslnet negative inputs");
  check_class_text(t_p, dims_, "avgzslnet positive class texts");
  check_class_text(t_q, dims_, "avgzslnet negative class texts");
  AvgzslNetOutputs out;
  out.x_t_p = t_p;
  out.embeddings = triplet_net->forward(p.audio, p.visual, t_p, q.audio, q.visual, t_q);
  const TripletEmbeddings& e = out.embeddings;
  // DecoderNet: five separate passes (five BatchNorm updates) in the original's order; t_q is
  // not decoded.
  out.x_ta_p = decoder_net->forward(e.a_p);
  out.x_tv_p = decoder_net->forward(e.v_p);
  out.x_tt_p = decoder_net->forward(e.t_p);
  out.x_ta_q = decoder_net->forward(e.a_q);
  out.x_tv_q = decoder_net->forward(e.v_q);
  return out;
}

MethodLoss avgzslnet_loss(const AvgzslNetOutputs& out, const AvgzslNetOptions& options) {
  // L2Loss: (x - y).pow(2).sum(1).pow(0.5); SquaredL2Loss without the root. [B]
  const bool squared = options.distance_fn == "SquaredL2Loss";
  const auto distance = [squared](const torch::Tensor& x, const torch::Tensor& y) {
    const torch::Tensor s = (x - y).pow(2).sum(1);
    return squared ? s : s.pow(0.5);
  };
  // TripletLoss: nn.TripletMarginLoss(margin) (p 2, eps 1e-6, batch mean).
  const auto triplet = [&](const torch::Tensor& anchor, const torch::Tensor& pos, const torch::Tensor& neg) {
    return torch::triplet_margin_loss(anchor, pos, neg, options.margin, /*p=*/2, /*eps=*/1e-6, /*swap=*/false,
                                      at::Reduction::Mean);
  };
  const TripletEmbeddings& e = out.embeddings;
  // CrossModalDecoderLoss: every decoded positive should reconstruct the raw class text, and the
  // decoded text should be nearer the decoded positive than the decoded negative of each modality.
  const torch::Tensor l_rec = distance(out.x_tt_p, out.x_t_p).mean() + distance(out.x_ta_p, out.x_t_p).mean() +
                              distance(out.x_tv_p, out.x_t_p).mean();
  const torch::Tensor l_cta = triplet(out.x_tt_p, out.x_ta_p, out.x_ta_q);
  const torch::Tensor l_ctv = triplet(out.x_tt_p, out.x_tv_p, out.x_tv_q);
  // CompositeTripletLoss: text-anchored and modality-anchored triplets.
  const torch::Tensor l_ta = triplet(e.t_p, e.a_p, e.a_q);
  const torch::Tensor l_at = triplet(e.a_p, e.t_p, e.t_q);
  const torch::Tensor l_tv = triplet(e.t_p, e.v_p, e.v_q);
  const torch::Tensor l_vt = triplet(e.v_p, e.t_p, e.t_q);
  const torch::Tensor cmd = l_rec + l_cta + l_ctv;
  const torch::Tensor ct = l_ta + l_at + l_tv + l_vt;
  return {cmd + ct,
          {{"l_rec", l_rec}, {"l_cta", l_cta}, {"l_ctv", l_ctv}, {"l_ta", l_ta}, {"l_at", l_at}, {"l_tv", l_tv}, {"l_vt", l_vt}}};
}

MethodLoss AvgzslNet::loss(const TrainingBatch& batch) {
  return avgzslnet_loss(forward(batch.inputs, batch.text, batch.negative_inputs, batch.negative_text), options_);
}

torch::Tensor AvgzslNet::distances(const torch::Tensor& inputs, const torch::Tensor& class_text) {
  const VideoHalves x = split_video_inputs(inputs, dims_, "avgzslnet inputs");
  check_class_text(class_text, dims_, "avgzslnet class texts");
  const torch::Tensor a = triplet_net->embedding_net1->forward(x.audio);   // [N, 64]
  const torch::Tensor v = triplet_net->embedding_net2->forward(x.visual);  // [N, 64]
  const torch::Tensor t = triplet_net->get_classes_embedding(class_text);  // [K, 64]
  // utils.py, mode "both": audio_distance + video_distance (torch.cdist, p=2). Its SquaredL2Loss
  // branch compares the distance object with a string and never runs, so no squaring here either.
  return torch::cdist(a, t, /*p=*/2) + torch::cdist(v, t, /*p=*/2);
}

MethodSpec avgzslnet_spec() {
  MethodSpec spec;
  spec.name = "avgzslnet";
  spec.summary =
      "AVGZSLNet (Mazumder et al., WACV 2021) as re-implemented in AVCA-GZSL: audio, video and text nets with a "
      "cross-modal text decoder; needs visual and audio features; uses the full class text";
  spec.needs_visual_and_audio = true;
  spec.defaults = [](const std::string& family) {
    // run_scripts/*-GZSL/avgzslnet.sh, cls_split lines (the same for all three): --decoder_use_bn
    // --embedding_use_bn --normalize_decoder_outputs; dropouts, hidden sizes, margin and
    // distance_fn from src/args.py.
    return avca_gzsl_run_script_defaults("avgzslnet", family, AvgzslNetOptions{});
  };
  spec.make = [](const MethodDims& dims, const nlohmann::json& options) -> std::shared_ptr<Method> {
    return std::make_shared<AvgzslNet>(dims, options.get<AvgzslNetOptions>());
  };
  return spec;
}

}  // namespace avgzsl::gzsl
