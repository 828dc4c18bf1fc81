// The ClipClap GZSL model (METHOD §3), module names as in the reference's ClipClap_model:
//
//   O_enc  : x [B, input_dim]   -> o       [B, hidden_dim]        EmbeddingNet(input_dim, hidden)
//   W_enc  : t [B, text_dim]    -> w       [B, hidden_dim]        EmbeddingNet(text_dim, hidden)
//   O_proj : o                  -> theta_o [B, embedding_dim]     EmbeddingNet(hidden, hidden, embedding)
//   D_o    : theta_o            -> rho_o   [B, hidden_dim]        EmbeddingNet(embedding, hidden, hidden)
//   W_proj : w                  -> theta_w [B, embedding_dim]     EmbeddingNet(hidden, embedding)
//   D_w    : theta_w            -> rho_w   [B, hidden_dim]        EmbeddingNet(embedding, hidden)
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <torch/nn/module.h>

#include "avgzsl/gzsl/method.h"
#include "avgzsl/nn/embedding_net.h"

namespace avgzsl::gzsl {

// The three training losses of METHOD §4, each of which the ablation can switch off.
struct LossSwitches {
  bool cross_entropy = true;   // "ce"
  bool regression = true;      // "reg"
  bool reconstruction = true;  // "rec"
};

struct ClipClapOptions {
  int64_t input_dim = 1536;    // dim of x = [v | a] (paper: 512 + 1024)
  int64_t text_dim = 1536;     // dim of t = [t_clip | t_clap] (paper: 512 + 1024)
  int64_t hidden_dim = 512;    // encoder outputs, projection hidden width, reconstruction size
  int64_t embedding_dim = 64;  // the joint space where distances are measured
  double encoder_dropout = 0.1;     // O_enc, W_enc
  double video_proj_dropout = 0.1;  // O_proj, D_o (reference: dropout_decoder)
  double class_proj_dropout = 0.1;  // W_proj, D_w (reference: additional_dropout)
  LossSwitches losses;              // training only; absent from checkpoints written before it
};
// "ce,reg,rec" (any subset, any order) <-> switches; throws std::invalid_argument on unknown or
// empty lists.
LossSwitches parse_losses(const std::string& text);
std::string to_string(const LossSwitches& losses);

void to_json(nlohmann::json& j, const ClipClapOptions& o);
void from_json(const nlohmann::json& j, ClipClapOptions& o);

struct ClipClapOutputs {
  torch::Tensor w;        // [B, hidden_dim]    encoded class text W_enc(t)
  torch::Tensor theta_o;  // [B, embedding_dim] video embedding
  torch::Tensor rho_o;    // [B, hidden_dim]    reconstruction of w from theta_o
  torch::Tensor theta_w;  // [B, embedding_dim] class embedding
  torch::Tensor rho_w;    // [B, hidden_dim]    reconstruction of w from theta_w
};

class ClipClapImpl : public Method {
 public:
  // `dims` only records how x splits into v and a (ClipClap reads x whole); by default the whole
  // input counts as visual.
  explicit ClipClapImpl(const ClipClapOptions& options, const MethodDims& dims = {});

  std::string method_name() const override { return "clipclap"; }
  const MethodDims& dims() const override { return dims_; }
  nlohmann::json options_json() const override;
  bool uses_negatives() const override { return false; }
  // The reference's compute_loss on the batch.
  MethodLoss loss(const TrainingBatch& batch) override;
  // The reference's train_step calls get_embeddings in training mode after every step.
  void after_step(const TrainingBatch& batch) override;
  // Euclidean distances between theta_o and theta_w (METHOD §7).
  torch::Tensor distances(const torch::Tensor& inputs, const torch::Tensor& class_text) override;
  // theta_o and theta_w.
  std::optional<JointEmbeddings> joint_embeddings(const torch::Tensor& inputs, const torch::Tensor& class_text) override;

  // x: [B, input_dim] video inputs; t: [B, text_dim] the class text of each video's label.
  ClipClapOutputs forward(const torch::Tensor& x, const torch::Tensor& t);
  // The same from o = O_enc(x) and w = W_enc(t), however they were computed.
  ClipClapOutputs forward_encoded(const torch::Tensor& o, const torch::Tensor& w);
  // theta_o for videos: [N, input_dim] -> [N, embedding_dim].
  torch::Tensor embed_videos(const torch::Tensor& x);
  // theta_w for class texts: [C, text_dim] -> [C, embedding_dim].
  torch::Tensor embed_classes(const torch::Tensor& t);

  const ClipClapOptions& options() const { return options_; }

  nn::EmbeddingNet O_enc{nullptr}, W_enc{nullptr}, O_proj{nullptr}, D_o{nullptr}, W_proj{nullptr}, D_w{nullptr};

 private:
  ClipClapOptions options_;
  MethodDims dims_;
};
TORCH_MODULE(ClipClap);

}  // namespace avgzsl::gzsl
