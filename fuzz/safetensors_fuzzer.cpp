// libFuzzer target for the safetensors reader (src/io/safetensors.cpp): the input is the whole
// file. The reader promises std::runtime_error "<path>: <problem>" for every defect, checked
// before any tensor is touched; so once a file opens, every tensor it lists must read (and convert
// within its kind) without any other exception. Build and run with fuzz/run.sh safetensors.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string_view>

#include "avgzsl/io/safetensors.h"
#include "fuzz_files.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto path = avgzsl_fuzz::write_scratch("input.safetensors", input);
  try {
    const avgzsl::io::SafetensorsFile file(path);
    for (const std::string& name : file.names()) {
      const avgzsl::io::SafetensorsEntry& e = file.entry(name);
      if (e.end < e.begin || e.end - e.begin > size) avgzsl_fuzz::invariant_failed("entry outside the file");
      // Finding 1 (fixed): a size >= 2^63 next to a 0 passed the header checks.
      for (int64_t d : e.shape) {
        if (d < 0) avgzsl_fuzz::invariant_failed("a size beyond int64 accepted");
      }
      const torch::Tensor t = file.tensor(name);
      if (static_cast<uint64_t>(t.numel()) * t.element_size() != e.end - e.begin) {
        avgzsl_fuzz::invariant_failed("tensor size differs from its byte range");
      }
      const bool is_float = at::isFloatingType(t.scalar_type());
      (void)file.tensor(name, is_float ? torch::kFloat32 : torch::kInt64);
      try {
        (void)file.tensor(name, is_float ? torch::kInt64 : torch::kFloat32);  // refused: kind changes
        avgzsl_fuzz::invariant_failed("a float <-> integer conversion was not refused");
      } catch (const std::runtime_error&) {
      }
    }
    (void)file.metadata().size();
  } catch (const std::runtime_error& e) {
    avgzsl_fuzz::refused(e);
  }
  return 0;
}
