// The building blocks that CJME and AVGZSLNet share in AVCA-GZSL (src/model.py): the per-modality
// projection `EmbeddingNet` / `EmbeddingNetCJME` and `TripletNet`, which runs one projection per
// modality over a positive (p) and a negative (q) triplet of audio, video and class text.
//
// A projection registers its layers in an `fc` nn.Sequential, so that the names equal PyTorch's:
//
//   hidden_size > 0, use_bn:   fc.0 Linear(in, hidden)  fc.1 BatchNorm1d(hidden)  fc.2 ReLU
//                              fc.3 Dropout             fc.4 Linear(hidden, out)  [fc.5 ReLU]
//   hidden_size > 0, no bn:    fc.0 Linear(in, hidden)  fc.1 ReLU  fc.2 Dropout  fc.3 Linear(hidden, out)
//                              [fc.4 ReLU]
//   hidden_size == 0:          fc.0 Linear(in, out)
//
// The trailing ReLU in brackets is EmbeddingNetCJME's; AVGZSLNet's EmbeddingNet ends in the Linear.
// TripletNet names its projections embedding_net1 (audio), embedding_net2 (video) and
// embedding_net3 (text), e.g. "triplet_net.embedding_net1.fc.0.weight" [hidden, audio].
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>

#include "avgzsl/gzsl/method.h"

namespace avgzsl::gzsl {

struct ProjectionNetOptions {
  int64_t input_size = 0;
  int64_t output_size = 0;
  int64_t hidden_size = 0;   // 0: a single Linear (the original's `if hidden_size:` is false)
  double dropout = 0;        // after the hidden ReLU
  bool use_bn = true;        // BatchNorm1d after the hidden Linear (--embedding_use_bn / --decoder_use_bn)
  bool relu_output = false;  // EmbeddingNetCJME: a ReLU after the output Linear (two-layer form only)
};

class ProjectionNetImpl : public torch::nn::Module {
 public:
  explicit ProjectionNetImpl(const ProjectionNetOptions& options);
  // x: [B, input_size] -> [B, output_size].
  torch::Tensor forward(const torch::Tensor& x);
  const ProjectionNetOptions& options() const { return options_; }

 private:
  ProjectionNetOptions options_;
  torch::nn::Sequential fc_;
};
TORCH_MODULE(ProjectionNet);

// What TripletNet.forward returns, in the original's order.
struct TripletEmbeddings {
  torch::Tensor a_p, v_p, t_p;  // [B, out] positive audio, video, class text
  torch::Tensor a_q, v_q, t_q;  // [B, out] negative audio, video, class text
};

class TripletNetImpl : public torch::nn::Module {
 public:
  TripletNetImpl(ProjectionNet audio, ProjectionNet video, ProjectionNet text);
  // Six separate passes in the original's order (a_p, v_p, t_p, a_q, v_q, t_q): in training mode
  // each BatchNorm sees the positives and the negatives as two batches and updates its running
  // statistics twice.
  TripletEmbeddings forward(const torch::Tensor& x_a_p, const torch::Tensor& x_v_p, const torch::Tensor& x_t_p,
                            const torch::Tensor& x_a_q, const torch::Tensor& x_v_q, const torch::Tensor& x_t_q);
  // embedding_net3 alone: class texts [K, text] -> [K, out].
  torch::Tensor get_classes_embedding(const torch::Tensor& x_t);

  ProjectionNet embedding_net1{nullptr};  // audio
  ProjectionNet embedding_net2{nullptr};  // video
  ProjectionNet embedding_net3{nullptr};  // class text
};
TORCH_MODULE(TripletNet);

// Both originals' TripletNet (`_triplet_net`): audio [dims.audio] and video [dims.visual] through
// `hidden_size` to `output_size`, text [dims.text] through a hidden layer as wide as the text (the
// original's 300 -> 300 -> 64 for word2vec). Built in the original's order f_a, f_v, f_t.
TripletNet make_triplet_net(const MethodDims& dims, int64_t hidden_size, int64_t output_size, double dropout,
                            bool use_bn, bool relu_output);

// The two halves of protocol inputs x = [v | a]: visual [N, dims.visual], audio [N, dims.audio].
// Throws std::invalid_argument when x is not [N, dims.input()]; `what` names the tensor.
struct VideoHalves {
  torch::Tensor visual;
  torch::Tensor audio;
};
VideoHalves split_video_inputs(const torch::Tensor& x, const MethodDims& dims, const std::string& what);
// Throws std::invalid_argument when t is not [N, dims.text].
void check_class_text(const torch::Tensor& t, const MethodDims& dims, const std::string& what);
// Throws std::invalid_argument unless dims has both modalities and text (`method` names the caller).
void require_visual_audio_text(const MethodDims& dims, const std::string& method);

}  // namespace avgzsl::gzsl
