#include "avgzsl/gzsl/method_checkpoint.h"

#include <stdexcept>

#include "avgzsl/gzsl/method_registry.h"
#include "avgzsl/io/atomic_file.h"
#include "avgzsl/io/safetensors.h"

namespace avgzsl::gzsl {
namespace fs = std::filesystem;

namespace {
fs::path with_suffix(const fs::path& stem, const char* suffix) { return fs::path(stem.string() + suffix); }
}  // namespace

std::string checkpoint_method(const nlohmann::json& info) { return info.value("method", std::string("clipclap")); }

void save_method_checkpoint(const fs::path& stem, Method& model, nlohmann::json info) {
  if (!info.is_object()) throw std::invalid_argument("checkpoint info must be a JSON object");
  info["format"] = "avgzsl-model-checkpoint";
  info["method"] = model.method_name();
  info["dims"] = model.dims();
  info["model"] = model.options_json();
  io::save_safetensors(with_suffix(stem, ".safetensors"), model.state_dict());
  io::write_file_atomically(with_suffix(stem, ".json"), info.dump(2) + "\n");
}

MethodCheckpoint load_method_checkpoint(const fs::path& stem) {
  const fs::path json_path = with_suffix(stem, ".json");
  const fs::path tensor_path = with_suffix(stem, ".safetensors");
  MethodCheckpoint ckpt;
  try {
    ckpt.info = nlohmann::json::parse(io::read_file(json_path));
    const std::string method = checkpoint_method(ckpt.info);
    const nlohmann::json& options = ckpt.info.at("model");
    MethodDims dims;
    if (ckpt.info.contains("dims")) {
      dims = ckpt.info.at("dims").get<MethodDims>();
    } else {
      // Written before methods existed: a ClipClap, whose options hold the input and text widths.
      dims = {options.at("input_dim").get<int64_t>(), 0, options.at("text_dim").get<int64_t>()};
    }
    ckpt.model = method_spec(method).make(dims, options);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(json_path.string() + ": not a valid checkpoint description (" + e.what() + ")");
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(json_path.string() + ": " + e.what());
  } catch (const c10::Error& e) {
    throw std::runtime_error(json_path.string() + ": the model cannot be built (" + e.what_without_backtrace() + ")");
  }
  io::SafetensorsFile file(tensor_path);
  std::vector<std::pair<std::string, torch::Tensor>> state;
  for (const auto& name : file.names()) state.emplace_back(name, file.tensor(name));
  ckpt.model->load_state_dict(state, tensor_path.string());
  ckpt.model->eval();
  return ckpt;
}

}  // namespace avgzsl::gzsl
