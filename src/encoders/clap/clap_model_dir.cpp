#include "avgzsl/encoders/clap/clap_model_dir.h"
#include "avgzsl/util/input_file.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <stdexcept>
#include <vector>

namespace avgzsl::encoders {

namespace fs = std::filesystem;

namespace {

std::string model_type_of(const fs::path& config) {
  std::ifstream in = util::open_input_file(config);
  try {
    const auto j = nlohmann::json::parse(in);
    return j.is_object() ? j.value("model_type", std::string()) : std::string();
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(config.string() + ": not valid JSON (" + e.what() + ")");
  }
}

// WavCaps releases torch.save archives; a safetensors copy of one (same names) is accepted too.
bool is_checkpoint_file(const fs::path& p) {
  const auto ext = p.extension().string();
  return ext == ".pt" || ext == ".pth" || ext == ".ckpt" || ext == ".safetensors";
}

ClapModelFiles wavcaps_files(const fs::path& dir, const fs::path& checkpoint) {
  ClapModelFiles files;
  files.family = ClapFamily::kWavCaps;
  files.dir = dir;
  files.weights = checkpoint;
  files.vocab = dir / "vocab.txt";
  if (!fs::exists(files.vocab)) {
    throw std::runtime_error(dir.string() +
                             ": a WavCaps checkpoint needs BERT's vocab.txt (bert-base-uncased) beside it");
  }
  if (fs::exists(dir / "config.json")) {
    const auto type = model_type_of(dir / "config.json");
    if (type != "bert") {
      throw std::runtime_error((dir / "config.json").string() + ": model_type is '" + type +
                               "'; beside a WavCaps checkpoint only BERT's config.json (model_type bert) is read");
    }
    files.config = dir / "config.json";
  }
  return files;
}

}  // namespace

std::string to_string(ClapFamily family) {
  return family == ClapFamily::kHuggingFace ? "hugging_face" : "wavcaps";
}

ClapModelFiles locate_clap_model(const fs::path& dir_or_checkpoint) {
  if (fs::is_regular_file(dir_or_checkpoint)) {
    if (!is_checkpoint_file(dir_or_checkpoint)) {
      throw std::runtime_error(dir_or_checkpoint.string() +
                               ": not a CLAP model folder nor a WavCaps checkpoint (.pt/.pth/.ckpt/.safetensors)");
    }
    auto parent = dir_or_checkpoint.parent_path();
    return wavcaps_files(parent.empty() ? fs::path(".") : parent, dir_or_checkpoint);
  }
  const fs::path& dir = dir_or_checkpoint;
  if (!fs::is_directory(dir)) throw std::runtime_error(dir.string() + ": no such CLAP model folder");

  if (fs::exists(dir / "config.json") && model_type_of(dir / "config.json") == "clap") {
    ClapModelFiles files;
    files.family = ClapFamily::kHuggingFace;
    files.dir = dir;
    files.config = dir / "config.json";
    files.weights = dir / "model.safetensors";
    if (!fs::exists(files.weights) && fs::exists(dir / "pytorch_model.bin")) files.weights = dir / "pytorch_model.bin";
    if (!fs::exists(files.weights)) {
      throw std::runtime_error(dir.string() + ": holds neither model.safetensors nor pytorch_model.bin");
    }
    files.vocab = dir / "vocab.json";
    files.merges = dir / "merges.txt";
    for (const auto& f : {files.vocab, files.merges}) {
      if (!fs::exists(f)) throw std::runtime_error(dir.string() + ": the RoBERTa tokenizer file " + f.filename().string() + " is missing");
    }
    if (fs::exists(dir / "preprocessor_config.json")) files.preprocessor_config = dir / "preprocessor_config.json";
    return files;
  }

  std::vector<fs::path> checkpoints;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_regular_file() && is_checkpoint_file(entry.path())) checkpoints.push_back(entry.path());
  }
  if (checkpoints.size() == 1) return wavcaps_files(dir, checkpoints.front());
  if (checkpoints.size() > 1) {
    throw std::runtime_error(dir.string() + ": holds " + std::to_string(checkpoints.size()) +
                             " checkpoints (.pt/.pth/.ckpt/.safetensors); give the one to use");
  }
  throw std::runtime_error(dir.string() +
                           ": not a CLAP model folder (no config.json with model_type \"clap\", no WavCaps .pt checkpoint)");
}

}  // namespace avgzsl::encoders
