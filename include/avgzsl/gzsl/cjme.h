// CJME (Parida, Matiyali, Guha, Sharma: "Coordinated Joint Multimodal Embeddings for Generalized
// Audio-Visual Zero-shot Classification and Retrieval of Videos", WACV 2020) as AVCA-GZSL
// re-implements it for the AV-GZSL benchmarks (src/model.py `CJME`, src/loss.py `CJMELoss`).
// docs/methods/cjme.md describes the method and every quirk kept.
//
// Module tree (state_dict names as the original's):
//   triplet_net.embedding_net1  audio [B, audio]  -> [B, 64]  Linear-BN-ReLU-Dropout-Linear-ReLU
//   triplet_net.embedding_net2  video [B, visual] -> [B, 64]  the same
//   triplet_net.embedding_net3  text  [B, text]   -> [B, 64]  the same, hidden width = text width
//   attention_model             [B, audio + visual] -> [B, 1] BatchNorm1d (.0), Linear (.1), Sigmoid
#pragma once

#include <nlohmann/json.hpp>

#include "avgzsl/gzsl/method.h"
#include "avgzsl/gzsl/method_registry.h"
#include "avgzsl/gzsl/triplet_net.h"

namespace avgzsl::gzsl {

// The original's command-line arguments that change CJME (names as the JSON option keys).
struct CjmeOptions {
  double dropout_baselines = 0.2;        // dropout after each hidden ReLU (--dropout_baselines)
  int64_t embeddings_hidden_size = 1024;  // hidden width of the audio and video nets
  bool embedding_use_bn = true;          // BatchNorm after the hidden Linear (run scripts pass it)
  double margin = 1.0;                   // triplet margin
};
void to_json(nlohmann::json& j, const CjmeOptions& o);
void from_json(const nlohmann::json& j, CjmeOptions& o);

// What CJME.forward returns.
struct CjmeOutputs {
  TripletEmbeddings embeddings;       // a_p, v_p, t_p, a_q, v_q, t_q, each [B, 64]
  torch::Tensor attention_weights;    // [B, 1] sigmoid of the attention model: weight of video
  torch::Tensor threshold_attention;  // [B, 1] 1 where attention_weights >= 0.5, 0 where < 0.5
};

class Cjme : public Method {
 public:
  static constexpr int64_t kEmbeddingSize = 64;  // output_size=64 in the original

  // Throws std::invalid_argument unless dims has visual, audio and text.
  Cjme(const MethodDims& dims, const CjmeOptions& options);

  std::string method_name() const override { return "cjme"; }
  const MethodDims& dims() const override { return dims_; }
  nlohmann::json options_json() const override { return options_; }

  // Positives x_p [B, visual + audio] with class texts t_p [B, text]; negatives x_q, t_q likewise.
  CjmeOutputs forward(const torch::Tensor& x_p, const torch::Tensor& t_p, const torch::Tensor& x_q,
                      const torch::Tensor& t_q);
  // forward on the batch, then the training classes' text embeddings in the same mode, detached
  // (train.py), then CJMELoss. Terms: "ct", "l_av", "attention" (they sum to the total).
  MethodLoss loss(const TrainingBatch& batch) override;
  // (1 - s) * ||a - t|| + s * ||v - t|| with s the thresholded attention of each video
  // (utils.py get_best_evaluation, mode "both" with args.cjme).
  torch::Tensor distances(const torch::Tensor& inputs, const torch::Tensor& class_text) override;

  TripletNet triplet_net{nullptr};
  torch::nn::Sequential attention_model{nullptr};

 private:
  MethodDims dims_;
  CjmeOptions options_;
};

struct CjmeLossTerms {
  torch::Tensor ct;         // composite triplet loss weighted by the attention (scalar)
  torch::Tensor l_av;       // MSE(a_p, v_p)
  torch::Tensor attention;  // MSE(attention_weights, entropy-based supervision)
  torch::Tensor total;      // ct + l_av + attention
  torch::Tensor supervision;  // [B] the supervision targets (0 audio, 1 video, 0.5 neither), for tests
};
// CJMELoss.forward: `class_embeddings` [K, 64] are the training classes' projected texts.
CjmeLossTerms cjme_loss(const CjmeOutputs& out, const torch::Tensor& class_embeddings, double margin);

// The registry entry: run-script defaults of run_scripts/{UCF,ActivityNet,VGGSound}-GZSL/cjme.sh.
MethodSpec cjme_spec();

}  // namespace avgzsl::gzsl
