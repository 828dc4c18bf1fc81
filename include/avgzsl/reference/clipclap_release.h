// The reference implementation's feature release (METHOD §9), read into and written from the
// native dataset. The reference's src/dataset.py is the authority on every rule here:
//
//   ROOT/class-split/all_class.txt                 every class (folder-style names)
//   ROOT/class-split/<csv>                         folder name -> display name (UCF:
//                                                  ucf_clip_class_names.csv, column clip_class_name;
//                                                  ActivityNet/VGGSound: <name>_w2v_class_names.csv,
//                                                  column manual)
//   ROOT/class-split/<split>/stage_*.txt           the six class lists (split: cls_split, main_split)
//   ROOT/features/<features>/{video,audio}/<folder>/<Class>.pkl   {features, video_names, fps}
//   ROOT/features/<features>/text/word_embeddings_<name>_normed.npy           CLIP, by display name
//   ROOT/features/<features>/text/wavcaps_word_embeddings_<name>_normed.npy   CLAP, by display name
//
// Reference rules reproduced: class id = index in sorted all_class.txt; class names compare
// case-insensitively (UCFDataset lower-cases); a folder keeps only videos of its split's classes;
// the stage-2 training classes are stage_1_train + stage_1_val_unseen; video names pair with
// feature vectors by position (read_features), so a class file with more names than features
// keeps the first names. Where the reference is order-dependent (it reads class files in
// directory order) we read them sorted by name.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "avgzsl/data/dataset.h"

namespace avgzsl::reference {

// Which class-text row each class gets.
enum class ClassTextRows {
  // The reference's rule: class i (sorted folder names) gets row i of the embeddings sorted by
  // display name. Where the two orders differ the reference trains class X on class Y's text;
  // this reproduces its published numbers.
  kReference,
  // Each class gets the embedding of its own display name (the CSV mapping).
  kByName,
};
ClassTextRows parse_class_text_rows(const std::string& text);
std::string to_string(ClassTextRows rows);

struct ClipClapImportOptions {
  std::filesystem::path root;                          // the dataset root, e.g. .../UCF
  std::string dataset;                                 // UCF, ActivityNet or VGGSound
  std::string split = "cls_split";                     // class-split/<split>/
  std::string features = "cls_features_non_averaged";  // features/<features>/
  ClassTextRows text_rows = ClassTextRows::kReference;
};

// The class side of a release: classes (sorted all_class.txt, display names from the CSV) and the
// six class lists, stage_2_train as the reference trains on it.
struct ClipClapClassSplits {
  std::vector<data::ClassInfo> classes;
  std::map<std::string, std::vector<int64_t>> class_splits;  // split name -> sorted class ids
  std::vector<std::string> notes;
};
ClipClapClassSplits read_clipclap_class_splits(const ClipClapImportOptions& options);

// The dtypes a release stores its vectors in ("float16", "float32", "float64"); the native
// dataset is float32 whatever they are.
struct StoredDtypes {
  std::set<std::string> video, audio, text;
};

struct ClipClapImport {
  data::Dataset dataset;
  std::vector<std::string> notes;  // what was skipped or adjusted, and why; one line each
  int64_t bytes_read = 0;          // feature and embedding files
  StoredDtypes stored_dtypes;
};

// Reads a release. Throws std::runtime_error naming the file and the problem on any defect (a
// missing folder or file, a class unknown to all_class.txt or without a display name or text
// embedding, audio and video files that list different videos, corrupt or hostile pickles,
// dtypes other than float16/32/64, float64 values beyond float32's range, dimensions, NaN or Inf). `progress(done, total)` is called per class file.
ClipClapImport import_clipclap_release(const ClipClapImportOptions& options,
                                       const std::function<void(int64_t, int64_t)>& progress = {});

// Writes `dataset` in the release layout under `root` (which must not exist unless
// `replace_existing`), for the reference code and the other AV-GZSL codebases that read it.
// `layout` picks the file names (UCF, ActivityNet or VGGSound). Per-video fps, which the native
// format does not keep, is written as 25 (the reference's writer's constant). The tree appears
// complete or not at all.
// Class text: under `kReference` (default) each vector is stored under the display name whose
// sorted rank equals its class's folder-name rank, so that the reference's row rule (and
// import-clipclap's default) gives every class exactly the vector the dataset holds, and
// export(import(release)) rewrites the release's text files value for value. `kByName` stores
// each vector under its own class's display name (for code that looks embeddings up by name).
// Returns how many classes' vectors are stored under another class's display name.
int64_t export_clipclap_release(const data::Dataset& dataset, const std::filesystem::path& root, const std::string& layout,
                                const std::string& split = "cls_split",
                                const std::string& features = "cls_features_non_averaged", bool replace_existing = false,
                                ClassTextRows text_rows = ClassTextRows::kReference);

// The release layouts this knows (names as the reference's --dataset_name).
const std::vector<std::string>& clipclap_release_layouts();

// The reference's class-text file: a .npy holding a pickled dict {display name -> float32 [E]}
// (what its np.save of a dict writes); `text` is [names.size(), E].
std::string class_text_npy(const std::vector<std::string>& names, const torch::Tensor& text);

}  // namespace avgzsl::reference
