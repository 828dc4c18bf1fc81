#include "avgzsl/data/dataset.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "avgzsl/io/atomic_file.h"
#include "avgzsl/io/safetensors.h"
#include "avgzsl/util/float_values.h"

namespace avgzsl::data {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kFormatName = "avgzsl-dataset";
constexpr int kFormatVersion = 1;
constexpr const char* kClassTextFile = "class_text.safetensors";

[[noreturn]] void fail(const std::string& where, const std::string& what) {
  throw std::runtime_error(where + ": " + what);
}

std::string video_file_name(const std::string& split) { return "videos/" + split + ".safetensors"; }

// Checks a float matrix: shape [rows, cols] and every value finite.
void check_matrix(const torch::Tensor& t, int64_t rows, int64_t cols, const std::string& where,
                  const std::string& what) {
  if (!t.defined()) fail(where, what + " is missing");
  if (t.dim() != 2 || t.size(0) != rows || t.size(1) != cols) {
    fail(where, what + " has shape " + c10::str(t.sizes()) + ", expected [" + std::to_string(rows) + ", " +
                    std::to_string(cols) + "]");
  }
  if (t.scalar_type() != torch::kFloat32) fail(where, what + " must be float32");
  // One pass over the values without temporaries (isfinite() would allocate a mask as large).
  const torch::Tensor c = t.contiguous();
  const int64_t i = util::first_non_finite(c.data_ptr<float>(), c.numel());
  if (i >= 0) fail(where, what + " holds NaN or Inf (row " + std::to_string(i / cols) + ")");
}

std::string join_names(const Dataset& d, const std::vector<int64_t>& ids, size_t limit = 5) {
  std::string out;
  for (size_t i = 0; i < ids.size() && i < limit; ++i) {
    if (!out.empty()) out += ", ";
    out += d.classes[ids[i]].name;
  }
  if (ids.size() > limit) out += ", ...";
  return out;
}

std::vector<int64_t> missing_from(const std::vector<int64_t>& subset, const std::vector<int64_t>& superset) {
  std::vector<int64_t> out;
  std::set_difference(subset.begin(), subset.end(), superset.begin(), superset.end(), std::back_inserter(out));
  return out;
}

std::vector<int64_t> shared(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  std::vector<int64_t> out;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

}  // namespace

int64_t Dataset::class_id(const std::string& class_name) const {
  for (size_t i = 0; i < classes.size(); ++i) {
    if (classes[i].name == class_name) return static_cast<int64_t>(i);
  }
  throw std::invalid_argument("unknown class '" + class_name + "' in dataset '" + name + "'");
}

const std::vector<int64_t>& Dataset::class_split(const std::string& split) const {
  const auto it = class_splits.find(split);
  if (it == class_splits.end()) throw std::invalid_argument("dataset '" + name + "' has no class split '" + split + "'");
  return it->second;
}

const VideoSplit& Dataset::video_split(const std::string& split) const {
  const auto it = video_splits.find(split);
  if (it == video_splits.end()) throw std::invalid_argument("dataset '" + name + "' has no video split '" + split + "'");
  return it->second;
}

void validate_dataset(const Dataset& d, const std::string& where) {
  const int64_t C = d.num_classes();
  if (C == 0) fail(where, "lists no classes");
  {
    std::set<std::string> names;
    for (const auto& c : d.classes) {
      if (c.name.empty()) fail(where, "a class has an empty name");
      if (!names.insert(c.name).second) fail(where, "class '" + c.name + "' is listed twice");
    }
  }
  if (d.visual_dim == 0 && d.audio_dim == 0) fail(where, "has neither visual nor audio features");
  if (d.clip_dim == 0 && d.clap_dim == 0) fail(where, "has neither CLIP nor CLAP class-text embeddings");

  const std::string text_where = (fs::path(where) / kClassTextFile).string();
  for (const auto& [dim, tensor, label] :
       {std::tuple{d.clip_dim, &d.clip_text, "CLIP"}, std::tuple{d.clap_dim, &d.clap_text, "CLAP"}}) {
    if (dim == 0) continue;
    if (tensor->defined() && tensor->dim() == 2 && tensor->size(0) != C) {
      fail(text_where, std::string(label) + " embeddings have " + std::to_string(tensor->size(0)) + " rows for " +
                           std::to_string(C) + " classes: every class needs a text embedding");
    }
    check_matrix(*tensor, C, dim, text_where, std::string(label) + " class-text embeddings");
    // An all-zero row is how a missing embedding shows up after padding; it would silently
    // make that class unreachable, so name it.
    const torch::Tensor empty_rows = (tensor->abs().sum(1) == 0).nonzero();
    if (empty_rows.size(0) > 0) {
      const int64_t c = empty_rows[0][0].item<int64_t>();
      fail(text_where, "class '" + d.classes[c].name + "' has no " + label + " text embedding (all-zero row)");
    }
  }

  for (const char* split : kClassSplitNames) {
    const auto it = d.class_splits.find(split);
    if (it == d.class_splits.end()) fail(where, std::string("class split '") + split + "' is missing");
    const auto& ids = it->second;
    if (ids.empty()) fail(where, std::string("class split '") + split + "' is empty");
    if (!std::is_sorted(ids.begin(), ids.end()) || std::adjacent_find(ids.begin(), ids.end()) != ids.end()) {
      fail(where, std::string("class split '") + split + "' must be sorted and free of duplicates");
    }
    if (ids.front() < 0 || ids.back() >= C) fail(where, std::string("class split '") + split + "' holds an unknown class id");
  }
  const auto& s1_train = d.class_splits.at("stage_1_train");
  const auto& s1_val_seen = d.class_splits.at("stage_1_val_seen");
  const auto& s1_val_unseen = d.class_splits.at("stage_1_val_unseen");
  const auto& s2_train = d.class_splits.at("stage_2_train");
  const auto& s2_test_seen = d.class_splits.at("stage_2_test_seen");
  const auto& s2_test_unseen = d.class_splits.at("stage_2_test_unseen");
  auto require_subset = [&](const std::vector<int64_t>& sub, const std::vector<int64_t>& sup, const char* a,
                            const char* b) {
    const auto extra = missing_from(sub, sup);
    if (!extra.empty()) fail(where, std::string(a) + " classes must be " + b + " classes, but these are not: " + join_names(d, extra));
  };
  auto require_disjoint = [&](const std::vector<int64_t>& a, const std::vector<int64_t>& b, const char* an,
                              const char* bn) {
    const auto both = shared(a, b);
    if (!both.empty()) fail(where, std::string(an) + " and " + bn + " share classes: " + join_names(d, both));
  };
  require_subset(s1_val_seen, s1_train, "stage_1_val_seen", "stage_1_train");
  require_subset(s2_test_seen, s2_train, "stage_2_test_seen", "stage_2_train");
  require_subset(s1_train, s2_train, "stage_1_train", "stage_2_train");
  require_subset(s1_val_unseen, s2_train, "stage_1_val_unseen", "stage_2_train");
  require_disjoint(s1_train, s1_val_unseen, "stage_1_train", "stage_1_val_unseen");
  require_disjoint(s2_train, s2_test_unseen, "stage_2_train", "stage_2_test_unseen");

  const std::map<std::string, std::vector<int64_t>> video_classes = {
      {"stage_1_train", s1_train},
      {"stage_1_val_seen", s1_val_seen},
      {"stage_1_val_unseen", s1_val_unseen},
      {"stage_2_test_seen", s2_test_seen},
      {"stage_2_test_unseen", s2_test_unseen}};
  for (const char* split : kVideoSplitNames) {
    const std::string split_where = (fs::path(where) / video_file_name(split)).string();
    const auto it = d.video_splits.find(split);
    if (it == d.video_splits.end()) fail(split_where, "video split is missing");
    const VideoSplit& v = it->second;
    const int64_t N = v.size();
    if (N == 0) fail(split_where, "video split is empty");
    if (d.visual_dim > 0) check_matrix(v.visual, N, d.visual_dim, split_where, "visual features");
    if (d.audio_dim > 0) check_matrix(v.audio, N, d.audio_dim, split_where, "audio features");
    if (!v.labels.defined() || v.labels.dim() != 1 || v.labels.size(0) != N || v.labels.scalar_type() != torch::kInt64) {
      fail(split_where, "labels must be int64 of shape [" + std::to_string(N) + "] (one per video id)");
    }
    const auto& allowed = video_classes.at(split);
    std::vector<bool> in_split(static_cast<size_t>(C), false);
    for (int64_t c : allowed) in_split[c] = true;
    const auto* labels = v.labels.data_ptr<int64_t>();
    for (int64_t i = 0; i < N; ++i) {
      if (labels[i] < 0 || labels[i] >= C) {
        fail(split_where, "video '" + v.video_ids[i] + "' has label " + std::to_string(labels[i]) + ", outside [0, " +
                              std::to_string(C) + ")");
      }
      if (!in_split[labels[i]]) {
        fail(split_where, "video '" + v.video_ids[i] + "' is labelled '" + d.classes[labels[i]].name +
                              "', which is not a class of " + split);
      }
    }
  }
}

namespace {

json to_manifest(const Dataset& d) {
  json m;
  m["format"] = kFormatName;
  m["format_version"] = kFormatVersion;
  m["name"] = d.name;
  m["description"] = d.description;
  m["features"] = json::object();
  if (d.visual_dim > 0) m["features"]["visual"] = d.visual_dim;
  if (d.audio_dim > 0) m["features"]["audio"] = d.audio_dim;
  m["class_text"] = json::object();
  if (d.clip_dim > 0) m["class_text"]["clip"] = d.clip_dim;
  if (d.clap_dim > 0) m["class_text"]["clap"] = d.clap_dim;
  m["class_text_file"] = kClassTextFile;
  m["classes"] = json::array();
  for (const auto& c : d.classes) m["classes"].push_back({{"name", c.name}, {"display_name", c.display_name}});
  for (const char* split : kClassSplitNames) {
    json names = json::array();
    for (int64_t id : d.class_splits.at(split)) names.push_back(d.classes[id].name);
    m["class_splits"][split] = names;
  }
  for (const char* split : kVideoSplitNames) {
    m["video_splits"][split] = {{"file", video_file_name(split)}, {"video_ids", d.video_splits.at(split).video_ids}};
  }
  return m;
}

int64_t optional_dim(const json& section, const char* key, const std::string& where) {
  if (!section.contains(key)) return 0;
  const auto& v = section[key];
  if (!v.is_number_integer() || v.get<int64_t>() <= 0) fail(where, std::string("dimension '") + key + "' must be a positive integer");
  return v.get<int64_t>();
}

}  // namespace

Dataset load_dataset(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) fail(dir.string(), "dataset directory not found");
  const fs::path manifest_path = dir / "manifest.json";
  const std::string where = manifest_path.string();
  json m;
  try {
    m = json::parse(io::read_file(manifest_path));
  } catch (const json::exception& e) {
    fail(where, std::string("not valid JSON (") + e.what() + ")");
  }
  Dataset d;
  try {
    if (m.value("format", std::string()) != kFormatName) fail(where, std::string("not an avgzsl dataset manifest (format must be \"") + kFormatName + "\")");
    if (m.value("format_version", 0) != kFormatVersion) {
      fail(where, "unsupported format_version " + m.value("format_version", json()).dump() + " (this build reads " + std::to_string(kFormatVersion) + ")");
    }
    d.name = m.value("name", dir.filename().string());
    d.description = m.value("description", std::string());
    const json features = m.value("features", json::object());
    const json class_text = m.value("class_text", json::object());
    d.visual_dim = optional_dim(features, "visual", where);
    d.audio_dim = optional_dim(features, "audio", where);
    d.clip_dim = optional_dim(class_text, "clip", where);
    d.clap_dim = optional_dim(class_text, "clap", where);

    if (!m.contains("classes") || !m["classes"].is_array()) fail(where, "'classes' must be a list");
    for (const auto& c : m["classes"]) {
      if (!c.is_object() || !c.contains("name") || !c["name"].is_string()) fail(where, "every class needs a string 'name'");
      d.classes.push_back({c["name"].get<std::string>(), c.value("display_name", c["name"].get<std::string>())});
    }
    std::map<std::string, int64_t> ids;
    for (size_t i = 0; i < d.classes.size(); ++i) ids.emplace(d.classes[i].name, static_cast<int64_t>(i));

    const json class_splits = m.value("class_splits", json::object());
    for (const char* split : kClassSplitNames) {
      if (!class_splits.contains(split)) fail(where, std::string("class split '") + split + "' is missing");
      std::vector<int64_t> list;
      for (const auto& name : class_splits[split]) {
        if (!name.is_string()) fail(where, std::string("class split '") + split + "' must list class names");
        const auto it = ids.find(name.get<std::string>());
        if (it == ids.end()) fail(where, std::string("class split '") + split + "' names unknown class '" + name.get<std::string>() + "'");
        list.push_back(it->second);
      }
      std::sort(list.begin(), list.end());
      d.class_splits[split] = std::move(list);
    }

    // A dataset's files lie in its folder: a manifest must not make avgzsl read elsewhere.
    auto inside = [&](const std::string& name, const std::string& what) {
      const fs::path relative(name);
      bool escapes = relative.empty() || relative.is_absolute();
      for (const fs::path& part : relative) escapes |= part == "..";
      if (escapes) fail(where, what + " '" + name + "' is not a file inside the dataset folder");
      return dir / relative;
    };
    const fs::path text_path = inside(m.value("class_text_file", std::string(kClassTextFile)), "class_text_file");
    if (d.clip_dim > 0 || d.clap_dim > 0) {
      io::SafetensorsFile text(text_path);
      if (d.clip_dim > 0) d.clip_text = text.tensor("clip", torch::kFloat32);
      if (d.clap_dim > 0) d.clap_text = text.tensor("clap", torch::kFloat32);
    }

    const json video_splits = m.value("video_splits", json::object());
    for (const char* split : kVideoSplitNames) {
      if (!video_splits.contains(split)) fail(where, std::string("video split '") + split + "' is missing");
      const json& entry = video_splits[split];
      VideoSplit v;
      if (!entry.contains("video_ids") || !entry["video_ids"].is_array()) fail(where, std::string("video split '") + split + "' lacks its 'video_ids' list");
      for (const auto& id : entry["video_ids"]) {
        if (!id.is_string()) fail(where, std::string("video split '") + split + "' holds a non-string video id");
        v.video_ids.push_back(id.get<std::string>());
      }
      const fs::path file = inside(entry.value("file", video_file_name(split)), std::string("the file of video split '") + split + "'");
      io::SafetensorsFile tensors(file);
      if (d.visual_dim > 0) v.visual = tensors.tensor("visual", torch::kFloat32);
      if (d.audio_dim > 0) v.audio = tensors.tensor("audio", torch::kFloat32);
      v.labels = tensors.tensor("label", torch::kInt64);
      d.video_splits[split] = std::move(v);
    }
  } catch (const json::exception& e) {
    fail(where, std::string("malformed manifest (") + e.what() + ")");
  }
  validate_dataset(d, dir.string());
  return d;
}

