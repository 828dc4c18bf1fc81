#include "avgzsl/inspection/inspection.h"
#include "avgzsl/util/text.h"

#include <fmt/format.h>

#include <cctype>
#include <functional>
#include <map>
#include <set>
#include <stdexcept>

#include "avgzsl/reference/clipclap_release.h"
#include "avgzsl/data/dataset.h"
#include "avgzsl/io/atomic_file.h"
#include "avgzsl/io/safetensors.h"
#include "avgzsl/io/torch_archive.h"
#include "avgzsl/encoders/clap/clap_model_dir.h"

namespace avgzsl::inspection {

namespace fs = std::filesystem;
using Description = nlohmann::ordered_json;  // fields in the order they are described

namespace {

bool any_starts_with(const std::vector<std::string>& names, const std::string& prefix) {
  for (const std::string& n : names) {
    if (util::starts_with(n, prefix)) return true;
  }
  return false;
}

// Which model a state_dict's names belong to, and how avgzsl takes it.
void identify_model(const std::vector<std::string>& names, Description& out) {
  struct Known {
    const char* prefix;
    const char* model;
    const char* use;
  };
  static const Known known[] = {
      {"O_enc.fc.", "ClipClap (the reference's GZSL model)", "avgzsl import-checkpoint --stage1/--stage2 FILE"},
      // The baselines' originals (AVCA-GZSL, Hyper-AVZSL): names unique to each come first.
      {"fusenet1.", "Hyper-multiple (Hyper-AVZSL)", "avgzsl import-checkpoint --method hyper-multiple --stage1/--stage2 FILE"},
      {"A_enc.fc.", "AVCA (AVCA-GZSL)", "avgzsl import-checkpoint --method avca --stage1/--stage2 FILE"},
      {"triplet_net.embedding_net1.", "CJME or AVGZSLNet (AVCA-GZSL; CJME has attention_model, AVGZSLNet decoder_net)",
       "avgzsl import-checkpoint --method cjme|avgzslnet --stage1/--stage2 FILE"},
      {"bilinear.weight", "ALE, SJE or DEVISE (AVCA-GZSL's DeviseModel; the file does not say which loss trained it)",
       "avgzsl import-checkpoint --method ale|sje|devise --stage1/--stage2 FILE"},
      {"vision_model.embeddings.", "Hugging Face CLIP", "--clip FOLDER (this file beside config.json, vocab.json, merges.txt)"},
      {"audio_encoder.audio_enc.", "WavCaps HTSAT-BERT CLAP", "--clap FILE (BERT's vocab.txt beside it)"},
      {"audio_branch.", "LAION CLAP (audio tower)", "--clap FILE (its audio tower; the text tower comes from a Hugging Face folder)"},
      {"audio_model.audio_encoder.", "Hugging Face CLAP", "--clap FOLDER (this file beside config.json and the tokenizer)"},
  };
  for (const Known& k : known) {
    if (any_starts_with(names, k.prefix)) {
      out["looks_like"] = k.model;
      out["use"] = k.use;
      return;
    }
  }
  out["looks_like"] = "no model avgzsl knows";
  out["usable"] = false;
  out["use"] = "no avgzsl command reads these tensor names";
}

std::string dtype_name(const std::string& descr) {
  static const std::map<std::string, std::string> names = {
      {"<f4", "float32"}, {"<f8", "float64"}, {"<f2", "float16"}, {"<bf16", "bfloat16"}, {"<i8", "int64"},
      {"<i4", "int32"},   {"<i2", "int16"},   {"|i1", "int8"},    {"|u1", "uint8"},      {"|b1", "bool"}};
  const auto it = names.find(descr);
  return it == names.end() ? descr : it->second;
}

void add_tensor(Description& tensors, std::map<std::string, int64_t>& dtypes, int64_t& parameters, const std::string& name,
                const std::string& dtype, const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  parameters += n;
  ++dtypes[dtype];
  tensors.push_back({{"name", name}, {"dtype", dtype}, {"shape", shape}});
}

Description inspect_torch_save(const fs::path& path) {
  Description out = {{"kind", "torch.save"}, {"usable", true}};
  const io::TorchArchive archive(path);
  out["format"] = io::to_string(archive.format());
  const io::PickleDocument& doc = archive.document();
  std::set<std::string> placeholders;
  for (size_t i = 0; i < doc.size(); ++i) {
    const io::PyValue& v = doc.at(static_cast<io::PyIndex>(i));
    if (v.kind == io::PyKind::kObject) placeholders.insert(std::string(v.text));
  }
  if (!placeholders.empty()) out["unread_objects"] = placeholders;
  const io::PyValue& root = doc.at(doc.root());
  if (root.kind != io::PyKind::kDict) {
    out["usable"] = false;
    out["problem"] = std::string("the saved object is ") + io::describe(doc, doc.root()) + ", not a dict";
    return out;
  }
  Description keys = Description::object();
  for (size_t i = 0; i + 1 < root.items.size(); i += 2) {
    const io::PyValue& k = doc.at(root.items[i]);
    const std::string key = k.kind == io::PyKind::kStr || k.kind == io::PyKind::kBytes ? std::string(k.text) : "?";
    const io::PyValue& v = doc.at(root.items[i + 1]);
    keys[key] = v.kind == io::PyKind::kInt ? Description(v.integer) : v.kind == io::PyKind::kStr ? Description(std::string(v.text))
                                                                                          : Description(io::describe(doc, root.items[i + 1]));
  }
  // A bare state_dict has one key per tensor: list those below, not here.
  io::PyIndex state = doc.root();
  std::string wrapper;
  for (const char* key : {"model", "state_dict"}) {
    if (const io::PyIndex* inner = doc.find(root, key); inner && doc.at(*inner).kind == io::PyKind::kDict) {
      state = *inner;
      wrapper = key;
      break;
    }
  }
  out["state_dict_under"] = wrapper.empty() ? "the top level" : "'" + wrapper + "'";
  Description tensors = Description::array();
  std::map<std::string, int64_t> dtypes;
  int64_t parameters = 0;
  std::vector<std::string> names;
  const io::PyValue& dict = doc.at(state);
  for (size_t i = 0; i + 1 < dict.items.size(); i += 2) {
    const io::PyValue& k = doc.at(dict.items[i]);
    const io::PyValue& v = doc.at(dict.items[i + 1]);
    if (k.kind != io::PyKind::kStr || v.kind != io::PyKind::kTensor) continue;
    std::string name(k.text);
    if (util::starts_with(name, "module.")) name.erase(0, 7);
    names.push_back(name);
    add_tensor(tensors, dtypes, parameters, name, dtype_name(doc.at(v.items.at(0)).dtype), v.shape);
  }
  if (!wrapper.empty() || names.empty()) out["top_level_keys"] = keys;
  out["tensors"] = tensors;
  out["tensor_count"] = tensors.size();
  out["values"] = parameters;
  out["dtypes"] = dtypes;
  if (names.empty()) {
    out["usable"] = false;
    out["problem"] = "no state_dict of tensors (at the top level, under 'model' or under 'state_dict')";
    return out;
  }
  identify_model(names, out);
  try {
    archive.state_dict({"model", "state_dict"});  // what the loaders read, with their errors
  } catch (const std::runtime_error& e) {
    out["usable"] = false;
    out["problem"] = e.what();
  }
  return out;
}

Description inspect_safetensors(const fs::path& path) {
  Description out = {{"kind", "safetensors"}, {"usable", true}};
  const io::SafetensorsFile file(path);
  Description tensors = Description::array();
  std::map<std::string, int64_t> dtypes;
  int64_t parameters = 0;
  const std::vector<std::string> names = file.names();
  for (const std::string& name : names) {
    const io::SafetensorsEntry& e = file.entry(name);
    add_tensor(tensors, dtypes, parameters, name, e.dtype, e.shape);
  }
  out["tensors"] = tensors;
  out["tensor_count"] = tensors.size();
  out["values"] = parameters;
  out["dtypes"] = dtypes;
  identify_model(names, out);
  return out;
}

Description read_json_file(const fs::path& path) { return Description::parse(io::read_file(path)); }

Description inspect_model_folder(const fs::path& dir, const Description& config) {
  const std::string type = config.value("model_type", std::string());
  Description out = {{"usable", true}};
  std::vector<std::string> missing;
  const bool has_weights = fs::exists(dir / "model.safetensors") || fs::exists(dir / "pytorch_model.bin");
  if (!has_weights) missing.push_back("model.safetensors or pytorch_model.bin");
  for (const char* f : {"vocab.json", "merges.txt"}) {
    if (!fs::exists(dir / f)) missing.push_back(f);
  }
  const auto section = [&](const char* key) { return config.contains(key) ? config[key] : Description::object(); };
  if (type == "clip") {
    out["kind"] = "clip model folder";
    const Description v = section("vision_config"), t = section("text_config");
    out["sizes"] = {{"vision", {{"hidden_size", v.value("hidden_size", 768)}, {"layers", v.value("num_hidden_layers", 12)},
                                {"patch_size", v.value("patch_size", 32)}, {"image_size", v.value("image_size", 224)}}},
                    {"text", {{"hidden_size", t.value("hidden_size", 512)}, {"layers", t.value("num_hidden_layers", 12)}}},
                    {"projection_dim", config.value("projection_dim", 512)}};
    out["use"] = "--clip " + dir.string();
  } else {
    out["kind"] = "clap model folder";
    const Description a = section("audio_config"), t = section("text_config");
    out["sizes"] = {{"audio", {{"patch_embeds_hidden_size", a.value("patch_embeds_hidden_size", 96)},
                               {"depths", a.value("depths", Description::array({2, 2, 6, 2}))},
                               {"enable_fusion", a.value("enable_fusion", false)}}},
                    {"text", {{"hidden_size", t.value("hidden_size", 768)}, {"layers", t.value("num_hidden_layers", 12)}}},
                    {"projection_dim", config.value("projection_dim", 512)}};
    out["use"] = "--clap " + dir.string();
  }
  if (!missing.empty()) {
    out["missing"] = missing;
    out["usable"] = false;
    out["use"] = "missing files";
  }
  if (fs::exists(dir / "model.safetensors")) out["weights"] = inspect_safetensors(dir / "model.safetensors");
  else if (fs::exists(dir / "pytorch_model.bin")) out["weights"] = inspect_torch_save(dir / "pytorch_model.bin");
  if (out.contains("weights") && !out["weights"]["usable"].get<bool>()) out["usable"] = false;
  return out;
}

Description inspect_release(const fs::path& root) {
  Description out = {{"kind", "feature release"}, {"usable", true}};
  std::string dataset;
  for (const std::string& name : reference::clipclap_release_layouts()) {
    std::string lower = name;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (const char* csv : {"_clip_class_names.csv", "_w2v_class_names.csv"}) {
      if (fs::exists(root / "class-split" / (lower + csv))) dataset = name;
    }
  }
  if (dataset.empty()) {
    out["usable"] = false;
    out["problem"] = "no class-name CSV of UCF, ActivityNet or VGGSound under class-split/";
    return out;
  }
  out["dataset"] = dataset;
  out["use"] = fmt::format("avgzsl import-clipclap --root {} --dataset {} --out DIR", root.string(), dataset);
  Description splits = Description::object();
  for (const char* split : {"cls_split", "main_split"}) {
    if (!fs::is_directory(root / "class-split" / split)) continue;
    reference::ClipClapImportOptions o;
    o.root = root;
    o.dataset = dataset;
    o.split = split;
    try {
      const reference::ClipClapClassSplits cs = reference::read_clipclap_class_splits(o);
      Description counts = Description::object();
      for (const auto& [name, ids] : cs.class_splits) counts[name] = ids.size();
      splits[split] = {{"classes", cs.classes.size()}, {"classes_per_list", counts}};
    } catch (const std::runtime_error& e) {
      splits[split] = {{"problem", e.what()}};
      out["usable"] = false;
    }
  }
  out["class_splits"] = splits;
  Description features = Description::object();
  if (fs::is_directory(root / "features")) {
    for (const auto& entry : fs::directory_iterator(root / "features")) {
      if (!entry.is_directory()) continue;
      Description folders = Description::object();
      for (const char* modality : {"video", "audio"}) {
        if (!fs::is_directory(entry.path() / modality)) continue;
        for (const auto& folder : fs::directory_iterator(entry.path() / modality)) {
          if (!folder.is_directory()) continue;
          int64_t files = 0, videos = 0;
          std::set<std::string> dtypes;
          for (const auto& f : fs::directory_iterator(folder.path())) {
            if (f.path().extension() != ".pkl") continue;
            ++files;
            try {
              const std::string data = io::read_file(f.path());
              const io::PickleDocument doc = io::parse_pickle(data, f.path().string());
              const io::PyValue& dict = doc.expect(doc.root(), io::PyKind::kDict, "the pickled object");
              const auto& vectors = doc.sequence(doc.get(dict, "features"), "'features'");
              videos += static_cast<int64_t>(vectors.size());
              for (io::PyIndex v : vectors) {
                if (doc.at(v).kind == io::PyKind::kArray) dtypes.insert(dtype_name(doc.at(v).dtype));
              }
            } catch (const std::runtime_error& e) {
              out["usable"] = false;
              out["problem"] = e.what();
            }
          }
          folders[std::string(modality) + "/" + folder.path().filename().string()] = {
              {"class_files", files}, {"videos", videos}, {"dtypes", dtypes}};
        }
      }
      features[entry.path().filename().string()] = folders;
    }
  }
  out["features"] = features;
  return out;
}

Description inspect_dataset(const fs::path& dir) {
  Description out = {{"kind", "dataset"}, {"usable", true}, {"use", "avgzsl train --data " + dir.string()}};
  const data::Dataset d = data::load_dataset(dir);
  out["name"] = d.name;
  out["classes"] = d.num_classes();
  out["dims"] = {{"visual", d.visual_dim}, {"audio", d.audio_dim}, {"clip_text", d.clip_dim}, {"clap_text", d.clap_dim}};
  Description splits = Description::object();
  for (const auto& [name, ids] : d.class_splits) splits[name]["classes"] = ids.size();
  for (const auto& [name, split] : d.video_splits) splits[name]["videos"] = split.size();
  out["splits"] = splits;
  return out;
}

Description inspect_run(const fs::path& dir) {
  Description out = {{"kind", "run"}, {"usable", true}, {"use", "avgzsl evaluate --run " + dir.string()}};
  std::vector<std::string> checkpoints;
  for (const char* stage : {"stage1", "stage2"}) {
    if (fs::exists(dir / (std::string(stage) + ".safetensors"))) checkpoints.push_back(stage);
  }
  out["checkpoints"] = checkpoints;
  if (fs::exists(dir / "results.json")) out["results"] = read_json_file(dir / "results.json");
  if (checkpoints.empty()) {
    out["usable"] = false;
    out["problem"] = "no stage1/stage2 checkpoint (an interrupted or stage-less run)";
  }
  return out;
}

Description inspect_folder(const fs::path& dir) {
  if (fs::exists(dir / "manifest.json")) return inspect_dataset(dir);
  if (fs::is_directory(dir / "class-split")) return inspect_release(dir);
  if (fs::exists(dir / "config.json")) {
    const Description config = read_json_file(dir / "config.json");
    const std::string type = config.value("model_type", std::string());
    if (type == "clip" || type == "clap") return inspect_model_folder(dir, config);
    if (config.contains("lr") || fs::exists(dir / "results.json") || fs::exists(dir / "stage1.safetensors")) return inspect_run(dir);
  }
  // A WavCaps folder: a checkpoint and BERT's vocab.
  const encoders::ClapModelFiles files = encoders::locate_clap_model(dir);
  Description out = {{"kind", "clap model folder"}, {"family", encoders::to_string(files.family)}, {"usable", true},
              {"use", "--clap " + dir.string()}};
  out["weights"] = files.weights.extension() == ".safetensors" ? inspect_safetensors(files.weights) : inspect_torch_save(files.weights);
  if (!out["weights"]["usable"].get<bool>()) out["usable"] = false;
  return out;
}

}  // namespace

Description inspect_path(const fs::path& path) {
  if (!fs::exists(path)) throw std::runtime_error(path.string() + ": no such file or folder");
  Description out;
  try {
    if (fs::is_directory(path)) {
      out = inspect_folder(path);
    } else if (path.extension() == ".safetensors") {
      out = inspect_safetensors(path);
    } else {
      out = inspect_torch_save(path);
    }
  } catch (const std::exception& e) {  // a broken or unknown file is an answer, not a failure
    const std::string kind = out.is_object() && out.contains("kind") ? out["kind"].get<std::string>()
                             : fs::is_directory(path)                  ? "unknown folder"
                                                                       : "unknown";
    out = {{"kind", kind}, {"usable", false}, {"problem", e.what()}};
  }
  Description ordered = {{"path", path.string()}};
  ordered.update(out);
  return ordered;
}

std::string inspection_text(const Description& description, size_t max_tensors) {
  std::string text;
  const std::function<void(const Description&, const std::string&)> render = [&](const Description& node, const std::string& indent) {
    for (const auto& [key, value] : node.items()) {
      if (key == "tensors") {
        text += fmt::format("{}tensors:\n", indent);
        size_t shown = 0;
        for (const Description& t : value) {
          if (shown++ == max_tensors) {
            text += fmt::format("{}  ... {} more (--json lists all)\n", indent, value.size() - max_tensors);
            break;
          }
          std::string shape;
          for (const Description& d : t["shape"]) shape += (shape.empty() ? "" : ", ") + std::to_string(d.get<int64_t>());
          text += fmt::format("{}  {} {} [{}]\n", indent, t["name"].get<std::string>(), t["dtype"].get<std::string>(), shape);
        }
      } else if (value.is_object() && !value.empty()) {
        text += fmt::format("{}{}:\n", indent, key);
        render(value, indent + "  ");
      } else {
        text += fmt::format("{}{}: {}\n", indent, key, value.is_string() ? value.get<std::string>() : value.dump());
      }
    }
  };
  render(description, "");
  return text;
}

}  // namespace avgzsl::inspection
