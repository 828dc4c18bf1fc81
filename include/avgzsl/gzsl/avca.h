// AVCA, "Audio-visual Generalized Zero-shot Learning with Cross-modal Attention and Language"
// (Mercea, Riesch, Koepke, Akata; CVPR 2022), as github.com/ExplainableML/AVCA-GZSL implements it
// (src/model_improvements.py, class AVCA). Module names, shapes and registration order are the
// original's, so that its `torch.save(model.state_dict())` loads here. T = dims.text (the
// original's 300-d word2vec), H_e / H_d = embeddings_hidden_size / decoder_hidden_size:
//
//   A_enc  : a [B, audio]  -> phi_a [B, T]     EmbeddingNet(audio, H_e, T)
//   V_enc  : v [B, visual] -> phi_v [B, T]     EmbeddingNet(visual, H_e, T)
//   cross_attention : [B, 2, T] -> [B, 2, T]   Transformer(T, depth, heads 3, dim_head 100, mlp 64)
//   W_proj : t [B, T]  -> theta_w [B, 64]      EmbeddingNet(T, 64)
//   D      : [B, 64]   -> rho [B, T]           EmbeddingNet(64, T)
//   A_proj, V_proj : [B, T] -> theta_a, theta_v [B, 64]   EmbeddingNet(T, H_d, 64)
//   A_rec, V_rec   : [B, 64] -> phi_a_rec, phi_v_rec [B, T] EmbeddingNet(64, T)
//   pos_emb1D [2, T]   added to (phi_a, phi_v) before the attention; never trained (see
//                      trainable_parameters)
//
// docs/methods/avca.md lists the losses and every quirk of the original reproduced here.
#pragma once

#include <nlohmann/json.hpp>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include "avgzsl/gzsl/method.h"
#include "avgzsl/gzsl/method_registry.h"

