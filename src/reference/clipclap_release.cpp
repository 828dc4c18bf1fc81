#include "avgzsl/reference/clipclap_release.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>

#include "avgzsl/io/atomic_file.h"
#include "avgzsl/io/csv_table.h"
#include "avgzsl/io/mapped_file.h"
#include "avgzsl/io/numpy_file.h"
#include "avgzsl/io/pickle_writer.h"
#include "avgzsl/io/python_pickle.h"
#include "avgzsl/util/float_values.h"

#include <c10/util/Half.h>

namespace fs = std::filesystem;

namespace avgzsl::reference {

ClassTextRows parse_class_text_rows(const std::string& text) {
  if (text == "reference") return ClassTextRows::kReference;
  if (text == "by-name") return ClassTextRows::kByName;
  throw std::invalid_argument("unknown class-text rule '" + text + "' (expected reference or by-name)");
}

std::string to_string(ClassTextRows rows) { return rows == ClassTextRows::kReference ? "reference" : "by-name"; }

namespace {

// The per-dataset file names hard-coded in the reference's dataset classes.
struct ReleaseLayout {
  std::string name;
  std::string names_csv;       // class-split/<names_csv>
  std::string display_column;  // its column of display names (the embeddings' keys)
  std::string text_tag;        // text/word_embeddings_<tag>_normed.npy
};

const std::vector<ReleaseLayout>& layouts() {
  static const std::vector<ReleaseLayout> all = {
      {"UCF", "ucf_clip_class_names.csv", "clip_class_name", "ucf"},
      {"ActivityNet", "activitynet_w2v_class_names.csv", "manual", "activitynet"},
      {"VGGSound", "vggsound_w2v_class_names.csv", "manual", "vggsound"},
  };
  return all;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

const ReleaseLayout& find_layout(const std::string& name) {
  std::string known;
  for (const ReleaseLayout& l : layouts()) {
    if (lower(l.name) == lower(name)) return l;
    known += (known.empty() ? "" : ", ") + l.name;
  }
  throw std::invalid_argument("unknown release dataset '" + name + "' (expected " + known + ")");
}

const std::array<std::string, 2> kModalityFolders = {"video", "audio"};

// Lines of a class list, stripped like Python's str.strip(); blank lines are ignored.
std::vector<std::string> read_name_list(const fs::path& path) {
  if (!fs::is_regular_file(path)) throw std::runtime_error(path.string() + ": file not found");
  const std::string text = io::read_file(path);
  std::vector<std::string> names;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    const auto not_space = [](unsigned char c) { return !std::isspace(c); };
    line.erase(line.begin(), std::find_if(line.begin(), line.end(), not_space));
    line.erase(std::find_if(line.rbegin(), line.rend(), not_space).base(), line.end());
    if (!line.empty()) names.push_back(line);
    start = end + 1;
  }
  return names;
}

// Class ids as the reference assigns them: index in the sorted all_class.txt, looked up
// case-insensitively.
struct ClassIndex {
  std::vector<std::string> names;
  std::map<std::string, int64_t> by_lower_name;

