// libFuzzer target for the untrusted-file parsers: the pickle reader (plain and torch-archive
// dialects) and the .npy reader. Any outcome but success or std::runtime_error is a bug; the
// sanitizers catch memory errors and leaks. Build and run with fuzz/run.sh.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string_view>

#include "avgzsl/io/numpy_file.h"
#include "avgzsl/io/python_pickle.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  for (bool torch_archive : {false, true}) {
    try {
      avgzsl::io::PickleOptions options;
      options.torch_archive = torch_archive;
      const avgzsl::io::PickleDocument doc = avgzsl::io::parse_pickle(input, "fuzz", options);
      // Walk what a consumer walks: dict lookups, sequences and texts.
      const avgzsl::io::PyValue& root = doc.at(doc.root());
      if (root.kind == avgzsl::io::PyKind::kDict) {
        if (const avgzsl::io::PyIndex* f = doc.find(root, "features")) {
          for (avgzsl::io::PyIndex i : doc.sequence(*f, "features")) (void)doc.at(i).text.size();
        }
      }
    } catch (const std::runtime_error&) {
    }
  }
  try {
    const avgzsl::io::NpyObject npy = avgzsl::io::parse_npy_object(input, "fuzz.npy");
    (void)npy.document.at(npy.item);
  } catch (const std::runtime_error&) {
  }
  return 0;
}
