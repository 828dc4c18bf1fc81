#pragma once

#include <torch/nn/module.h>

namespace avgzsl::nn {

// Number of trainable parameters of a module, as published model sizes count them (buffers such
// as BatchNorm statistics are not counted).
inline int64_t parameter_count(const torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters()) n += p.numel();
  return n;
}

}  // namespace avgzsl::nn
