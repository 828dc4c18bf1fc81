// Reading and writing the safetensors format (Hugging Face).
//
// Hand-written: Debian packages no C++ safetensors library. The format is small:
//   [u64 little-endian N][N bytes of JSON header][byte buffer]
// where the header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]}
// (offsets relative to the byte buffer) plus an optional "__metadata__" string map.
// The reader memory-maps the file and validates every header entry (dtype known, shape
// product matches the byte range, ranges inside the buffer and non-overlapping) before any
// tensor is touched, so a corrupt file gives an error naming the file and the tensor.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace avgzsl::io {

struct SafetensorsEntry {
  std::string name;
  std::string dtype;            // as in the header: "F32", "F16", "BF16", "I64", ...
  std::vector<int64_t> shape;
  uint64_t begin = 0;           // byte offset into the data buffer
  uint64_t end = 0;
};

class SafetensorsFile {
 public:
  // Maps and validates `path`; throws std::runtime_error("<path>: <problem>") on any defect.
  explicit SafetensorsFile(const std::filesystem::path& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::filesystem::path& path() const { return path_; }
  bool contains(const std::string& name) const { return entries_.count(name) != 0; }
  // Tensor names in header order of their data offsets.
  std::vector<std::string> names() const;
  const SafetensorsEntry& entry(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // The tensor's bytes in place, in its on-disk dtype and layout (row-major, little-endian),
  // without a copy: valid while this object lives. For streaming rows into a larger tensor.
  std::string_view bytes(const std::string& name) const;
  // A copy of the tensor in its on-disk dtype (owned memory; the file may be closed after).
  torch::Tensor tensor(const std::string& name) const;
  // A copy converted to `dtype`; refuses conversions that change the kind (float <-> integer)
  // with an error naming the tensor.
  torch::Tensor tensor(const std::string& name, torch::ScalarType dtype) const;

 private:
  std::filesystem::path path_;
  const uint8_t* data_ = nullptr;   // start of the byte buffer inside the mapping
  void* mapping_ = nullptr;
  size_t mapping_size_ = 0;
  std::map<std::string, SafetensorsEntry> entries_;
  std::map<std::string, std::string> metadata_;
};

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// Writes tensors (any CPU/CUDA tensor of a supported dtype; made contiguous) atomically.
// Names must be unique; throws std::invalid_argument otherwise.
void save_safetensors(const std::filesystem::path& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// "F32" <-> torch::kFloat32 and so on; throw std::invalid_argument for unsupported types.
torch::ScalarType safetensors_dtype_to_torch(const std::string& dtype);
std::string torch_dtype_to_safetensors(torch::ScalarType dtype);

}  // namespace avgzsl::io
