#include "avgzsl/nn/embedding_net.h"

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include "avgzsl/nn/dropout.h"
#include <torch/nn/modules/linear.h>

namespace avgzsl::nn {

namespace {

void append_block(torch::nn::Sequential& seq, int64_t in, int64_t out, double dropout) {
  seq->push_back(torch::nn::Linear(in, out));
  seq->push_back(torch::nn::BatchNorm1d(out));
  seq->push_back(torch::nn::ReLU());
  seq->push_back(nn::Dropout(dropout));
}

}  // namespace

EmbeddingNetImpl::EmbeddingNetImpl(EmbeddingNetOptions options) : options_(options) {
  TORCH_CHECK(options_.in_features() > 0 && options_.out_features() > 0 && options_.hidden_features() >= 0,
              "Expected positive EmbeddingNet sizes, but got in=", options_.in_features(),
              " hidden=", options_.hidden_features(), " out=", options_.out_features());
  if (options_.hidden_features() > 0) {
    append_block(fc_, options_.in_features(), options_.hidden_features(), options_.dropout());
    append_block(fc_, options_.hidden_features(), options_.out_features(), options_.dropout());
  } else {
    append_block(fc_, options_.in_features(), options_.out_features(), options_.dropout());
  }
  register_module("fc", fc_);
}

torch::Tensor EmbeddingNetImpl::forward(const torch::Tensor& x) { return fc_->forward(x); }

torch::Tensor EmbeddingNetImpl::first_linear(const torch::Tensor& x) { return fc_->begin()->forward(x); }

torch::Tensor EmbeddingNetImpl::after_first_linear(const torch::Tensor& h) {
  torch::Tensor y = h;
  for (auto module = fc_->begin() + 1; module != fc_->end(); ++module) y = module->forward(y);
  return y;
}

}  // namespace avgzsl::nn
