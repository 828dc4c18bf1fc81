// `avgzsl inspect`: what a file or folder is, and whether avgzsl can use it. Knows torch.save
// files (zip or legacy), safetensors files, Hugging Face CLIP/CLAP folders, WavCaps checkpoint
// folders, the reference's feature release, native datasets and run directories.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace avgzsl::inspection {

// A JSON description: always "path", "kind" (torch.save, safetensors, clip model folder, clap
// model folder, feature release, dataset, run, unknown), "usable" (bool) and "use" (how avgzsl
// takes it, or why it cannot); then what the kind has (format, keys, tensors, sizes, splits).
// Never throws for a readable path whose content is broken: the problem goes into "problem"
// and "usable" is false. Throws std::runtime_error for a path that does not exist.
nlohmann::ordered_json inspect_path(const std::filesystem::path& path);

// The description for a terminal: a line per field, tensor lists cut to `max_tensors`.
std::string inspection_text(const nlohmann::ordered_json& description, size_t max_tensors = 20);

}  // namespace avgzsl::inspection
