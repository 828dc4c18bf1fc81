#include "avgzsl/gzsl/triplet_net.h"

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include "avgzsl/nn/dropout.h"
#include <torch/nn/modules/linear.h>

#include <stdexcept>

namespace avgzsl::gzsl {

ProjectionNetImpl::ProjectionNetImpl(const ProjectionNetOptions& o) : options_(o) {
  TORCH_CHECK(o.input_size > 0 && o.output_size > 0 && o.hidden_size >= 0,
              "Expected positive projection sizes, but got input=", o.input_size, " hidden=", o.hidden_size,
              " output=", o.output_size);
  if (o.hidden_size > 0) {
    fc_->push_back(torch::nn::Linear(o.input_size, o.hidden_size));
    if (o.use_bn) fc_->push_back(torch::nn::BatchNorm1d(o.hidden_size));  // PyTorch defaults: eps 1e-5, momentum 0.1
    fc_->push_back(torch::nn::ReLU());
    fc_->push_back(nn::Dropout(o.dropout));
    fc_->push_back(torch::nn::Linear(o.hidden_size, o.output_size));
    if (o.relu_output) fc_->push_back(torch::nn::ReLU());
  } else {
    // The original's single-layer form has neither BatchNorm nor ReLU, whatever the flags say.
    fc_->push_back(torch::nn::Linear(o.input_size, o.output_size));
  }
  register_module("fc", fc_);
}

torch::Tensor ProjectionNetImpl::forward(const torch::Tensor& x) { return fc_->forward(x); }

TripletNetImpl::TripletNetImpl(ProjectionNet audio, ProjectionNet video, ProjectionNet text) {
  embedding_net1 = register_module("embedding_net1", std::move(audio));
  embedding_net2 = register_module("embedding_net2", std::move(video));
  embedding_net3 = register_module("embedding_net3", std::move(text));
}

TripletEmbeddings TripletNetImpl::forward(const torch::Tensor& x_a_p, const torch::Tensor& x_v_p,
                                          const torch::Tensor& x_t_p, const torch::Tensor& x_a_q,
                                          const torch::Tensor& x_v_q, const torch::Tensor& x_t_q) {
  TripletEmbeddings e;
  // Sequenced statements: the order of the BatchNorm updates is the original's.
  e.a_p = embedding_net1->forward(x_a_p);
  e.v_p = embedding_net2->forward(x_v_p);
  e.t_p = embedding_net3->forward(x_t_p);
  e.a_q = embedding_net1->forward(x_a_q);
  e.v_q = embedding_net2->forward(x_v_q);
  e.t_q = embedding_net3->forward(x_t_q);
  return e;
}

torch::Tensor TripletNetImpl::get_classes_embedding(const torch::Tensor& x_t) { return embedding_net3->forward(x_t); }

TripletNet make_triplet_net(const MethodDims& dims, int64_t hidden_size, int64_t output_size, double dropout,
                            bool use_bn, bool relu_output) {
  const auto projection = [&](int64_t in, int64_t hidden) {
    return ProjectionNet(ProjectionNetOptions{in, output_size, hidden, dropout, use_bn, relu_output});
  };
  // Separate statements keep the original's construction (= initialisation) order f_a, f_v, f_t.
  ProjectionNet f_a = projection(dims.audio, hidden_size);
  ProjectionNet f_v = projection(dims.visual, hidden_size);
  // The original's text net is EmbeddingNet(300, hidden 300, 64): word2vec width in and hidden.
  ProjectionNet f_t = projection(dims.text, dims.text);
  return TripletNet(f_a, f_v, f_t);
}

VideoHalves split_video_inputs(const torch::Tensor& x, const MethodDims& dims, const std::string& what) {
  if (!x.defined() || x.dim() != 2 || x.size(1) != dims.input()) {
    throw std::invalid_argument("Expected " + what + " [N, " + std::to_string(dims.input()) + "] (visual " +
                                std::to_string(dims.visual) + " + audio " + std::to_string(dims.audio) +
                                "), but got " + (x.defined() ? c10::str(x.sizes()) : std::string("no tensor")));
  }
  return {x.narrow(1, 0, dims.visual), x.narrow(1, dims.visual, dims.audio)};
}

void check_class_text(const torch::Tensor& t, const MethodDims& dims, const std::string& what) {
  if (!t.defined() || t.dim() != 2 || t.size(1) != dims.text) {
    throw std::invalid_argument("Expected " + what + " [N, " + std::to_string(dims.text) + "], but got " +
                                (t.defined() ? c10::str(t.sizes()) : std::string("no tensor")));
  }
}

void require_visual_audio_text(const MethodDims& dims, const std::string& method) {
  if (dims.visual <= 0 || dims.audio <= 0 || dims.text <= 0) {
    throw std::invalid_argument(method + " needs visual and audio features and class text (one branch per modality), but got visual " +
                                std::to_string(dims.visual) + ", audio " + std::to_string(dims.audio) + ", text " +
                                std::to_string(dims.text));
  }
}

}  // namespace avgzsl::gzsl