namespace avgzsl::gzsl {

// The original's fixed sizes (src/utils_improvements.py get_model_params, AVCA.__init__).
inline constexpr int64_t kAvcaEmbeddingDim = 64;  // dim_out: theta_a, theta_v, theta_w
inline constexpr int64_t kAvcaHeads = 3;          // attention heads (inner width 3 * 100 = 300 for any T)
inline constexpr int64_t kAvcaDimHead = 100;      // width of one head
inline constexpr int64_t kAvcaMlpDim = 64;        // the transformer's feed-forward width
inline constexpr double kAvcaTripletMargin = 1.0; // nn.TripletMarginLoss(margin=1.0), not --margin

// Hyper-parameters under the original's command-line names (src/args.py).
struct AvcaOptions {
  int64_t embeddings_hidden_size = 512;  // A_enc/V_enc hidden width; 0: one Linear block
  int64_t decoder_hidden_size = 512;     // A_proj/V_proj hidden width; 0: one Linear block
  double embedding_dropout = 0.2;        // A_enc, V_enc and the transformer (r_enc)
  double decoder_dropout = 0.3;          // A_proj, V_proj (r_proj)
  double additional_dropout = 0.5;       // W_proj, D, A_rec, V_rec (r_dec)
  int64_t depth_transformer = 1;         // transformer layers
  bool additional_triplets_loss = true;  // adds l_t
  int64_t first_additional_triplet = 1;  // weight of l_t's first pair
  int64_t second_additional_triplet = 1; // weight of l_t's second pair
  bool reg_loss = true;                  // adds l_r
  double momentum = 0.99;                // BatchNorm momentum, only of a two-layer net's second BatchNorm
};
void to_json(nlohmann::json& j, const AvcaOptions& o);
// Every key required; throws std::invalid_argument naming a missing key or a bad value.
AvcaOptions avca_options_from_json(const nlohmann::json& j);

// AVCA-GZSL's EmbeddingNet: fc.0 Linear, fc.1 BatchNorm1d, fc.2 ReLU, fc.3 Dropout, and with a hidden
// width fc.4 Linear, fc.5 BatchNorm1d(momentum), fc.6 ReLU, fc.7 Dropout. Quirk: `momentum` reaches
// only fc.5; fc.1 (and a one-layer net's only BatchNorm) keeps PyTorch's 0.1.
class AvcaEmbeddingNetImpl : public torch::nn::Module {
 public:
  AvcaEmbeddingNetImpl(int64_t in, int64_t hidden, int64_t out, double dropout, double momentum);
  torch::Tensor forward(const torch::Tensor& x);  // [B, in] -> [B, out]
 private:
  torch::nn::Sequential fc_;
};
TORCH_MODULE(AvcaEmbeddingNet);

// vit-pytorch's Attention as AVCA-GZSL copies it: to_qkv Linear(dim, 3 * heads * dim_head, no
// bias), softmax(q k^T / sqrt(dim_head)) v per head, to_out.0 Linear(heads * dim_head, dim) and
// to_out.1 Dropout (project_out, true unless heads == 1 and dim_head == dim).
class AvcaAttentionImpl : public torch::nn::Module {
 public:
  AvcaAttentionImpl(int64_t dim, int64_t heads, int64_t dim_head, double dropout);
  torch::Tensor forward(const torch::Tensor& x);  // [B, n, dim] -> [B, n, dim]
 private:
  int64_t heads_;
  double scale_;
  torch::nn::Linear to_qkv_{nullptr};
  torch::nn::Sequential to_out_{nullptr};  // empty when !project_out (nn.Identity)
};
TORCH_MODULE(AvcaAttention);

// net.0 Linear(dim, hidden), net.1 GELU (exact), net.2 Dropout, net.3 Linear(hidden, dim), net.4 Dropout.
class AvcaFeedForwardImpl : public torch::nn::Module {
 public:
  AvcaFeedForwardImpl(int64_t dim, int64_t hidden, double dropout);
  torch::Tensor forward(const torch::Tensor& x);
 private:
  torch::nn::Sequential net_;
};
TORCH_MODULE(AvcaFeedForward);

// PreNorm: fn(norm(x)) with norm a LayerNorm(dim); names "norm.*" and "fn.*".
template <typename Fn>
class AvcaPreNormImpl : public torch::nn::Module {
 public:
  AvcaPreNormImpl(int64_t dim, Fn fn)
      : norm_(register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})))),
        fn_(register_module("fn", std::move(fn))) {}
  torch::Tensor forward(const torch::Tensor& x) { return fn_->forward(norm_->forward(x)); }
 private:
  torch::nn::LayerNorm norm_;
  Fn fn_;
};

// layers.<i>.0 PreNorm(Attention), layers.<i>.1 PreNorm(FeedForward); x += attn(x); x += ff(x).
class AvcaTransformerImpl : public torch::nn::Module {
 public:
  AvcaTransformerImpl(int64_t dim, int64_t depth, int64_t heads, int64_t dim_head, int64_t mlp_dim, double dropout);
  torch::Tensor forward(torch::Tensor x);  // [B, n, dim] -> [B, n, dim]
 private:
  torch::nn::ModuleList layers_;
  std::vector<std::shared_ptr<AvcaPreNormImpl<AvcaAttention>>> attention_;
  std::vector<std::shared_ptr<AvcaPreNormImpl<AvcaFeedForward>>> feed_forward_;
};
TORCH_MODULE(AvcaTransformer);

// Everything AVCA.forward computes for a batch with negatives (the original keeps them as members).
struct AvcaForward {
  torch::Tensor w;                                  // [B, T] class text of the positives
  torch::Tensor phi_a, phi_v, phi_a_neg, phi_v_neg; // [B, T] encoder outputs
  torch::Tensor theta_w, theta_w_neg;               // [B, 64]
  torch::Tensor rho_w, rho_w_neg;                   // [B, T] D(theta_w)
  torch::Tensor theta_v, theta_v_neg, theta_a, theta_a_neg;  // [B, 64]
  torch::Tensor phi_v_rec, phi_a_rec;               // [B, T]
  torch::Tensor rho_a, rho_a_neg, rho_v, rho_v_neg; // [B, T] D(theta_a), ...
};