  int64_t find(const std::string& name) const {
    const auto it = by_lower_name.find(lower(name));
    return it == by_lower_name.end() ? -1 : it->second;
  }
  int64_t at(const std::string& name, const fs::path& source) const {
    const int64_t id = find(name);
    if (id < 0) throw std::runtime_error(source.string() + ": class '" + name + "' is not in all_class.txt");
    return id;
  }
};

// `names` in class-id order; `source` names the file for the duplicate error.
ClassIndex make_class_index(std::vector<std::string> names, const std::string& source) {
  ClassIndex index;
  index.names = std::move(names);
  for (size_t i = 0; i < index.names.size(); ++i) {
    if (!index.by_lower_name.emplace(lower(index.names[i]), static_cast<int64_t>(i)).second) {
      throw std::runtime_error(source + ": class '" + index.names[i] + "' is listed twice");
    }
  }
  return index;
}

ClassIndex read_class_index(const fs::path& path) {
  std::vector<std::string> names = read_name_list(path);
  if (names.empty()) throw std::runtime_error(path.string() + ": no classes");
  std::sort(names.begin(), names.end());
  return make_class_index(std::move(names), path.string());
}

// The float dtypes a release may store its vectors in: float32 as the reference's scripts write
// it, float16 where CLIP ran in half precision (clip.load on CUDA) and nothing cast it, float64
// where numpy promoted it. Returns the element size; 0 for any other dtype.
int64_t float_item_size(const std::string& descr) {
  if (descr.size() != 3 || (descr[0] != '<' && descr[0] != '>') || descr[1] != 'f') return 0;
  return descr[2] == '2' || descr[2] == '4' || descr[2] == '8' ? descr[2] - '0' : 0;
}

std::string float_dtype_name(const std::string& descr) {
  return descr[2] == '2' ? "float16" : descr[2] == '4' ? "float32" : "float64";
}

// Element `i` of little- or big-endian float data of `size` bytes, as a double.
double float_element(const char* data, int64_t i, int64_t size, bool big_endian) {
  unsigned char b[8];
  std::memcpy(b, data + i * size, static_cast<size_t>(size));
  if (big_endian) std::reverse(b, b + size);
  if (size == 2) {
    uint16_t bits;
    std::memcpy(&bits, b, 2);
    return static_cast<float>(c10::Half(bits, c10::Half::from_bits()));
  }
  if (size == 4) {
    float f;
    std::memcpy(&f, b, 4);
    return f;
  }
  double d;
  std::memcpy(&d, b, 8);
  return d;
}

// Names a vector in an error message; called only when there is an error.
using VectorName = std::function<std::string()>;

// One stored vector: where its values lie in a file's bytes, and how they are stored.
struct StoredVector {
  const char* data = nullptr;
  int64_t item = 4;  // bytes per value: 2, 4 or 8
  bool big_endian = false;
};

// Checks one pickled vector (1-D, or [1, D]) of float16, float32 or float64 without touching its
// values: dtype, shape, and length `dim` (set by the first vector); records the stored dtype in
// `dtypes`.
StoredVector stored_vector(const io::PickleDocument& doc, io::PyIndex index, int64_t& dim, const VectorName& what,
                           std::set<std::string>& dtypes) {
  const io::PyValue& a = doc.at(index);
  if (a.kind != io::PyKind::kArray) doc.expect(index, io::PyKind::kArray, what());  // throws naming it
  const int64_t item = float_item_size(a.dtype);
  if (item == 0) {
    throw std::runtime_error(doc.source() + ": " + what() + " has dtype " + a.dtype + ", expected float32 (or float16, float64)");
  }
  if (!(a.shape.size() == 1 || (a.shape.size() == 2 && a.shape[0] == 1))) {
    throw std::runtime_error(doc.source() + ": " + what() + " is not a vector (" + std::to_string(a.shape.size()) + "-D)");
  }
  const int64_t n = a.shape.back();
  if (dim == 0) dim = n;
  if (n != dim || n == 0) {
    throw std::runtime_error(doc.source() + ": " + what() + " has " + std::to_string(n) + " values, expected " + std::to_string(dim));
  }
  dtypes.insert(float_dtype_name(a.dtype));
  return {a.text.data(), item, a.dtype[0] == '>'};
}

// Writes a stored vector's `dim` values to `out` as float32, checking that each is finite and,
// stored wider, within float32's range. `source` and `what` name it in the error.
void copy_vector(const StoredVector& v, int64_t dim, float* out, const std::string& source, const VectorName& what) {
  if (v.item == 4 && !v.big_endian) {
    std::memcpy(out, v.data, static_cast<size_t>(dim) * sizeof(float));  // the common case: one copy
  } else {
    for (int64_t i = 0; i < dim; ++i) {
      const double x = float_element(v.data, i, v.item, v.big_endian);
      if (std::isfinite(x) && std::abs(x) > std::numeric_limits<float>::max()) {
        throw std::runtime_error(source + ": " + what() + " holds " + fmt::format("{:g}", x) + ", outside float32's range");
      }
      out[i] = static_cast<float>(x);
    }
  }
  if (util::first_non_finite(out, dim) >= 0) throw std::runtime_error(source + ": " + what() + " holds NaN or Inf");
}

// One <Class>.pkl: {features: [vector, ...], video_names: [str|bytes, ...], fps: [int, ...]},
// mapped; its vectors are copied out by copy_class_file once the split's size is known.
struct ClassFile {
  io::MappedFile file;
  std::vector<std::string> names;
  std::vector<StoredVector> vectors;  // one per name, inside `file`
  int64_t unnamed_extra = 0;  // names beyond the features (dropped, as read_features pairs by position)
  // Kept only where vectors lie in bytes the parser decoded (protocol 2 stores array data as
  // latin-1 text), not in the file.
  std::unique_ptr<const io::PickleDocument> decoded;

