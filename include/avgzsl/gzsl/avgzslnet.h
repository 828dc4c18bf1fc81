// AVGZSLNet (Mazumder, Singh, Parida, Namboodiri: "AVGZSLNet: Audio-Visual Generalized Zero-Shot
// Learning by Reconstructing Label Features from Multi-Modal Embeddings", WACV 2021) as AVCA-GZSL
// re-implements it (src/model.py `AVGZSLNet`, src/loss.py `AVGZSLLoss`).
// docs/methods/avgzslnet.md describes the method and every quirk kept.
//
// Module tree (state_dict names as the original's):
//   triplet_net.embedding_net1     audio [B, audio]  -> [B, 64]   Linear-BN-ReLU-Dropout-Linear
//   triplet_net.embedding_net2     video [B, visual] -> [B, 64]   the same
//   triplet_net.embedding_net3     text  [B, text]   -> [B, 64]   the same, hidden width = text width
//   decoder_net.embedding_net      [B, 64] -> [B, text]           the same (decoder hidden size),
//                                  outputs L2-normalised with --normalize_decoder_outputs
#pragma once

#include <nlohmann/json.hpp>

#include "avgzsl/gzsl/method.h"
#include "avgzsl/gzsl/method_registry.h"
#include "avgzsl/gzsl/triplet_net.h"

namespace avgzsl::gzsl {

// The original's command-line arguments that change AVGZSLNet (names as the JSON option keys).
struct AvgzslNetOptions {
  int64_t embeddings_hidden_size = 1024;  // hidden width of the audio and video nets
  int64_t decoder_hidden_size = 64;       // hidden width of the decoder
  double embedding_dropout = 0.8;         // dropout in the audio, video and text nets
  double decoder_dropout = 0.5;           // dropout in the decoder
  bool embedding_use_bn = true;           // BatchNorm in the triplet nets (run scripts pass it)
  bool decoder_use_bn = true;             // BatchNorm in the decoder (run scripts pass it)
  bool normalize_decoder_outputs = true;  // L2-normalise decoded texts (run scripts pass it)
  double margin = 1.0;                    // triplet margin
  std::string distance_fn = "L2Loss";     // reconstruction distance: "L2Loss" or "SquaredL2Loss"
};
void to_json(nlohmann::json& j, const AvgzslNetOptions& o);
// Throws std::invalid_argument for a distance_fn other than the two above.
void from_json(const nlohmann::json& j, AvgzslNetOptions& o);

// DecoderNet: one projection applied to five embeddings, optionally L2-normalised.
class AvgzslDecoderNetImpl : public torch::nn::Module {
 public:
  AvgzslDecoderNetImpl(ProjectionNet embedding_net, bool normalize_decoder_outputs);
  // One embedding [B, 64] -> [B, text], L2-normalised along dim 1 when normalize_decoder_outputs.
  torch::Tensor forward(const torch::Tensor& embedding);
  ProjectionNet embedding_net{nullptr};
  bool normalize_decoder_outputs;
};
TORCH_MODULE(AvgzslDecoderNet);

// What AVGZSLNet.forward returns (x_t_p is the positives' raw class text).
struct AvgzslNetOutputs {
  torch::Tensor x_t_p;                          // [B, text]
  TripletEmbeddings embeddings;                 // a_p, v_p, t_p, a_q, v_q, t_q: [B, 64]
  torch::Tensor x_ta_p, x_tv_p, x_tt_p;         // [B, text] decoded positives: audio, video, text
  torch::Tensor x_ta_q, x_tv_q;                 // [B, text] decoded negatives: audio, video
};

class AvgzslNet : public Method {
 public:
  static constexpr int64_t kEmbeddingSize = 64;  // output_size=64 in the original

  // Throws std::invalid_argument unless dims has visual, audio and text.
  AvgzslNet(const MethodDims& dims, const AvgzslNetOptions& options);

  std::string method_name() const override { return "avgzslnet"; }
  const MethodDims& dims() const override { return dims_; }
  nlohmann::json options_json() const override { return options_; }

  // Positives x_p [B, visual + audio] with class texts t_p [B, text]; negatives x_q, t_q likewise.
  AvgzslNetOutputs forward(const torch::Tensor& x_p, const torch::Tensor& t_p, const torch::Tensor& x_q,
                           const torch::Tensor& t_q);
  // forward, then AVGZSLLoss. Terms (they sum to the total): l_rec, l_cta, l_ctv (cross-modal
  // decoder loss), l_ta, l_at, l_tv, l_vt (composite triplet loss).
  MethodLoss loss(const TrainingBatch& batch) override;
  // ||a - t|| + ||v - t|| (utils.py get_best_evaluation, mode "both": the sum of the two).
  torch::Tensor distances(const torch::Tensor& inputs, const torch::Tensor& class_text) override;

  TripletNet triplet_net{nullptr};
  AvgzslDecoderNet decoder_net{nullptr};

 private:
  MethodDims dims_;
  AvgzslNetOptions options_;
};

// AVGZSLLoss.forward: total = (l_rec + l_cta + l_ctv) + (l_ta + l_at + l_tv + l_vt), the terms in
// that order.
MethodLoss avgzslnet_loss(const AvgzslNetOutputs& out, const AvgzslNetOptions& options);

// The registry entry: run-script defaults of run_scripts/{UCF,ActivityNet,VGGSound}-GZSL/avgzslnet.sh.
MethodSpec avgzslnet_spec();

}  // namespace avgzsl::gzsl
