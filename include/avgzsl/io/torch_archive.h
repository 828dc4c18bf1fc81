// Reads what `torch.save` writes, in both formats (torch_save_format.h): the zip archive of
// PyTorch >= 1.6 (data.pkl, and the storages under data/ read through LibTorch's own zip reader)
// and the legacy format. The pickle goes through our allow-listed unpickler (python_pickle.h)
// with torch's tensor globals; objects of other classes (in optimizer states, configs, scalers)
// become inert placeholders that are an error only when read. LibTorch's pickle_load is not
// used: it stops on ordinary optimizer state_dicts (None values in param_groups) and cannot
// read the legacy format.
#pragma once

#include <torch/types.h>

#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "avgzsl/io/python_pickle.h"
#include "avgzsl/io/torch_save_format.h"

namespace avgzsl::io {

class TorchArchive {
 public:
  // Throws std::runtime_error naming the file when it is missing, not written by torch.save,
  // or corrupt.
  explicit TorchArchive(const std::filesystem::path& path);

  const PickleDocument& document() const { return *document_; }
  TorchSaveFormat format() const { return format_; }
  const std::string& source() const { return source_; }
  // The tensor a kTensor value describes (a copy, contiguous, on the CPU). Checks the storage's
  // size against the tensor's size, strides and offset.
  torch::Tensor tensor(PyIndex index) const;
  // Every (name, tensor) of a dict of tensors such as a state_dict, in file order. A value that
  // is no tensor is an error naming `what` and the key.
  std::vector<std::pair<std::string, torch::Tensor>> tensor_dict(PyIndex dict, const std::string& what) const;

  // The state_dict of a checkpoint: the root dict itself, or the dict under the first of
  // `wrapper_keys` that holds one (e.g. "model", "state_dict"); with DataParallel's "module."
  // prefixes removed. `wrapper` is set to the key used ("" for the root).
  std::vector<std::pair<std::string, torch::Tensor>> state_dict(const std::vector<std::string>& wrapper_keys,
                                                                std::string* wrapper = nullptr) const;

 private:
  std::string source_;
  TorchSaveFormat format_ = TorchSaveFormat::kUnknown;
  std::deque<std::string> buffers_;  // the file (legacy) or its records (zip); views point here
  std::unique_ptr<PickleDocument> document_;
  std::map<std::string, std::string_view> storages_;  // key -> raw bytes
};

}  // namespace avgzsl::io