  std::string what(size_t i) const {
    std::string text = "feature " + std::to_string(i);
    if (i < names.size()) text += " (video '" + names[i] + "')";
    return text;
  }
};

ClassFile read_class_file(const fs::path& path, int64_t& dim, int64_t& bytes_read, std::set<std::string>& dtypes) {
  ClassFile file{io::MappedFile(path), {}, {}, 0, nullptr};
  const std::string_view data = file.file.bytes();
  bytes_read += static_cast<int64_t>(data.size());
  io::PickleDocument doc = io::parse_pickle(data, path.string());
  const io::PyValue& dict = doc.expect(doc.root(), io::PyKind::kDict, "the pickled object");
  const io::PyIndex features = doc.get(dict, "features");
  const io::PyValue& fv = doc.at(features);
  if (fv.kind == io::PyKind::kArray && fv.shape.size() == 2 && float_item_size(fv.dtype) > 0) {
    throw std::runtime_error(path.string() + ": 'features' is one 2-D array; expected a list of vectors");
  }
  const std::vector<io::PyIndex>& vectors = doc.sequence(features, "'features'");
  const std::vector<io::PyIndex>& names = doc.sequence(doc.get(dict, "video_names"), "'video_names'");
  const size_t named = std::min(names.size(), vectors.size());
  file.names.reserve(named);
  for (size_t i = 0; i < named; ++i) file.names.emplace_back(doc.text(names[i], "video name " + std::to_string(i)));
  file.vectors.reserve(vectors.size());
  uint64_t stored_bytes = 0;
  for (size_t i = 0; i < vectors.size(); ++i) {
    file.vectors.push_back(stored_vector(doc, vectors[i], dim, [&] { return file.what(i); }, dtypes));
    stored_bytes += static_cast<uint64_t>(dim * file.vectors.back().item);
  }
  // A real file stores every vector's bytes; one array referenced many times would let a small
  // file claim unbounded memory.
  if (stored_bytes > data.size()) {
    throw std::runtime_error(path.string() + ": more feature data than the file holds (one array referenced many times?)");
  }
  if (names.size() < vectors.size()) {
    throw std::runtime_error(path.string() + ": " + std::to_string(vectors.size()) + " features but only " +
                             std::to_string(names.size()) + " video names");
  }
  file.unnamed_extra = static_cast<int64_t>(names.size() - vectors.size());
  const auto in_file = [&](const StoredVector& v) { return v.data >= data.data() && v.data < data.data() + data.size(); };
  if (!std::all_of(file.vectors.begin(), file.vectors.end(), in_file)) {
    file.decoded = std::make_unique<const io::PickleDocument>(std::move(doc));  // moving keeps its strings in place
  }
  return file;
}

// Copies a class file's vectors as rows of `dim` floats from `out` on and returns the end; with
// `out` null, only checks their values (a class the split leaves out).
float* copy_class_file(const ClassFile& f, int64_t dim, float* out) {
  f.file.check_size();  // mapped during the first pass: a file truncated since would raise SIGBUS
  const std::string source = f.file.path().string();
  std::vector<float> scratch(out == nullptr ? static_cast<size_t>(dim) : 0);
  for (size_t i = 0; i < f.vectors.size(); ++i) {
    copy_vector(f.vectors[i], dim, out == nullptr ? scratch.data() : out, source, [&] { return f.what(i); });
    if (out != nullptr) out += dim;
  }
  return out;
}

// The reference asserts that a class's audio and video files list the same videos.
void check_same_videos(const ClassFile& video, const ClassFile& audio) {
  if (video.names != audio.names) {
    throw std::runtime_error(audio.file.path().string() + ": lists other videos than " + video.file.path().string() + " (" +
                             std::to_string(audio.names.size()) + " vs " + std::to_string(video.names.size()) + ")");
  }
}

// The class files of one split folder, sorted by file name.
std::vector<fs::path> class_files(const fs::path& folder, std::vector<std::string>& notes) {
  if (!fs::is_directory(folder)) throw std::runtime_error(folder.string() + ": split folder not found");
  std::vector<fs::path> files;
  int64_t ignored = 0;
  for (const auto& entry : fs::directory_iterator(folder)) {
    if (entry.path().extension() == ".pkl") files.push_back(entry.path());
    else ++ignored;
  }
  if (ignored > 0) notes.push_back(fmt::format("{}: ignored {} entries that are not .pkl files", folder.string(), ignored));
  std::sort(files.begin(), files.end());
  return files;
}

// A text-embedding .npy: {display name: float32 vector}.
struct TextEmbeddings {
  std::vector<std::string> keys;  // sorted, as dict(sorted(data_raw.items()))
  std::vector<std::vector<float>> vectors;
  int64_t dim = 0;
};

TextEmbeddings read_text_embeddings(const fs::path& path, int64_t& bytes_read, std::set<std::string>& dtypes) {
  if (!fs::is_regular_file(path)) throw std::runtime_error(path.string() + ": file not found");
  const io::MappedFile file(path);
  bytes_read += static_cast<int64_t>(file.size());
  const io::NpyObject npy = io::parse_npy_object(file.bytes(), path.string());
  const io::PickleDocument& doc = npy.document;
  const io::PyValue& dict = doc.expect(npy.item, io::PyKind::kDict, "the saved object");
  std::vector<std::pair<std::string, StoredVector>> entries;
  TextEmbeddings text;
  uint64_t stored_bytes = 0;
  for (size_t i = 0; i + 1 < dict.items.size(); i += 2) {
    std::string key(doc.text(dict.items[i], "a key"));
    const auto what = [&] { return "the embedding of '" + key + "'"; };
    entries.emplace_back(key, stored_vector(doc, dict.items[i + 1], text.dim, what, dtypes));
    stored_bytes += static_cast<uint64_t>(text.dim * entries.back().second.item);
  }
  if (entries.empty()) throw std::runtime_error(path.string() + ": no embeddings");
  if (stored_bytes > file.size()) {
    throw std::runtime_error(path.string() + ": more embedding data than the file holds (one array referenced many times?)");
  }
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [key, stored] : entries) {
    if (!text.keys.empty() && text.keys.back() == key) throw std::runtime_error(path.string() + ": key '" + key + "' appears twice");
    std::vector<float>& v = text.vectors.emplace_back(static_cast<size_t>(text.dim));
    copy_vector(stored, text.dim, v.data(), path.string(), [&] { return "the embedding of '" + key + "'"; });
    text.keys.push_back(key);
  }
  return text;
}

// Rows of the class-text matrix in class-id order, under the chosen rule.
torch::Tensor class_text_matrix(const TextEmbeddings& text, const ClassIndex& classes,
                                const std::map<std::string, std::string>& display_to_class, ClassTextRows rule,
                                const fs::path& path, std::vector<std::string>& notes) {
  const int64_t C = static_cast<int64_t>(classes.names.size());
  std::vector<int64_t> own_row(static_cast<size_t>(C), -1);  // by-name row of each class
  for (size_t k = 0; k < text.keys.size(); ++k) {
    const auto it = display_to_class.find(text.keys[k]);
    if (it == display_to_class.end()) {
      throw std::runtime_error(path.string() + ": key '" + text.keys[k] + "' is no display name of the class-name CSV");
    }
    const int64_t id = classes.at(it->second, path);
    if (own_row[static_cast<size_t>(id)] >= 0) throw std::runtime_error(path.string() + ": two keys name class '" + it->second + "'");
    own_row[static_cast<size_t>(id)] = static_cast<int64_t>(k);
  }
  for (int64_t c = 0; c < C; ++c) {
    if (own_row[static_cast<size_t>(c)] < 0) {
      throw std::runtime_error(path.string() + ": class '" + classes.names[static_cast<size_t>(c)] + "' has no text embedding");
    }
  }
  torch::Tensor out = torch::empty({C, text.dim}, torch::kFloat32);
  std::vector<std::string> moved;
  for (int64_t c = 0; c < C; ++c) {
    const int64_t row = rule == ClassTextRows::kReference ? c : own_row[static_cast<size_t>(c)];
    std::memcpy(out[c].data_ptr<float>(), text.vectors[static_cast<size_t>(row)].data(), static_cast<size_t>(text.dim) * sizeof(float));
    if (row != own_row[static_cast<size_t>(c)] && moved.size() < 3) {
      moved.push_back("'" + classes.names[static_cast<size_t>(c)] + "' gets '" + text.keys[static_cast<size_t>(row)] + "'");
    }
  }
  if (rule == ClassTextRows::kReference) {
    int64_t count = 0;
    for (int64_t c = 0; c < C; ++c) count += own_row[static_cast<size_t>(c)] != c;
    if (count > 0) {
      std::string examples;
      for (const auto& m : moved) examples += (examples.empty() ? "" : ", ") + m;
      notes.push_back(fmt::format(
          "{}: under the reference's row rule {} of {} classes get another class's embedding ({}{}); "
          "the by-name class-text rule (--class-text by-name) gives each class its own",
          path.filename().string(), count, C, examples, count > 3 ? ", ..." : ""));
    }
  }
  return out;
}

}  // namespace

