// libFuzzer target for the untrusted-file parsers: the pickle reader (plain, torch-archive and
// placeholder dialects), the legacy torch.save container and the .npy reader. Any outcome but success or std::runtime_error is a bug; the
// sanitizers catch memory errors and leaks. Build and run with fuzz/run.sh.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string_view>

#include "avgzsl/io/numpy_file.h"
#include "avgzsl/io/python_pickle.h"
#include "avgzsl/io/torch_save_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  for (int dialect = 0; dialect < 3; ++dialect) {
    try {
      avgzsl::io::PickleOptions options;
      options.torch_archive = dialect > 0;
      options.placeholders = dialect > 1;
      const avgzsl::io::PickleDocument doc = avgzsl::io::parse_pickle(input, "fuzz", options);
      // Walk what a consumer walks: dict lookups, sequences and texts.
      const avgzsl::io::PyValue& root = doc.at(doc.root());
      if (root.kind == avgzsl::io::PyKind::kDict) {
        if (const avgzsl::io::PyIndex* f = doc.find(root, "features")) {
          for (avgzsl::io::PyIndex i : doc.sequence(*f, "features")) (void)doc.at(i).text.size();
        }
        if (const avgzsl::io::PyIndex* m = doc.find(root, "model")) (void)doc.expect(*m, avgzsl::io::PyKind::kDict, "model");
      }
    } catch (const std::runtime_error&) {
    }
  }
  try {
    const avgzsl::io::LegacyTorchSave legacy = avgzsl::io::parse_legacy_torch_save(input, "fuzz.pt");
    for (const auto& [key, bytes] : legacy.storages) (void)bytes.size();
  } catch (const std::runtime_error&) {
  }
  try {
    const avgzsl::io::NpyObject npy = avgzsl::io::parse_npy_object(input, "fuzz.npy");
    (void)npy.document.at(npy.item);
  } catch (const std::runtime_error&) {
  }
  return 0;
}
