// Weights of a pretrained encoder as users download them, loaded strictly into a module.
//
// Sources: a safetensors file (Hugging Face's `model.safetensors`) or a `torch.save` archive
// (`pytorch_model.bin`, released checkpoints). Every parameter and buffer of the module must be
// present with its shape; float32, float16 and bfloat16 on disk are converted to float32; a
// tensor the module does not have is an error unless it matches one of the `ignorable` suffixes
// (stale buffers such as `position_ids`). Every error is one line naming the file and the tensor.
#pragma once

#include <torch/nn/module.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace avgzsl::encoders {

class PretrainedWeights {
 public:
  // Reads the names, dtypes and shapes of `path` (`.safetensors` memory-mapped; anything else is
  // read as a torch.save archive, whose state_dict may sit under "state_dict" or "model").
  explicit PretrainedWeights(const std::filesystem::path& path);
  ~PretrainedWeights();
  PretrainedWeights(PretrainedWeights&&) noexcept;
  PretrainedWeights& operator=(PretrainedWeights&&) noexcept;

  const std::filesystem::path& path() const;
  std::vector<std::string> names() const;
  bool contains(const std::string& name) const;
  // The tensor as float32 (floating dtypes only; the error names the tensor otherwise).
  torch::Tensor float_tensor(const std::string& name) const;

  // The tensor's shape as stored (any dtype), without converting it.
  std::vector<int64_t> shape(const std::string& name) const;

  // Copies `prefix + name` for every parameter and buffer `name` of `module`.
  void load_into(torch::nn::Module& module, const std::string& prefix = "",
                 const std::vector<std::string>& ignorable_suffixes = {}) const;

  // Where one module tensor comes from in the file: the tensor `name` whole (parts == 1), or the
  // `part`-th of `parts` equal slices of it along dim 0 (a fused `qkv` split into query, key and
  // value).
  struct Source {
    std::string name;
    int64_t part = 0;
    int64_t parts = 1;
  };
  // A module tensor's source, or nullopt for a tensor the module computes itself (index tables,
  // masks, counters), which is not read.
  using SourceOf = std::function<std::optional<Source>(const std::string& module_tensor)>;
  // Whether a file tensor that no module tensor reads may be there (another tower's weights,
  // buffers the module recomputes).
  using IsIgnorable = std::function<bool(const std::string& file_tensor)>;

  // load_into through a renaming, with the same strictness: every module tensor with a source
  // must be in the file with the module's shape (after slicing); every file tensor that is not
  // read must be ignorable. Errors are one line naming the file and the tensor.
  void load_mapped(torch::nn::Module& module, const SourceOf& source_of, const IsIgnorable& is_ignorable) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace avgzsl::encoders