const std::vector<std::string>& clipclap_release_layouts() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const ReleaseLayout& l : layouts()) n.push_back(l.name);
    return n;
  }();
  return names;
}

namespace {

ClassIndex class_index_of(const std::vector<data::ClassInfo>& classes) {
  std::vector<std::string> names;
  for (const data::ClassInfo& c : classes) names.push_back(c.name);
  return make_class_index(std::move(names), "class list");
}

}  // namespace

ClipClapClassSplits read_clipclap_class_splits(const ClipClapImportOptions& options) {
  const ReleaseLayout& layout = find_layout(options.dataset);
  if (!fs::is_directory(options.root)) throw std::runtime_error(options.root.string() + ": release root not found");
  const fs::path split_dir = options.root / "class-split";
  ClipClapClassSplits out;
  const ClassIndex classes = read_class_index(split_dir / "all_class.txt");
  const int64_t C = static_cast<int64_t>(classes.names.size());

  const fs::path csv_path = split_dir / layout.names_csv;
  if (!fs::is_regular_file(csv_path)) throw std::runtime_error(csv_path.string() + ": file not found");
  const io::CsvTable csv = io::read_csv(csv_path);
  const size_t original_col = csv.column("original", csv_path.string());
  const size_t display_col = csv.column(layout.display_column, csv_path.string());
  std::vector<std::string> display(static_cast<size_t>(C));
  for (const auto& row : csv.rows) {
    const int64_t id = classes.find(row[original_col]);
    if (id < 0) {
      out.notes.push_back(csv_path.filename().string() + ": row '" + row[original_col] + "' is not in all_class.txt (ignored)");
      continue;
    }
    display[static_cast<size_t>(id)] = row[display_col];
  }
  for (int64_t c = 0; c < C; ++c) {
    if (display[static_cast<size_t>(c)].empty()) {
      throw std::runtime_error(csv_path.string() + ": no display name for class '" + classes.names[static_cast<size_t>(c)] + "'");
    }
    out.classes.push_back({classes.names[static_cast<size_t>(c)], display[static_cast<size_t>(c)]});
  }

  std::map<std::string, std::set<int64_t>> lists;
  for (const char* split : data::kClassSplitNames) {
    const fs::path path = split_dir / options.split / (std::string(split) + ".txt");
    std::set<int64_t>& ids = lists[split];
    for (const std::string& name : read_name_list(path)) ids.insert(classes.at(name, path));
    if (ids.empty()) throw std::runtime_error(path.string() + ": no classes");
  }
  std::set<int64_t> stage2 = lists["stage_1_train"];
  stage2.insert(lists["stage_1_val_unseen"].begin(), lists["stage_1_val_unseen"].end());
  if (stage2 != lists["stage_2_train"]) {
    out.notes.push_back("stage_2_train.txt differs from stage_1_train + stage_1_val_unseen; using the latter, as the reference trains on it");
    lists["stage_2_train"] = stage2;
  }
  for (const auto& [split, ids] : lists) out.class_splits[split] = std::vector<int64_t>(ids.begin(), ids.end());
  return out;
}

