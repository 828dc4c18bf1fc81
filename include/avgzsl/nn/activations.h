// Activation functions by their Hugging Face names (transformers' ACT2FN), as model configs
// give them: "gelu" (the exact erf form), "gelu_new" / "gelu_pytorch_tanh" (tanh approximation),
// "relu", "silu" / "swish", "tanh".
#pragma once

#include <torch/types.h>

#include <string>

namespace avgzsl::nn {

bool is_supported_activation(const std::string& name);
// Throws std::invalid_argument naming the activation and the supported ones.
torch::Tensor apply_activation(const std::string& name, const torch::Tensor& x);

}  // namespace avgzsl::nn
