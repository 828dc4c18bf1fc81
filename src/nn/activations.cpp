#include "avgzsl/nn/activations.h"

#include <torch/torch.h>

#include <stdexcept>

namespace avgzsl::nn {

bool is_supported_activation(const std::string& name) {
  return name == "gelu" || name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "relu" || name == "silu" ||
         name == "swish" || name == "tanh";
}

torch::Tensor apply_activation(const std::string& name, const torch::Tensor& x) {
  if (name == "gelu") return torch::gelu(x);
  if (name == "gelu_new" || name == "gelu_pytorch_tanh") return torch::gelu(x, "tanh");
  if (name == "relu") return torch::relu(x);
  if (name == "silu" || name == "swish") return torch::silu(x);
  if (name == "tanh") return torch::tanh(x);
  throw std::invalid_argument("unsupported activation '" + name +
                              "' (supported: gelu, gelu_new, gelu_pytorch_tanh, relu, silu, swish, tanh)");
}

}  // namespace avgzsl::nn
