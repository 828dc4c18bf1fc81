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

#include "avgzsl/nn/embedding_net.h"

namespace avgzsl::gzsl {

struct ClipClapOptions {
  int64_t input_dim = 1536;    // dim of x = [v | a] (paper: 512 + 1024)
  int64_t text_dim = 1536;     // dim of t = [t_clip | t_clap] (paper: 512 + 1024)
  int64_t hidden_dim = 512;    // encoder outputs, projection hidden width, reconstruction size
  int64_t embedding_dim = 64;  // the joint space where distances are measured
  double encoder_dropout = 0.1;     // O_enc, W_enc
  double video_proj_dropout = 0.1;  // O_proj, D_o (reference: dropout_decoder)
  double class_proj_dropout = 0.1;  // W_proj, D_w (reference: additional_dropout)
};
void to_json(nlohmann::json& j, const ClipClapOptions& o);
void from_json(const nlohmann::json& j, ClipClapOptions& o);

struct ClipClapOutputs {
  torch::Tensor w;        // [B, hidden_dim]    encoded class text W_enc(t)
  torch::Tensor theta_o;  // [B, embedding_dim] video embedding
  torch::Tensor rho_o;    // [B, hidden_dim]    reconstruction of w from theta_o
  torch::Tensor theta_w;  // [B, embedding_dim] class embedding
  torch::Tensor rho_w;    // [B, hidden_dim]    reconstruction of w from theta_w
};

class ClipClapImpl : public torch::nn::Module {
 public:
  explicit ClipClapImpl(const ClipClapOptions& options);

  // x: [B, input_dim] video inputs; t: [B, text_dim] the class text of each video's label.
  ClipClapOutputs forward(const torch::Tensor& x, const torch::Tensor& t);
  // theta_o for videos: [N, input_dim] -> [N, embedding_dim].
  torch::Tensor embed_videos(const torch::Tensor& x);
  // theta_w for class texts: [C, text_dim] -> [C, embedding_dim].
  torch::Tensor embed_classes(const torch::Tensor& t);

  const ClipClapOptions& options() const { return options_; }
  // Every parameter and buffer under its state_dict name ("O_enc.fc.0.weight", ...).
  std::vector<std::pair<std::string, torch::Tensor>> state_dict() const;
  // Strict load: every name must be present with the right shape and nothing else; the error
  // names the tensor, the expected and the found shape, and `source`.
  void load_state_dict(const std::vector<std::pair<std::string, torch::Tensor>>& state, const std::string& source);

  nn::EmbeddingNet O_enc{nullptr}, W_enc{nullptr}, O_proj{nullptr}, D_o{nullptr}, W_proj{nullptr}, D_w{nullptr};

 private:
  ClipClapOptions options_;
};
TORCH_MODULE(ClipClap);

}  // namespace avgzsl::gzsl
