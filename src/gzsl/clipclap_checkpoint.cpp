#include "avgzsl/gzsl/clipclap_checkpoint.h"

#include <stdexcept>

#include "avgzsl/io/atomic_file.h"
#include "avgzsl/io/safetensors.h"

namespace avgzsl::gzsl {
namespace fs = std::filesystem;

namespace {
fs::path with_suffix(const fs::path& stem, const char* suffix) { return fs::path(stem.string() + suffix); }
}  // namespace

void save_clipclap_checkpoint(const fs::path& stem, ClipClapImpl& model, nlohmann::json info) {
  if (!info.is_object()) throw std::invalid_argument("checkpoint info must be a JSON object");
  info["model"] = model.options();
  info["format"] = "avgzsl-clipclap-checkpoint";
  io::save_safetensors(with_suffix(stem, ".safetensors"), model.state_dict());
  io::write_file_atomically(with_suffix(stem, ".json"), info.dump(2) + "\n");
}

ClipClapCheckpoint load_clipclap_checkpoint(const fs::path& stem) {
  const fs::path json_path = with_suffix(stem, ".json");
  const fs::path tensor_path = with_suffix(stem, ".safetensors");
  ClipClapCheckpoint ckpt;
  ClipClapOptions options;
  try {
    ckpt.info = nlohmann::json::parse(io::read_file(json_path));
    options = ckpt.info.at("model").get<ClipClapOptions>();
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(json_path.string() + ": not a valid checkpoint description (" + e.what() + ")");
  }
  ckpt.model = ClipClap(options);
  io::SafetensorsFile file(tensor_path);
  std::vector<std::pair<std::string, torch::Tensor>> state;
  for (const auto& name : file.names()) state.emplace_back(name, file.tensor(name));
  ckpt.model->load_state_dict(state, tensor_path.string());
  ckpt.model->eval();
  return ckpt;
}

}  // namespace avgzsl::gzsl
