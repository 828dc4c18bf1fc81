// The building block of the ClipClap model (METHOD §3), registered so that parameter names
// equal the reference's `EmbeddingNet` (src/clipclap_model.py):
//
//   one layer  (hidden_dim == 0): fc.0 Linear(in, out)  fc.1 BatchNorm1d(out)  fc.2 ReLU  fc.3 Dropout
//   two layers (hidden_dim  > 0): fc.0 Linear(in, hidden) fc.1 BatchNorm1d(hidden) fc.2 ReLU fc.3 Dropout
//                                 fc.4 Linear(hidden, out) fc.5 BatchNorm1d(out)   fc.6 ReLU fc.7 Dropout
//
// so that e.g. "fc.0.weight" [out, in] and "fc.1.running_mean" [out] map one to one onto a
// PyTorch state_dict.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>

namespace avgzsl::nn {

struct EmbeddingNetOptions {
  EmbeddingNetOptions(int64_t in_features, int64_t out_features)
      : in_features_(in_features), out_features_(out_features) {}
  TORCH_ARG(int64_t, in_features);
  TORCH_ARG(int64_t, out_features);
  // Width of the middle layer; 0 builds a single Linear-BatchNorm-ReLU-Dropout block.
  TORCH_ARG(int64_t, hidden_features) = 0;
  // Dropout probability after every ReLU.
  TORCH_ARG(double, dropout) = 0.1;
};

class EmbeddingNetImpl : public torch::nn::Module {
 public:
  explicit EmbeddingNetImpl(EmbeddingNetOptions options);
  // x: [B, in_features] -> [B, out_features], non-negative (ends in ReLU, dropout).
  torch::Tensor forward(const torch::Tensor& x);
  // forward(x) == after_first_linear(first_linear(x)): fc.0 alone, then fc.1 onwards. Lets a
  // caller run the first (and largest) product once for rows that repeat.
  torch::Tensor first_linear(const torch::Tensor& x);
  torch::Tensor after_first_linear(const torch::Tensor& h);
  const EmbeddingNetOptions& options() const { return options_; }

 private:
  EmbeddingNetOptions options_;
  torch::nn::Sequential fc_;
};
TORCH_MODULE(EmbeddingNet);

}  // namespace avgzsl::nn
