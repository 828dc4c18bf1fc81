// Reads what `torch.save` writes (the zip format of PyTorch >= 1.6): data.pkl, parsed by our
// allow-listed unpickler (python_pickle.h) with torch's tensor globals, and the tensor storages
// under data/, read through LibTorch's own zip reader. LibTorch's pickle_load is not used: it
// stops on ordinary optimizer state_dicts (None values in param_groups).
#pragma once

#include <torch/types.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "avgzsl/io/python_pickle.h"

namespace avgzsl::io {

class TorchArchive {
 public:
  // Throws std::runtime_error naming the file when it is missing, not a zip archive of
  // torch.save, or its data.pkl is corrupt.
  explicit TorchArchive(const std::filesystem::path& path);

  const PickleDocument& document() const { return *document_; }
  // The tensor a kTensor value describes (a copy, contiguous, on the CPU). Checks the storage's
  // size against the tensor's size, strides and offset.
  torch::Tensor tensor(PyIndex index) const;
  // Every (name, tensor) of a dict of tensors such as a state_dict, in file order.
  std::vector<std::pair<std::string, torch::Tensor>> tensor_dict(PyIndex dict, const std::string& what) const;

 private:
  std::string source_;
  std::string pickle_bytes_;
  std::unique_ptr<PickleDocument> document_;
  std::map<std::string, std::string> storages_;  // key -> raw bytes
};

}  // namespace avgzsl::io