std::vector<std::string> video_leaks(const Dataset& d) {
  std::map<std::string, std::vector<std::string>> splits_of;   // id -> the splits listing it, in order
  for (const char* split : kVideoSplitNames) {
    const auto it = d.video_splits.find(split);
    if (it == d.video_splits.end()) continue;
    for (const std::string& id : it->second.video_ids) splits_of[id].push_back(split);
  }
  auto is = [](const std::string& split, const char* prefix) { return split.rfind(prefix, 0) == 0; };
  std::vector<std::string> leaks;
  for (const auto& [id, splits] : splits_of) {
    if (splits.size() < 2) continue;
    for (size_t a = 0; a < splits.size(); ++a) {
      for (size_t b = a + 1; b < splits.size(); ++b) {
        const std::string &x = splits[a], &y = splits[b];
        const bool leak = x == y || (x == "stage_1_train" && is(y, "stage_1_val")) ||
                          (is(x, "stage_1_") && is(y, "stage_2_test"));
        if (leak) leaks.push_back(id + (x == y ? ": twice in " + x : ": in " + x + " and " + y));
      }
    }
  }
  return leaks;
}

void check_dataset_destination(const fs::path& dir, bool replace_existing) {
  io::check_output_directory(dir);
  std::error_code ec;
  if (!replace_existing && fs::exists(dir, ec)) {
    throw std::runtime_error(dir.string() + ": already exists; choose a new output directory");
  }
}

void save_dataset(const Dataset& d, const fs::path& dir, bool replace_existing) {
  validate_dataset(d, d.name);
  io::StagedDirectory staged(dir, replace_existing);
  fs::create_directories(staged.path() / "videos");
  io::NamedTensors text;
  if (d.clip_dim > 0) text.emplace_back("clip", d.clip_text);
  if (d.clap_dim > 0) text.emplace_back("clap", d.clap_text);
  io::save_safetensors(staged.path() / kClassTextFile, text);
  for (const char* split : kVideoSplitNames) {
    const VideoSplit& v = d.video_splits.at(split);
    io::NamedTensors tensors;
    if (d.visual_dim > 0) tensors.emplace_back("visual", v.visual);
    if (d.audio_dim > 0) tensors.emplace_back("audio", v.audio);
    tensors.emplace_back("label", v.labels);
    io::save_safetensors(staged.path() / video_file_name(split), tensors);
  }
  io::write_file_atomically(staged.path() / "manifest.json", to_manifest(d).dump(1) + "\n");
  staged.commit();
}

}  // namespace avgzsl::data
