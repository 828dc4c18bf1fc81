#include "avgzsl/io/safetensors.h"
#include "avgzsl/util/input_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "avgzsl/io/atomic_file.h"

namespace avgzsl::io {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// A header larger than this is not a tensor file (the Rust reference caps it at 100 MB).
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

struct DtypeInfo {
  const char* name;
  torch::ScalarType type;
  size_t bytes;
};

constexpr DtypeInfo kDtypes[] = {
    {"F64", torch::kFloat64, 8}, {"F32", torch::kFloat32, 4}, {"F16", torch::kFloat16, 2},
    {"BF16", torch::kBFloat16, 2}, {"I64", torch::kInt64, 8}, {"I32", torch::kInt32, 4},
    {"I16", torch::kInt16, 2},     {"I8", torch::kInt8, 1},     {"U8", torch::kUInt8, 1},
    {"BOOL", torch::kBool, 1},
};

const DtypeInfo* find_dtype(const std::string& name) {
  for (const auto& d : kDtypes) {
    if (name == d.name) return &d;
  }
  return nullptr;
}

[[noreturn]] void fail(const fs::path& path, const std::string& what) {
  throw std::runtime_error(path.string() + ": " + what);
}

}  // namespace

torch::ScalarType safetensors_dtype_to_torch(const std::string& dtype) {
  if (const auto* d = find_dtype(dtype)) return d->type;
  throw std::invalid_argument("unsupported safetensors dtype '" + dtype + "'");
}

std::string torch_dtype_to_safetensors(torch::ScalarType dtype) {
  for (const auto& d : kDtypes) {
    if (d.type == dtype) return d.name;
  }
  throw std::invalid_argument(std::string("cannot store dtype ") + c10::toString(dtype) + " in safetensors");
}

SafetensorsFile::SafetensorsFile(const fs::path& path) : path_(path) {
  util::require_regular_file(path);
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) fail(path, std::string("cannot open (") + std::strerror(errno) + ")");
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(path, "not a regular file");
  }
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  if (file_size < 8) {
    ::close(fd);
    fail(path, "too short for a safetensors file (" + std::to_string(file_size) + " bytes)");
  }
  void* map = ::mmap(nullptr, file_size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) fail(path, std::string("cannot map (") + std::strerror(errno) + ")");
  mapping_ = map;
  mapping_size_ = file_size;
  const auto* bytes = static_cast<const uint8_t*>(map);

  try {
    uint64_t header_size = 0;
    for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | bytes[i];  // little-endian
    if (header_size > kMaxHeaderBytes || header_size > file_size - 8) {
      fail(path, "corrupt header length " + std::to_string(header_size) + " for a file of " +
                     std::to_string(file_size) + " bytes");
    }
    json header;
    try {
      header = json::parse(bytes + 8, bytes + 8 + header_size);
    } catch (const json::exception& e) {
      fail(path, std::string("header is not valid JSON (") + e.what() + ")");
    }
    if (!header.is_object()) fail(path, "header is not a JSON object");
    data_ = bytes + 8 + header_size;
    const uint64_t buffer_size = file_size - 8 - header_size;

    std::vector<std::pair<uint64_t, uint64_t>> ranges;
    for (const auto& [name, value] : header.items()) {
      if (name == "__metadata__") {
        if (!value.is_object()) fail(path, "__metadata__ is not an object");
        for (const auto& [k, v] : value.items()) {
          if (!v.is_string()) fail(path, "__metadata__ value of '" + k + "' is not a string");
          metadata_[k] = v.get<std::string>();
        }
        continue;
      }
      const std::string where = "tensor '" + name + "'";
      if (!value.is_object() || !value.contains("dtype") || !value.contains("shape") ||
          !value.contains("data_offsets")) {
        fail(path, where + " lacks dtype, shape or data_offsets");
      }
      SafetensorsEntry entry;
      entry.name = name;
      if (!value["dtype"].is_string()) fail(path, where + ": dtype is not a string");
      entry.dtype = value["dtype"].get<std::string>();
      const DtypeInfo* info = find_dtype(entry.dtype);
      if (info == nullptr) fail(path, where + ": unsupported dtype '" + entry.dtype + "'");
      const auto& shape = value["shape"];
      if (!shape.is_array()) fail(path, where + ": shape is not a list");
      uint64_t numel = 1;
      for (const auto& dim : shape) {
        if (!dim.is_number_unsigned()) fail(path, where + ": shape holds a non-integer or negative size");
        const uint64_t d = dim.get<uint64_t>();
        // A size LibTorch cannot hold (int64) is refused even where another size is 0.
        if (d > uint64_t(std::numeric_limits<int64_t>::max()) ||
            (d != 0 && numel > std::numeric_limits<uint64_t>::max() / d / info->bytes)) {
          fail(path, where + ": shape is too large");
        }
        numel *= d;
        entry.shape.push_back(static_cast<int64_t>(d));
      }
      const auto& offsets = value["data_offsets"];
      if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
          !offsets[1].is_number_unsigned()) {
        fail(path, where + ": data_offsets must be two non-negative integers");
      }
      entry.begin = offsets[0].get<uint64_t>();
      entry.end = offsets[1].get<uint64_t>();
      if (entry.begin > entry.end || entry.end > buffer_size) {
        fail(path, where + ": data_offsets [" + std::to_string(entry.begin) + ", " +
                       std::to_string(entry.end) + "] fall outside the " + std::to_string(buffer_size) +
                       "-byte data buffer (truncated file?)");
      }
      if (entry.end - entry.begin != numel * info->bytes) {
        fail(path, where + ": holds " + std::to_string(entry.end - entry.begin) + " bytes but shape and dtype need " +
                       std::to_string(numel * info->bytes));
      }
      if (entry.begin != entry.end) ranges.emplace_back(entry.begin, entry.end);
      entries_.emplace(name, std::move(entry));
    }
    std::sort(ranges.begin(), ranges.end());
    for (size_t i = 1; i < ranges.size(); ++i) {
      if (ranges[i].first < ranges[i - 1].second) fail(path, "tensors overlap in the data buffer");
    }
  } catch (...) {
    ::munmap(mapping_, mapping_size_);
    mapping_ = nullptr;
    throw;
  }
}