// get_embeddings: what evaluation measures.
struct AvcaEmbeddings {
  torch::Tensor theta_a;  // [N, 64]
  torch::Tensor theta_v;  // [N, 64]
  torch::Tensor theta_w;  // [K, 64]
};

class Avca : public Method {
 public:
  // Needs both modalities (dims.visual and dims.audio > 0) and text; throws std::invalid_argument.
  Avca(const MethodDims& dims, const AvcaOptions& options);

  std::string method_name() const override { return "avca"; }
  const MethodDims& dims() const override { return dims_; }
  nlohmann::json options_json() const override;

  // Terms (src/model_improvements.py AVCA.backward): l_rec, l_ct, l_w, then l_t and l_r when on;
  // total = l_rec + l_ct + l_w + l_t + l_r.
  MethodLoss loss(const TrainingBatch& batch) override;
  // src/train.py calls get_embeddings(audio, video, text) after every step, still in train mode:
  // the outputs are thrown away but the BatchNorm running statistics move. Repeated here.
  void after_step(const TrainingBatch& batch) override;
  // ||theta_v(i) - theta_w(c)|| (src/utils.py evaluate_dataset_baseline, "video" mode): [N, K].
  torch::Tensor distances(const torch::Tensor& inputs, const torch::Tensor& class_text) override;
  // theta_v and theta_w (the video-only evaluation space).
  std::optional<JointEmbeddings> joint_embeddings(const torch::Tensor& inputs, const torch::Tensor& class_text) override;
  // optimizer_gen's tensors: A_proj, V_proj, A_rec, V_rec, V_enc, A_enc, cross_attention, D, W_proj.
  // Quirk: pos_emb1D is a parameter but not in the list, so it keeps its random initial value.
  std::vector<torch::Tensor> trainable_parameters() override;

  // AVCA.forward on a batch: x = [v | a] split into the original's (audio, video) pair.
  AvcaForward forward_pass(const TrainingBatch& batch);
  // AVCA.backward's terms for a forward pass.
  MethodLoss avca_losses(const AvcaForward& f) const;
  // AVCA.get_embeddings for videos x [N, visual + audio] and class texts [K, T].
  AvcaEmbeddings embeddings(const torch::Tensor& x, const torch::Tensor& class_text);

  const AvcaOptions& options() const { return options_; }

  AvcaEmbeddingNet A_enc{nullptr}, V_enc{nullptr};
  AvcaTransformer cross_attention{nullptr};
  AvcaEmbeddingNet W_proj{nullptr}, D{nullptr}, A_proj{nullptr}, V_proj{nullptr}, A_rec{nullptr}, V_rec{nullptr};
  torch::Tensor pos_emb1D;  // [2, T]

 protected:
  // (audio [B, audio], video [B, visual]) of x [B, visual + audio]; checks the width.
  std::pair<torch::Tensor, torch::Tensor> split_inputs(const torch::Tensor& x, const char* what) const;
  void check_text(const torch::Tensor& t, const char* what) const;
  // [B, 2, T] input of the attention: (phi_a + pos_emb1D[0], phi_v + pos_emb1D[1]).
  torch::Tensor attention_input(const torch::Tensor& phi_a, const torch::Tensor& phi_v) const;

 private:
  MethodDims dims_;
  AvcaOptions options_;
};

// The per-dataset settings of run_scripts/<dataset>-GZSL/avca.sh (cls_features lines); family
// "ucf", "activitynet" or "vggsound", anything else throws std::invalid_argument.
MethodDefaults avca_defaults(const std::string& family);

// The registry entry: name "avca", both modalities, full class text t; defaults from
// run_scripts/{UCF,ActivityNet,VGGSound}-GZSL/avca.sh (the cls_features lines).
MethodSpec avca_spec();

}  // namespace avgzsl::gzsl
