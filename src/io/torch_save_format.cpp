#include "avgzsl/io/torch_save_format.h"

#include <cstring>
#include <limits>
#include <stdexcept>

namespace avgzsl::io {

namespace {

// torch.serialization.MAGIC_NUMBER 0x1950a86a20f9469cfc6c as pickle's little-endian LONG1 bytes.
constexpr char kMagicBytes[] = "\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19";
constexpr int64_t kLegacyProtocolVersion = 1001;

[[noreturn]] void fail(const std::string& source, const std::string& what) {
  throw std::runtime_error(source + ": " + what);
}

}  // namespace

TorchSaveFormat detect_torch_save_format(std::string_view head) {
  if (head.size() >= 4 && head.substr(0, 4) == std::string_view("PK\x03\x04", 4)) return TorchSaveFormat::kZip;
  if (head.size() >= 262 && head.substr(257, 5) == "ustar") return TorchSaveFormat::kLegacyTar;
  if (head.size() >= 2 && static_cast<uint8_t>(head[0]) == 0x80 && head[1] >= 2 && head[1] <= 5) return TorchSaveFormat::kLegacy;
  return TorchSaveFormat::kUnknown;
}

const char* to_string(TorchSaveFormat format) {
  switch (format) {
    case TorchSaveFormat::kZip: return "torch.save zip archive";
    case TorchSaveFormat::kLegacy: return "legacy torch.save file";
    case TorchSaveFormat::kLegacyTar: return "tar-format torch.save file";
    case TorchSaveFormat::kUnknown: break;
  }
  return "unknown";
}

PickleOptions torch_save_pickle_options() {
  PickleOptions options;
  options.torch_archive = true;
  options.placeholders = true;
  return options;
}

LegacyTorchSave parse_legacy_torch_save(std::string_view data, const std::string& source) {
  size_t pos = 0;
  // Reads the next pickle; `what` names it in errors.
  const auto next_pickle = [&](const char* what, const PickleOptions& options) {
    size_t end = 0;
    PickleDocument doc = parse_pickle_prefix(data.substr(pos), source + " (" + what + " at byte " + std::to_string(pos) + ")", options, end);
    const std::string_view bytes = data.substr(pos, end);
    pos += end;
    return std::make_pair(std::move(doc), bytes);
  };
  PickleOptions plain;
  plain.placeholders = true;  // the magic number is an int beyond 64 bits
  const auto magic = next_pickle("magic number", plain);
  if (magic.second.find(std::string_view(kMagicBytes, 10)) == std::string_view::npos) {
    fail(source, "not a torch.save file (the legacy format's magic number is missing)");
  }
  const auto version = next_pickle("protocol version", plain);
  const PyValue& v = version.first.at(version.first.root());
  if (v.kind != PyKind::kInt || v.integer != kLegacyProtocolVersion) {
    fail(source, "legacy torch.save protocol version is not 1001");
  }
  const auto sys_info = next_pickle("sys_info", plain);
  const PickleDocument& info = sys_info.first;
  const PyValue& info_dict = info.expect(info.root(), PyKind::kDict, "sys_info");
  if (const PyIndex* little = info.find(info_dict, "little_endian"); little && info.at(*little).kind == PyKind::kBool &&
                                                                      info.at(*little).integer == 0) {
    fail(source, "saved on a big-endian machine, which avgzsl does not read");
  }
  auto object = next_pickle("data", torch_save_pickle_options());
  LegacyTorchSave out{std::move(object.first), {}};
  std::map<std::string, int64_t> item_size;  // storage key -> bytes per element
  for (size_t i = 0; i < out.document.size(); ++i) {
    const PyValue& s = out.document.at(static_cast<PyIndex>(i));
    if (s.kind != PyKind::kStorage) continue;
    const int64_t size = s.dtype == "<bf16" ? 2 : numpy_item_size(s.dtype);
    const auto [it, inserted] = item_size.emplace(std::string(s.text), size);
    if (!inserted && it->second != size) fail(source, "storage " + std::string(s.text) + " is named with two element types");
  }
  const auto keys_pickle = next_pickle("storage keys", plain);
  const PickleDocument& keys = keys_pickle.first;
  for (PyIndex k : keys.sequence(keys.root(), "the storage key list")) {
    const std::string key(keys.text(k, "a storage key"));
    const auto it = item_size.find(key);
    if (it == item_size.end()) fail(source, "storage " + key + " is stored but no tensor names it");
    if (data.size() - pos < 8) fail(source, "truncated (storage " + key + " has no size)");
    uint64_t numel = 0;
    for (int b = 0; b < 8; ++b) numel |= static_cast<uint64_t>(static_cast<uint8_t>(data[pos + b])) << (8 * b);
    pos += 8;
    const uint64_t item = static_cast<uint64_t>(it->second);
    if (numel > (data.size() - pos) / item) {
      fail(source, "truncated (storage " + key + " claims " + std::to_string(numel) + " elements, the file holds fewer)");
    }
    if (!out.storages.emplace(key, data.substr(pos, numel * item)).second) fail(source, "storage " + key + " is stored twice");
    pos += numel * item;
  }
  for (const auto& [key, size] : item_size) {
    if (!out.storages.count(key)) fail(source, "storage " + key + " is missing");
  }
  if (pos != data.size()) fail(source, std::to_string(data.size() - pos) + " bytes after the last storage");
  return out;
}

}  // namespace avgzsl::io