SafetensorsFile::~SafetensorsFile() {
  if (mapping_ != nullptr) ::munmap(mapping_, mapping_size_);
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<const SafetensorsEntry*> sorted;
  for (const auto& [name, e] : entries_) sorted.push_back(&e);
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto* a, const auto* b) { return a->begin < b->begin; });
  std::vector<std::string> out;
  for (const auto* e : sorted) out.push_back(e->name);
  return out;
}

const SafetensorsEntry& SafetensorsFile::entry(const std::string& name) const {
  const auto it = entries_.find(name);
  if (it == entries_.end()) fail(path_, "has no tensor named '" + name + "'");
  return it->second;
}

std::string_view SafetensorsFile::bytes(const std::string& name) const {
  const SafetensorsEntry& e = entry(name);
  return {reinterpret_cast<const char*>(data_ + e.begin), static_cast<size_t>(e.end - e.begin)};
}

torch::Tensor SafetensorsFile::tensor(const std::string& name) const {
  const SafetensorsEntry& e = entry(name);
  const auto type = safetensors_dtype_to_torch(e.dtype);
  torch::Tensor out = torch::empty(e.shape, torch::TensorOptions().dtype(type));
  const std::string_view data = bytes(name);
  if (!data.empty()) std::memcpy(out.data_ptr(), data.data(), data.size());
  return out;
}

torch::Tensor SafetensorsFile::tensor(const std::string& name, torch::ScalarType dtype) const {
  torch::Tensor t = tensor(name);
  if (t.scalar_type() == dtype) return t;
  const bool from_float = at::isFloatingType(t.scalar_type());
  const bool to_float = at::isFloatingType(dtype);
  if (from_float != to_float) {
    fail(path_, "tensor '" + name + "' has dtype " + entry(name).dtype + ", expected " +
                    torch_dtype_to_safetensors(dtype));
  }
  return t.to(dtype);
}

void save_safetensors(const fs::path& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<torch::Tensor> contiguous;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (name == "__metadata__" || header.contains(name)) {
      throw std::invalid_argument(path.string() + ": duplicate or reserved tensor name '" + name + "'");
    }
    torch::Tensor c = t.detach().to(torch::kCPU).contiguous();
    const uint64_t nbytes = static_cast<uint64_t>(c.numel()) * c.element_size();
    header[name] = {{"dtype", torch_dtype_to_safetensors(c.scalar_type())},
                    {"shape", c.sizes().vec()},
                    {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
    contiguous.push_back(std::move(c));
  }
  std::string header_text = header.dump();
  header_text.append((8 - header_text.size() % 8) % 8, ' ');  // keeps the buffer 8-byte aligned
  write_file_atomically(path, [&](std::ostream& out) {
    uint64_t n = header_text.size();
    char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<char>((n >> (8 * i)) & 0xff);
    out.write(len, 8);
    out.write(header_text.data(), static_cast<std::streamsize>(header_text.size()));
    for (const auto& c : contiguous) {
      out.write(static_cast<const char*>(c.data_ptr()), static_cast<std::streamsize>(c.numel() * c.element_size()));
    }
  });
}

}  // namespace avgzsl::io
