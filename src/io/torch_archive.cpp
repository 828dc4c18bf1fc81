#include "avgzsl/io/torch_archive.h"
#include "avgzsl/util/input_file.h"

#include <caffe2/serialize/inline_container.h>

#include <cstring>
#include <fstream>
#include <stdexcept>

#include "avgzsl/io/atomic_file.h"

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

std::string file_head(const std::filesystem::path& path) {
  std::ifstream in = util::open_input_file(path, std::ios::binary);
  std::string head(512, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  return head;
}

}  // namespace

TorchArchive::TorchArchive(const std::filesystem::path& path) : source_(path.string()) {
  if (!std::filesystem::is_regular_file(path)) throw std::runtime_error(source_ + ": file not found");
  format_ = detect_torch_save_format(file_head(path));
  switch (format_) {
    case TorchSaveFormat::kUnknown:
      throw std::runtime_error(source_ + ": not a torch.save file (neither its zip archive nor its legacy format)");
    case TorchSaveFormat::kLegacyTar:
      throw std::runtime_error(source_ + ": a tar-format torch.save file (PyTorch < 0.4), which avgzsl does not read; "
                               "re-save it with a current PyTorch");
    case TorchSaveFormat::kLegacy: {
      const std::string& data = buffers_.emplace_back(read_file(path));
      LegacyTorchSave legacy = parse_legacy_torch_save(data, source_);
      document_ = std::make_unique<PickleDocument>(std::move(legacy.document));
      storages_ = std::move(legacy.storages);
      return;
    }
    case TorchSaveFormat::kZip:
      break;
  }
  try {
    caffe2::serialize::PyTorchStreamReader reader(source_);
    const auto record = [&](const std::string& name) -> const std::string& {
      auto [data, size] = reader.getRecord(name);
      return buffers_.emplace_back(static_cast<const char*>(data.get()), size);
    };
    if (!reader.hasRecord("data.pkl")) throw std::runtime_error(source_ + ": archive has no data.pkl");
    const std::string& pickle_bytes = record("data.pkl");
    document_ = std::make_unique<PickleDocument>(parse_pickle(pickle_bytes, source_ + " (data.pkl)", torch_save_pickle_options()));
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
  const std::string_view bytes = storages_.at(std::string(storage.text));
  const int64_t item = static_cast<int64_t>(torch::elementSize(dtype));
  if (static_cast<int64_t>(bytes.size()) != storage.integer * item) {
    throw std::runtime_error(source_ + ": storage " + std::string(storage.text) + " holds " + std::to_string(bytes.size()) +
                             " bytes, expected " + std::to_string(storage.integer) + " elements");
  }
  // The largest element offset the view touches must lie inside the storage.
  const int64_t offset = storage.view_offset + t.integer;
  int64_t last = offset;
  bool empty = false;
  for (size_t d = 0; d < t.shape.size(); ++d) {
    if (t.shape[d] == 0) empty = true;
    else last += (t.shape[d] - 1) * t.strides[d];
  }
  if (t.integer < 0 || (!empty && last >= storage.integer)) {
    throw std::runtime_error(source_ + ": a tensor reaches past the end of storage " + std::string(storage.text));
  }
  // A view of the file's bytes, copied once into a contiguous tensor of its own.
  const torch::Tensor flat = torch::from_blob(const_cast<char*>(bytes.data()), {storage.integer}, dtype);
  return flat.as_strided(t.shape, t.strides, offset).clone(at::MemoryFormat::Contiguous);
}

std::vector<std::pair<std::string, torch::Tensor>> TorchArchive::tensor_dict(PyIndex dict_index, const std::string& what) const {
  const PyValue& dict = document_->expect(dict_index, PyKind::kDict, what);
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (size_t i = 0; i + 1 < dict.items.size(); i += 2) {
    std::string key(document_->text(dict.items[i], "a key of " + what));
    document_->expect(dict.items[i + 1], PyKind::kTensor, what + "['" + key + "']");
    out.emplace_back(std::move(key), tensor(dict.items[i + 1]));
  }
  return out;
}

std::vector<std::pair<std::string, torch::Tensor>> TorchArchive::state_dict(const std::vector<std::string>& wrapper_keys,
                                                                            std::string* wrapper) const {
  const PickleDocument& doc = *document_;
  PyIndex dict = doc.root();
  const PyValue& root = doc.expect(dict, PyKind::kDict, "the saved object");
  std::string used;
  for (const std::string& key : wrapper_keys) {
    if (const PyIndex* inner = doc.find(root, key); inner && doc.at(*inner).kind == PyKind::kDict) {
      dict = *inner;
      used = key;
      break;
    }
  }
  auto state = tensor_dict(dict, used.empty() ? "the state_dict" : "the state_dict under '" + used + "'");
  if (state.empty()) throw std::runtime_error(source_ + ": the state_dict holds no tensors");
  for (auto& [name, tensor] : state) {
    if (name.rfind("module.", 0) == 0) name.erase(0, 7);
  }
  if (wrapper) *wrapper = used;
  return state;
}

}  // namespace avgzsl::io