ClipClapImport import_clipclap_release(const ClipClapImportOptions& options,
                                       const std::function<void(int64_t, int64_t)>& progress) {
  const ReleaseLayout& layout = find_layout(options.dataset);
  const fs::path feature_dir = options.root / "features" / options.features;
  ClipClapImport result;
  data::Dataset& ds = result.dataset;
  std::vector<std::string>& notes = result.notes;
  ClipClapClassSplits class_side = read_clipclap_class_splits(options);
  ds.classes = class_side.classes;
  ds.class_splits = class_side.class_splits;
  notes = class_side.notes;
  const ClassIndex classes = class_index_of(ds.classes);
  std::map<std::string, std::string> display_to_class;
  for (const data::ClassInfo& c : ds.classes) display_to_class[c.display_name] = c.name;
  std::map<std::string, std::set<int64_t>> lists;
  for (const auto& [split, ids] : ds.class_splits) lists[split] = std::set<int64_t>(ids.begin(), ids.end());

  // Text embeddings.
  const fs::path clip_path = feature_dir / "text" / ("word_embeddings_" + layout.text_tag + "_normed.npy");
  const fs::path clap_path = feature_dir / "text" / ("wavcaps_word_embeddings_" + layout.text_tag + "_normed.npy");
  const TextEmbeddings clip = read_text_embeddings(clip_path, result.bytes_read, result.stored_dtypes.text);
  ds.clip_text = class_text_matrix(clip, classes, display_to_class, options.text_rows, clip_path, notes);
  ds.clip_dim = clip.dim;
  if (fs::exists(clap_path)) {
    const TextEmbeddings clap = read_text_embeddings(clap_path, result.bytes_read, result.stored_dtypes.text);
    ds.clap_text = class_text_matrix(clap, classes, display_to_class, options.text_rows, clap_path, notes);
    ds.clap_dim = clap.dim;
  } else {
    notes.push_back(clap_path.string() + ": absent; the dataset has CLIP class text only");
  }

  // Videos: both modalities of every split folder, class file by class file.
  std::map<std::string, std::vector<fs::path>> files;  // folder -> video-modality class files
  int64_t total = 0, done = 0;
  for (const char* folder : data::kVideoSplitNames) {
    files[folder] = class_files(feature_dir / "video" / folder, notes);
    const std::vector<fs::path> audio = class_files(feature_dir / "audio" / folder, notes);
    std::set<std::string> video_stems, audio_stems;
    for (const auto& p : files[folder]) video_stems.insert(p.stem().string());
    for (const auto& p : audio) audio_stems.insert(p.stem().string());
    for (const std::string& stem : video_stems) {
      if (!audio_stems.count(stem)) throw std::runtime_error((feature_dir / "audio" / folder / (stem + ".pkl")).string() + ": file not found (the video features have it)");
    }
    for (const std::string& stem : audio_stems) {
      if (!video_stems.count(stem)) throw std::runtime_error((feature_dir / "video" / folder / (stem + ".pkl")).string() + ": file not found (the audio features have it)");
    }
    total += 2 * static_cast<int64_t>(files[folder].size());
  }
  for (const char* folder : data::kVideoSplitNames) {
    const std::set<int64_t>& keep = lists[folder];
    data::VideoSplit split;
    std::vector<std::pair<ClassFile, ClassFile>> kept;  // (video, audio) per class file
    std::vector<int64_t> labels;
    int64_t dropped_videos = 0, dropped_classes = 0, extra_names = 0;
    for (const fs::path& video_path : files[folder]) {
      const std::string stem = video_path.stem().string();
      const int64_t id = classes.at(stem, video_path);
      const fs::path audio_path = feature_dir / "audio" / folder / video_path.filename();
      ClassFile v = read_class_file(video_path, ds.visual_dim, result.bytes_read, result.stored_dtypes.video);
      ClassFile a = read_class_file(audio_path, ds.audio_dim, result.bytes_read, result.stored_dtypes.audio);
      done += 2;
      if (progress) progress(done, total);
      if (!keep.count(id)) {
        copy_class_file(v, ds.visual_dim, nullptr);
        copy_class_file(a, ds.audio_dim, nullptr);
        check_same_videos(v, a);
        dropped_videos += static_cast<int64_t>(v.names.size());
        ++dropped_classes;
        continue;
      }
      extra_names += v.unnamed_extra;
      labels.insert(labels.end(), v.names.size(), id);
      split.video_ids.insert(split.video_ids.end(), v.names.begin(), v.names.end());  // kept for error messages
      kept.emplace_back(std::move(v), std::move(a));
    }
    if (dropped_classes > 0) {
      notes.push_back(fmt::format("{}: left out {} videos of {} classes that {}.txt does not list", folder, dropped_videos,
                                  dropped_classes, folder));
    }
    if (extra_names > 0) {
      notes.push_back(fmt::format("{}: {} video names without features (dropped; names pair with features by position, as in the reference)",
                                  folder, extra_names));
    }
    const auto n = static_cast<int64_t>(labels.size());
    if (n == 0) throw std::runtime_error((feature_dir / "video" / folder).string() + ": no videos of the split's classes");
    // One allocation per tensor; each value is copied once, from the mapped file into its row.
    split.visual = torch::empty({n, ds.visual_dim}, torch::kFloat32);
    split.audio = torch::empty({n, ds.audio_dim}, torch::kFloat32);
    float* visual_out = split.visual.data_ptr<float>();
    float* audio_out = split.audio.data_ptr<float>();
    for (const auto& [v, a] : kept) {
      visual_out = copy_class_file(v, ds.visual_dim, visual_out);
      check_same_videos(v, a);  // before the audio rows: a file listing more videos would overrun them
      audio_out = copy_class_file(a, ds.audio_dim, audio_out);
    }
    split.labels = torch::from_blob(labels.data(), {n}, torch::kInt64).clone();
    ds.video_splits[folder] = std::move(split);
  }

  for (const auto& [what, dtypes] : {std::pair{"video features", &result.stored_dtypes.video},
                                     std::pair{"audio features", &result.stored_dtypes.audio},
                                     std::pair{"class-text embeddings", &result.stored_dtypes.text}}) {
    if (*dtypes == std::set<std::string>{"float32"}) continue;
    std::string names;
    for (const std::string& d : *dtypes) names += (names.empty() ? "" : " and ") + d;
    notes.push_back(fmt::format("{} are stored as {}; converted to float32", what, names));
  }
  ds.name = layout.name;
  ds.description = fmt::format("imported from the ClipClap-GZSL feature release at {} ({}, features {}, class text rows: {})",
                               fs::absolute(options.root).lexically_normal().string(), options.split, options.features,
                               to_string(options.text_rows));
  data::validate_dataset(ds, options.root.string());
  return result;
}

