#include "avgzsl/extraction/class_embeddings.h"

#include <nlohmann/json.hpp>

#include <map>
#include <stdexcept>

#include "avgzsl/encoders/clap/clap_encoder.h"
#include "avgzsl/encoders/class_text.h"
#include "avgzsl/encoders/clip/clip_encoder.h"
#include "avgzsl/extraction/split_plan.h"
#include "avgzsl/io/atomic_file.h"
#include "avgzsl/io/numpy_file.h"
#include "avgzsl/io/pickle_writer.h"
#include "avgzsl/io/safetensors.h"

namespace avgzsl::extraction {

namespace fs = std::filesystem;

std::vector<EmbeddedHalf> embed_classes(const EmbedClassesOptions& o) {
  if (o.clip.empty() && o.clap.empty()) throw std::invalid_argument("embed-classes needs a CLIP model, a CLAP model or both");
  const std::string ext = o.out.extension().string();
  if (ext != ".safetensors" && ext != ".npy") throw std::invalid_argument(o.out.string() + ": expected a .safetensors or .npy file");
  if (ext == ".npy" && !o.clip.empty() && !o.clap.empty()) {
    throw std::invalid_argument(o.out.string() + ": a .npy dict holds one encoder's vectors; write .safetensors for both halves");
  }
  if (o.names.empty()) throw std::invalid_argument("embed-classes: no class names");
  io::check_output_file(o.out);
  io::NamedTensors tensors;
  std::map<std::string, std::string> metadata{{"names", nlohmann::json(o.names).dump()}};
  std::vector<EmbeddedHalf> halves;
  const auto add = [&](const std::string& key, torch::Tensor embeddings, const encoders::PromptTemplates& templates) {
    halves.push_back({key, embeddings.size(0), embeddings.size(1), templates.templates.size(), templates.source});
    tensors.emplace_back(key, std::move(embeddings));
  };
  if (!o.clip.empty()) {
    const encoders::PromptTemplates templates = encoders::resolve_prompt_templates(o.templates, "clip");
    encoders::ClipEncoder clip(o.clip);
    add("clip", encoders::ensemble_class_embeddings(o.names, templates, [&](const std::vector<std::string>& t) { return clip.encode_texts(t); }),
        templates);
    metadata["templates"] = templates.source;
  }
  if (!o.clap.empty()) {
    const encoders::PromptTemplates templates = encoders::resolve_audio_prompt_templates(o.templates, o.audio_templates);
    encoders::ClapEncoder clap(o.clap);
    add("clap", encoders::ensemble_class_embeddings(o.names, templates, [&](const std::vector<std::string>& t) { return clap.encode_texts(t); }),
        templates);
    metadata["audio_templates"] = templates.source;
  }
  if (ext == ".npy") {
    const torch::Tensor t = tensors.front().second.to(torch::kFloat32).contiguous();
    io::write_file_atomically(o.out, io::vector_dict_npy(o.names, t.data_ptr<float>(), t.size(1)));
  } else {
    io::save_safetensors(o.out, tensors, metadata);
  }
  return halves;
}

AssemblyReport merge_shards(const std::vector<fs::path>& store_dirs, const fs::path& splits, const fs::path& out,
                            bool replace_existing) {
  if (store_dirs.empty()) throw std::invalid_argument("merge: no shard stores given");
  io::check_output_directory(out);
  std::vector<FeatureStore> stores;
  for (const fs::path& dir : store_dirs) stores.push_back(FeatureStore::open_existing(dir));
  std::vector<std::string> names;
  for (const data::ClassInfo& info : stores.front().classes()) names.push_back(info.name);
  return assemble_dataset(stores, split_plan_for(splits, names), out, replace_existing);
}

}  // namespace avgzsl::extraction
