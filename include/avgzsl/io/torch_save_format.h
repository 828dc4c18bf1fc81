// The two container formats of `torch.save`, told apart, and the legacy one parsed:
//   - zip (PyTorch >= 1.6, the default): data.pkl + data/<key> records; read by TorchArchive
//     through LibTorch's zip reader;
//   - legacy (PyTorch < 1.6, or `_use_new_zipfile_serialization=False`): five things in a row,
//     a pickled magic number, the pickled protocol version 1001, a pickled sys_info dict, the
//     pickled object (whose persistent ids name storages), the pickled list of storage keys, and
//     then per key an int64 element count and the raw little-endian bytes.
// Hand-written because LibTorch reads only the zip format. Torch-free, so the fuzz target builds
// it alone; every count and length is checked against the file's size.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "avgzsl/io/python_pickle.h"

namespace avgzsl::io {

enum class TorchSaveFormat { kZip, kLegacy, kLegacyTar, kUnknown };
// From the first bytes of a file (at least 512 where available, for the tar check).
TorchSaveFormat detect_torch_save_format(std::string_view head);
const char* to_string(TorchSaveFormat format);

// The pickle options every torch.save reader uses: the torch dialect, and placeholders for the
// objects of a checkpoint that avgzsl does not read.
PickleOptions torch_save_pickle_options();

struct LegacyTorchSave {
  PickleDocument document;                           // the saved object
  std::map<std::string, std::string_view> storages;  // key -> raw bytes (views into the input)
};

// Parses a legacy file held whole in `data` (which must outlive the result). Throws
// std::runtime_error "<source>: ..." on anything malformed: a wrong magic number or protocol
// version, a big-endian file, a storage whose size disagrees with the pickle, truncation.
LegacyTorchSave parse_legacy_torch_save(std::string_view data, const std::string& source);

}  // namespace avgzsl::io
