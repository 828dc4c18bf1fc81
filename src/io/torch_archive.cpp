#include "avgzsl/io/torch_archive.h"

#include <caffe2/serialize/inline_container.h>

#include <cstring>
#include <fstream>
#include <stdexcept>

namespace avgzsl::io {

namespace {

torch::Dtype storage_dtype(const std::string& descr, const std::string& source) {
  if (descr == "<f4") return torch::kFloat32;
  if (descr == "<f8") return torch::kFloat64;
  if (descr == "<f2") return torch::kFloat16;
  if (descr == "<bf16") return torch::kBFloat16;
  if (descr == "<i8") return torch::kInt64;
  if (descr == "<i4") return torch::kInt32;
  if (descr == "<i2") return torch::kInt16;
  if (descr == "|i1") return torch::kInt8;
  if (descr == "|u1") return torch::kUInt8;
  if (descr == "|b1") return torch::kBool;
  throw std::runtime_error(source + ": unsupported storage type " + descr);
}

}  // namespace

TorchArchive::TorchArchive(const std::filesystem::path& path) : source_(path.string()) {
  if (!std::filesystem::is_regular_file(path)) throw std::runtime_error(source_ + ": file not found");
  std::ifstream in(path, std::ios::binary);
  char head[2] = {0, 0};
  in.read(head, 2);
  if (head[0] != 'P' || head[1] != 'K') {
    throw std::runtime_error(source_ + ": not a torch.save zip archive (legacy torch.save files from PyTorch < 1.6 are not supported)");
  }
  try {
    caffe2::serialize::PyTorchStreamReader reader(source_);
    const auto record = [&](const std::string& name) {
      auto [data, size] = reader.getRecord(name);
      return std::string(static_cast<const char*>(data.get()), size);
    };
    if (!reader.hasRecord("data.pkl")) throw std::runtime_error(source_ + ": archive has no data.pkl");
    pickle_bytes_ = record("data.pkl");
    PickleOptions options;
    options.torch_archive = true;
    document_ = std::make_unique<PickleDocument>(parse_pickle(pickle_bytes_, source_ + " (data.pkl)", options));
    for (size_t i = 0; i < document_->size(); ++i) {
      const PyValue& v = document_->at(static_cast<PyIndex>(i));
      if (v.kind != PyKind::kStorage || storages_.count(std::string(v.text))) continue;
      const std::string key(v.text);
      if (!reader.hasRecord("data/" + key)) throw std::runtime_error(source_ + ": storage data/" + key + " is missing");
      storages_[key] = record("data/" + key);
    }
  } catch (const c10::Error& e) {
    throw std::runtime_error(source_ + ": unreadable torch archive (" + e.msg().substr(0, e.msg().find('\n')) + ")");
  }
}

torch::Tensor TorchArchive::tensor(PyIndex index) const {
  const PickleDocument& doc = *document_;
  const PyValue& t = doc.expect(index, PyKind::kTensor, "a tensor");
  const PyValue& storage = doc.at(t.items.at(0));
  const torch::Dtype dtype = storage_dtype(storage.dtype, source_);
  const std::string& bytes = storages_.at(std::string(storage.text));
  const int64_t item = static_cast<int64_t>(torch::elementSize(dtype));
  if (static_cast<int64_t>(bytes.size()) != storage.integer * item) {
    throw std::runtime_error(source_ + ": storage " + std::string(storage.text) + " holds " + std::to_string(bytes.size()) +
                             " bytes, expected " + std::to_string(storage.integer) + " elements");
  }
  // The largest element offset the view touches must lie inside the storage.
  int64_t last = t.integer;
  bool empty = false;
  for (size_t d = 0; d < t.shape.size(); ++d) {
    if (t.shape[d] == 0) empty = true;
    else last += (t.shape[d] - 1) * t.strides[d];
  }
  if (t.integer < 0 || (!empty && last >= storage.integer)) {
    throw std::runtime_error(source_ + ": a tensor reaches past the end of storage " + std::string(storage.text));
  }
  torch::Tensor flat = torch::empty({storage.integer}, dtype);
  if (!bytes.empty()) std::memcpy(flat.data_ptr(), bytes.data(), bytes.size());
  return flat.as_strided(t.shape, t.strides, t.integer).clone(at::MemoryFormat::Contiguous);  // one copy
}

std::vector<std::pair<std::string, torch::Tensor>> TorchArchive::tensor_dict(PyIndex dict_index, const std::string& what) const {
  const PyValue& dict = document_->expect(dict_index, PyKind::kDict, what);
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (size_t i = 0; i + 1 < dict.items.size(); i += 2) {
    out.emplace_back(std::string(document_->text(dict.items[i], "a key of " + what)), tensor(dict.items[i + 1]));
  }
  return out;
}

}  // namespace avgzsl::io