namespace {

std::string pickled_class_file(const data::VideoSplit& split, const torch::Tensor& features, const std::vector<int64_t>& rows) {
  io::PickleWriter w;
  w.begin_dict();
  w.str("features");
  w.begin_list();
  const torch::Tensor f = features.contiguous();
  for (int64_t r : rows) w.float32_array(f[r].data_ptr<float>(), {f.size(1)});
  w.end_list();
  w.str("video_names");
  w.begin_list();
  for (int64_t r : rows) w.str(split.video_ids[static_cast<size_t>(r)]);
  w.end_list();
  w.str("fps");
  w.begin_list();
  for (size_t i = 0; i < rows.size(); ++i) w.integer(25);
  w.end_list();
  w.end_dict();
  return w.finish();
}

// The display name each class's text vector is written under. By name: its own. Under the
// reference's row rule, the reader gives the class of folder-name rank r the vector stored under
// the display name of rank r, so the vector of that class is written there: the reference (and
// `import-clipclap` by default) then reads back exactly the vectors the dataset holds, and a
// release that was imported under that rule is written back value for value. `moved` counts the
// classes whose vector is stored under another class's display name.
std::vector<std::string> text_keys(const data::Dataset& ds, ClassTextRows rows, int64_t& moved) {
  std::vector<std::string> keys;
  for (const data::ClassInfo& c : ds.classes) keys.push_back(c.display_name);
  moved = 0;
  if (rows == ClassTextRows::kByName) return keys;
  std::vector<size_t> by_folder(ds.classes.size());
  for (size_t i = 0; i < by_folder.size(); ++i) by_folder[i] = i;
  std::sort(by_folder.begin(), by_folder.end(), [&](size_t a, size_t b) { return ds.classes[a].name < ds.classes[b].name; });
  std::vector<std::string> sorted_displays = keys;
  std::sort(sorted_displays.begin(), sorted_displays.end());
  for (size_t rank = 0; rank < by_folder.size(); ++rank) {
    const size_t c = by_folder[rank];
    moved += keys[c] != sorted_displays[rank];
    keys[c] = sorted_displays[rank];
  }
  return keys;
}

std::string lines(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += n + "\n";
  return out;
}

}  // namespace

