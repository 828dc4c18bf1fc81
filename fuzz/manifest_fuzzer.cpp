// libFuzzer target for the dataset reader (src/data/dataset.cpp, load_dataset): the input is up
// to seven parts, cut at avgzsl_fuzz::kSeparator, written as one dataset directory:
//   manifest.json, class_text.safetensors, videos/<split>.safetensors for the five video splits
// (in data::kVideoSplitNames order; missing parts are missing files). load_dataset promises
// std::runtime_error for every defect and a validated dataset otherwise.
// Build and run with fuzz/run.sh manifest.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>


#include "avgzsl/data/dataset.h"
#include "fuzz_files.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  avgzsl_fuzz::clear_scratch();
  const auto parts = avgzsl_fuzz::split_parts(input, 2 + avgzsl::data::kVideoSplitNames.size());
  const auto dir = avgzsl_fuzz::scratch_dir() / "dataset";
  avgzsl_fuzz::write_scratch("dataset/manifest.json", parts[0]);
  if (parts.size() > 1) avgzsl_fuzz::write_scratch("dataset/class_text.safetensors", parts[1]);
  for (size_t i = 2; i < parts.size(); ++i) {
    avgzsl_fuzz::write_scratch(std::string("dataset/videos/") + avgzsl::data::kVideoSplitNames[i - 2] + ".safetensors",
                               parts[i]);
  }
  try {
    const avgzsl::data::Dataset d = avgzsl::data::load_dataset(dir);
    // What a consumer does next: look classes and splits up by name.
    for (const auto& c : d.classes) {
      if (d.classes.at(static_cast<size_t>(d.class_id(c.name))).name != c.name) {
        avgzsl_fuzz::invariant_failed("class_id does not find its class");
      }
    }
    for (const char* split : avgzsl::data::kVideoSplitNames) (void)d.video_split(split).size();
    for (const char* split : avgzsl::data::kClassSplitNames) (void)d.class_split(split).size();
  } catch (const std::runtime_error& e) {
    avgzsl_fuzz::refused(e);
  }
  return 0;
}