std::string class_text_npy(const std::vector<std::string>& names, const torch::Tensor& text) {
  TORCH_CHECK(text.dim() == 2 && text.size(0) == static_cast<int64_t>(names.size()), "class_text_npy: ", names.size(),
              " names for embeddings ", text.sizes());
  const torch::Tensor t = text.to(torch::kFloat32).contiguous();
  return io::vector_dict_npy(names, t.data_ptr<float>(), t.size(1));
}

int64_t export_clipclap_release(const data::Dataset& ds, const fs::path& root, const std::string& layout_name, const std::string& split,
                                const std::string& features, bool replace_existing, ClassTextRows text_rows) {
  const ReleaseLayout& layout = find_layout(layout_name);
  data::validate_dataset(ds, "dataset '" + ds.name + "'");
  if (ds.clip_dim == 0) throw std::invalid_argument("dataset '" + ds.name + "' has no CLIP class text, which the release layout requires");
  std::set<std::string> displays;
  for (const data::ClassInfo& c : ds.classes) {
    if (c.display_name.empty() || !displays.insert(c.display_name).second) {
      throw std::invalid_argument("class '" + c.name + "': display names must be non-empty and unique (they key the text embeddings)");
    }
  }
  std::vector<std::string> sorted_names;
  for (const data::ClassInfo& c : ds.classes) sorted_names.push_back(c.name);
  std::sort(sorted_names.begin(), sorted_names.end());
  std::map<std::string, int64_t> label_code;  // the reference's class id: index in sorted names
  for (size_t i = 0; i < sorted_names.size(); ++i) label_code[sorted_names[i]] = static_cast<int64_t>(i);

  io::StagedDirectory staged(root, replace_existing);
  const fs::path split_dir = staged.path() / "class-split";
  fs::create_directories(split_dir / split);
  io::write_file_atomically(split_dir / "all_class.txt", lines(sorted_names));
  {
    std::string csv = "original,manual" + std::string(layout.display_column == "manual" ? "" : "," + layout.display_column) + "\n";
    for (const data::ClassInfo& c : ds.classes) {
      csv += io::csv_field(c.name) + "," + io::csv_field(c.display_name);
      if (layout.display_column != "manual") csv += "," + io::csv_field(c.display_name);
      csv += "\n";
    }
    io::write_file_atomically(split_dir / layout.names_csv, csv);
  }
  for (const char* s : data::kClassSplitNames) {
    std::vector<std::string> names;
    for (int64_t id : ds.class_split(s)) names.push_back(ds.classes[static_cast<size_t>(id)].name);
    std::sort(names.begin(), names.end());
    io::write_file_atomically(split_dir / split / (std::string(s) + ".txt"), lines(names));
  }
  // Video lists per split, as in the release: filename,label,label_code.
  const auto video_csv = [&](std::initializer_list<const char*> folders) {
    std::string csv = "filename,label,label_code\n";
    for (const char* folder : folders) {
      const data::VideoSplit& v = ds.video_split(folder);
      const auto labels = v.labels.accessor<int64_t, 1>();
      for (int64_t i = 0; i < v.size(); ++i) {
        const std::string& name = ds.classes[static_cast<size_t>(labels[i])].name;
        csv += io::csv_field(v.video_ids[static_cast<size_t>(i)]) + "," + io::csv_field(name) + "," + std::to_string(label_code[name]) + "\n";
      }
    }
    return csv;
  };
  for (const char* folder : data::kVideoSplitNames) io::write_file_atomically(split_dir / split / (std::string(folder) + ".csv"), video_csv({folder}));
  io::write_file_atomically(split_dir / split / "stage_2_train.csv", video_csv({"stage_1_train", "stage_1_val_seen", "stage_1_val_unseen"}));

  const fs::path feature_dir = staged.path() / "features" / features;
  for (const char* folder : data::kVideoSplitNames) {
    const data::VideoSplit& v = ds.video_split(folder);
    std::map<int64_t, std::vector<int64_t>> rows_of_class;
    const auto labels = v.labels.accessor<int64_t, 1>();
    for (int64_t i = 0; i < v.size(); ++i) rows_of_class[labels[i]].push_back(i);
    for (const std::string& modality : kModalityFolders) {
      const torch::Tensor& f = modality == "video" ? v.visual : v.audio;
      if (!f.defined()) continue;
      const fs::path dir = feature_dir / modality / folder;
      fs::create_directories(dir);
      for (const auto& [cls, rows] : rows_of_class) {
        io::write_file_atomically(dir / (ds.classes[static_cast<size_t>(cls)].name + ".pkl"), pickled_class_file(v, f, rows));
      }
    }
  }
  fs::create_directories(feature_dir / "text");
  int64_t moved = 0;
  const std::vector<std::string> keys = text_keys(ds, text_rows, moved);
  io::write_file_atomically(feature_dir / "text" / ("word_embeddings_" + layout.text_tag + "_normed.npy"),
                            class_text_npy(keys, ds.clip_text));
  if (ds.clap_dim > 0) {
    io::write_file_atomically(feature_dir / "text" / ("wavcaps_word_embeddings_" + layout.text_tag + "_normed.npy"),
                              class_text_npy(keys, ds.clap_text));
  }
  staged.commit();
  return moved;
}

}  // namespace avgzsl::reference
