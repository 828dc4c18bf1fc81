// Importing the reference's feature release, exporting to it, and its checkpoints: against
// values computed in Python from the reference's rules (tests/fixtures/make_release_fixtures.py)
// and against the real class splits in ../shared/data/avgzsl_splits when present.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "avgzsl/reference/clipclap_release.h"
#include "avgzsl/io/atomic_file.h"
#include "avgzsl/io/csv_table.h"
#include "avgzsl/io/numpy_file.h"
#include "avgzsl/io/pickle_writer.h"
#include "avgzsl/io/safetensors.h"
#include "avgzsl/reference/reference_checkpoint.h"
#include "test_support.h"

namespace avgzsl {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

fs::path release_root(const std::string& tree) { return testing::fixture_dir() / "clipclap_release" / tree / "UCF"; }

reference::ClipClapImportOptions fixture_options(const std::string& tree, reference::ClassTextRows rows = reference::ClassTextRows::kReference) {
  reference::ClipClapImportOptions o;
  o.root = release_root(tree);
  o.dataset = "UCF";
  o.text_rows = rows;
  return o;
}

json expected() { return json::parse(io::read_file(testing::fixture_dir() / "clipclap_release/expected.json")); }

torch::Tensor tensor_of(const json& rows) {
  const auto v = rows.get<std::vector<std::vector<float>>>();
  torch::Tensor t = torch::empty({static_cast<int64_t>(v.size()), static_cast<int64_t>(v.at(0).size())});
  for (size_t i = 0; i < v.size(); ++i) t[static_cast<int64_t>(i)] = torch::tensor(v[i]);
  return t;
}

TEST(ClipClapImport, MatchesTheReferenceRulesAtEveryProtocol) {
  const json e = expected();
  for (const std::string tree : {"release_p2", "release_p4", "release_p5"}) {
    SCOPED_TRACE(tree);
    for (reference::ClassTextRows rows : {reference::ClassTextRows::kReference, reference::ClassTextRows::kByName}) {
      const data::Dataset d = reference::import_clipclap_release(fixture_options(tree, rows)).dataset;
      ASSERT_EQ(d.num_classes(), 7);
      for (int64_t c = 0; c < d.num_classes(); ++c) {
        EXPECT_EQ(d.classes[c].name, e["classes"][c].get<std::string>());
        EXPECT_EQ(d.classes[c].display_name, e["display_names"][d.classes[c].name].get<std::string>());
      }
      for (const auto& [split, names] : e["class_splits"].items()) {
        std::vector<std::string> got;
        for (int64_t id : d.class_split(split)) got.push_back(d.classes[id].name);
        EXPECT_EQ(got, names.get<std::vector<std::string>>()) << split;
      }
      const std::string rule = rows == reference::ClassTextRows::kReference ? "reference" : "by_name";
      EXPECT_TRUE(torch::equal(d.clip_text, tensor_of(e["clip_" + rule]))) << rule;
      EXPECT_TRUE(torch::equal(d.clap_text, tensor_of(e["clap_" + rule]))) << rule;
      for (const auto& [folder, want] : e["video_splits"].items()) {
        const data::VideoSplit& v = d.video_split(folder);
        EXPECT_EQ(v.video_ids, want["video_ids"].get<std::vector<std::string>>()) << folder;
        EXPECT_EQ(std::vector<int64_t>(v.labels.data_ptr<int64_t>(), v.labels.data_ptr<int64_t>() + v.size()),
                  want["labels"].get<std::vector<int64_t>>()) << folder;
        EXPECT_TRUE(torch::equal(v.visual, tensor_of(want["visual"]))) << folder;
        EXPECT_TRUE(torch::equal(v.audio, tensor_of(want["audio"]))) << folder;
      }
    }
  }
}

TEST(ClipClapImport, ReportsWhatItLeftOutAndWhy) {
  const reference::ClipClapImport imported = reference::import_clipclap_release(fixture_options("release_p4"));
  std::string notes;
  for (const auto& n : imported.notes) notes += n + "\n";
  EXPECT_NE(notes.find("stage_2_test_unseen: left out 4 videos of 1 classes"), std::string::npos) << notes;
  EXPECT_NE(notes.find("stage_1_train: 1 video names without features"), std::string::npos) << notes;
  EXPECT_NE(notes.find("4 of 7 classes get another class's embedding"), std::string::npos) << notes;
}

// A writable copy of a fixture release that a test may damage.
struct ReleaseCopy {
  testing::TempDir dir;
  fs::path root;
  ReleaseCopy() : root(dir / "UCF") { fs::copy(release_root("release_p4"), root, fs::copy_options::recursive); }
  fs::path features(const std::string& rest) const { return root / "features/cls_features_non_averaged" / rest; }
};

void expect_import_error(const ReleaseCopy& r, const std::string& file_part, const std::string& problem) {
  reference::ClipClapImportOptions o = fixture_options("release_p4");
  o.root = r.root;
  try {
    reference::import_clipclap_release(o);
    ADD_FAILURE() << "import succeeded; expected: " << problem;
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(file_part), std::string::npos) << what;
    EXPECT_NE(what.find(problem), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
}

TEST(ClipClapImport, BadReleasesFailWithTheFileAndTheProblem) {
  {
    ReleaseCopy r;
    fs::remove_all(r.features("audio/stage_1_val_seen"));
    expect_import_error(r, "audio/stage_1_val_seen", "split folder not found");
  }
  {
    ReleaseCopy r;
    fs::copy_file(r.features("video/stage_1_train/Archery.pkl"), r.features("video/stage_1_train/Juggling.pkl"));
    fs::copy_file(r.features("audio/stage_1_train/Archery.pkl"), r.features("audio/stage_1_train/Juggling.pkl"));
    expect_import_error(r, "Juggling.pkl", "class 'Juggling' is not in all_class.txt");
  }
  {
    ReleaseCopy r;
    io::write_file_atomically(r.root / "class-split/cls_split/stage_1_train.txt", "Archery\nUnicycling\n");
    expect_import_error(r, "stage_1_train.txt", "class 'Unicycling' is not in all_class.txt");
  }
  {
    ReleaseCopy r;  // audio lists other videos than video
    fs::copy_file(r.features("audio/stage_1_train/Archery.pkl"), r.features("audio/stage_1_train/Basketball.pkl"),
                  fs::copy_options::overwrite_existing);
    expect_import_error(r, "audio/stage_1_train/Basketball.pkl", "lists other videos than");
  }
  {
    ReleaseCopy r;  // a class without a text embedding
    io::PickleWriter w;
    const float v[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    w.begin_object_scalar();
    w.begin_dict();
    w.str("Archery");
    w.float32_array(v, {8});
    w.end_dict();
    w.end_object_scalar();
    io::write_file_atomically(r.features("text/word_embeddings_ucf_normed.npy"), io::npy_object_file(w.finish()));
    expect_import_error(r, "word_embeddings_ucf_normed.npy", "has no text embedding");
  }
  const fs::path bad = testing::fixture_dir() / "clipclap_release/bad";
  const std::vector<std::pair<std::string, std::string>> bad_files = {
      {"truncated.pkl", "truncated"},
      {"int64.pkl", "dtype <i8, expected float32"},
      {"float64_out_of_range.pkl", "feature 1 (video 'b') holds 1e+39, outside float32's range"},
      {"hostile_global.pkl", "is not allowed"},
      {"shared_array.pkl", "more feature data than the file holds"},
      {"nan.pkl", "NaN or Inf"},
      {"not_a_pickle.pkl", "corrupt pickle"},
  };
  for (const auto& [file, problem] : bad_files) {
    SCOPED_TRACE(file);
    ReleaseCopy r;
    fs::copy_file(bad / file, r.features("video/stage_1_train/Archery.pkl"), fs::copy_options::overwrite_existing);
    expect_import_error(r, "video/stage_1_train/Archery.pkl", problem);
  }
}

// Class files are memory-mapped and their vectors copied after the whole split folder is read.
// A file that another program truncates in between would raise SIGBUS where the lost pages are
// touched (and give zeros within the last page); the import checks the size again first and names
// the file. An empty file is an error like any truncated pickle.
TEST(ClipClapImport, AClassFileTruncatedDuringTheImportIsAnErrorNotACrash) {
  {
    testing::TempDir dir;
    data::Dataset wide = testing::tiny_dataset(3);  // 16 KB vectors: a class file spans many pages
    wide.visual_dim = 4096;
    for (auto& [name, split] : wide.video_splits) split.visual = torch::randn({split.size(), wide.visual_dim});
    reference::export_clipclap_release(wide, dir / "release", "UCF");
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir / "release/features/cls_features_non_averaged/video" / data::kVideoSplitNames[0])) {
      files.push_back(e.path());
    }
    const fs::path first = *std::min_element(files.begin(), files.end());  // the first class file read
    const auto original_size = fs::file_size(first);
    ASSERT_GT(original_size, 3 * 4096u);
    reference::ClipClapImportOptions o;
    o.root = dir / "release";
    o.dataset = "UCF";
    bool truncated = false;
    try {
      reference::import_clipclap_release(o, [&](int64_t done, int64_t) {
        if (done == 2) {  // its video and audio files are parsed (mapped), nothing copied yet
          fs::resize_file(first, 4096);
          truncated = true;
        }
      });
      ADD_FAILURE() << "import succeeded";
    } catch (const std::runtime_error& e) {
      EXPECT_TRUE(truncated);
      EXPECT_EQ(std::string(e.what()), first.string() + ": shrank from " + std::to_string(original_size) +
                                           " to 4096 bytes while being read (truncated by another program?)");
    }
  }
  {
    ReleaseCopy r;
    io::write_file_atomically(r.features("audio/stage_1_train/Basketball.pkl"), "");
    expect_import_error(r, "audio/stage_1_train/Basketball.pkl", "truncated");
  }
}

TEST(ClipClapExport, ExportThenImportGivesTheSameDataset) {
  const data::Dataset original = testing::tiny_dataset(3);
  testing::TempDir dir;
  reference::export_clipclap_release(original, dir / "release", "UCF");
  reference::ClipClapImportOptions o;
  o.root = dir / "release";
  o.dataset = "UCF";
  o.text_rows = reference::ClassTextRows::kByName;
  const data::Dataset back = reference::import_clipclap_release(o).dataset;
  ASSERT_EQ(back.num_classes(), original.num_classes());
  // Class ids may be renumbered (the release sorts names); compare through names.
  std::map<std::string, int64_t> back_id;
  for (int64_t c = 0; c < back.num_classes(); ++c) back_id[back.classes[c].name] = c;
  for (int64_t c = 0; c < original.num_classes(); ++c) {
    const int64_t b = back_id.at(original.classes[c].name);
    EXPECT_EQ(back.classes[b].display_name, original.classes[c].display_name);
    EXPECT_TRUE(torch::equal(back.clip_text[b], original.clip_text[c]));
    EXPECT_TRUE(torch::equal(back.clap_text[b], original.clap_text[c]));
  }
  for (const auto& [split, ids] : original.class_splits) {
    std::set<std::string> a, b;
    for (int64_t id : ids) a.insert(original.classes[id].name);
    for (int64_t id : back.class_split(split)) b.insert(back.classes[id].name);
    EXPECT_EQ(a, b) << split;
  }
  for (const char* folder : data::kVideoSplitNames) {
    const data::VideoSplit& v = original.video_split(folder);
    const data::VideoSplit& w = back.video_split(folder);
    ASSERT_EQ(v.size(), w.size()) << folder;
    std::map<std::string, int64_t> row_of;
    for (int64_t i = 0; i < w.size(); ++i) row_of[w.video_ids[i]] = i;
    for (int64_t i = 0; i < v.size(); ++i) {
      const int64_t j = row_of.at(v.video_ids[i]);
      EXPECT_EQ(back.classes[w.labels[j].item<int64_t>()].name, original.classes[v.labels[i].item<int64_t>()].name);
      EXPECT_TRUE(torch::equal(w.visual[j], v.visual[i]));
      EXPECT_TRUE(torch::equal(w.audio[j], v.audio[i]));
    }
  }
}

TEST(ClipClapExport, WritesNothingWhenItFails) {
  data::Dataset d = testing::tiny_dataset(1);
  d.classes[1].display_name = d.classes[0].display_name;  // display names key the embeddings
  testing::TempDir dir;
  EXPECT_THROW(reference::export_clipclap_release(d, dir / "release", "UCF"), std::invalid_argument);
  EXPECT_FALSE(fs::exists(dir / "release"));
  EXPECT_THROW(reference::export_clipclap_release(testing::tiny_dataset(1), dir / "release", "Kinetics"), std::invalid_argument);
  EXPECT_FALSE(fs::exists(dir / "release"));
}

TEST(ReferenceCheckpoint, LoadsAndComputesWhatPyTorchComputed) {
  const fs::path dir = testing::fixture_dir() / "clipclap_release";
  const io::SafetensorsFile io_file(dir / "checkpoint_io.safetensors");
  gzsl::ClipClapOptions options;
  options.input_dim = 14;
  options.text_dim = 14;
  options.hidden_dim = 10;
  options.embedding_dim = 4;
  for (const std::string stage : {"stage1", "stage2"}) {  // stage2 carries DataParallel's "module." prefixes
    SCOPED_TRACE(stage);
    const reference::ReferenceCheckpoint ckpt = reference::read_reference_checkpoint(dir / ("ClipClap_model_" + stage + ".pt"));
    EXPECT_EQ(ckpt.epoch, stage == "stage1" ? 4 : 1);
    EXPECT_EQ(ckpt.metric, "score");
    gzsl::ClipClap model = reference::clipclap_from_reference(ckpt, options, stage);
    torch::NoGradGuard no_grad;
    EXPECT_TRUE(torch::allclose(model->embed_videos(io_file.tensor("x")), io_file.tensor(stage + "_theta_o"), 1e-5, 1e-6));
    EXPECT_TRUE(torch::allclose(model->embed_classes(io_file.tensor("t")), io_file.tensor(stage + "_theta_w"), 1e-5, 1e-6));
  }
  options.hidden_dim = 12;
  try {
    reference::clipclap_from_reference(reference::read_reference_checkpoint(dir / "ClipClap_model_stage1.pt"), options, "s1.pt");
    FAIL() << "a width mismatch must be refused";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("s1.pt: tensor 'D_o.fc.0.bias' has shape [10], expected [12]"),
              std::string::npos) << e.what();
  }
  EXPECT_THROW(reference::read_reference_checkpoint(dir / "bad/truncated.pkl"), std::runtime_error);
}

// ---- the real class splits of the three benchmarks ----

fs::path shared_splits() { return fs::path(AVGZSL_SOURCE_DIR) / "../shared/data/avgzsl_splits"; }

struct RealSplit {
  const char* dataset;
  const char* split;
  size_t stage1_train, val_unseen, stage2_train, test_unseen;
};
constexpr RealSplit kRealSplits[] = {
    {"UCF", "cls_split", 30, 12, 42, 6},           {"UCF", "main_split", 30, 12, 42, 9},
    {"ActivityNet", "cls_split", 99, 51, 150, 48}, {"ActivityNet", "main_split", 99, 51, 150, 50},
    {"VGGSound", "cls_split", 138, 69, 207, 64},   {"VGGSound", "main_split", 138, 69, 207, 69},
};

TEST(RealClassSplits, EverySplitParsesWithThePublishedClassCounts) {
  if (!fs::exists(shared_splits())) GTEST_SKIP() << shared_splits() << " is absent";
  for (const RealSplit& s : kRealSplits) {
    SCOPED_TRACE(std::string(s.dataset) + "/" + s.split);
    reference::ClipClapImportOptions o;
    o.root = shared_splits() / s.dataset;
    o.dataset = s.dataset;
    o.split = s.split;
    const reference::ClipClapClassSplits c = reference::read_clipclap_class_splits(o);  // throws if a CSV misses a class
    EXPECT_EQ(c.class_splits.at("stage_1_train").size(), s.stage1_train);
    EXPECT_EQ(c.class_splits.at("stage_1_val_seen").size(), s.stage1_train);
    EXPECT_EQ(c.class_splits.at("stage_1_val_unseen").size(), s.val_unseen);
    EXPECT_EQ(c.class_splits.at("stage_2_train").size(), s.stage2_train);
    EXPECT_EQ(c.class_splits.at("stage_2_test_seen").size(), s.stage2_train);
    EXPECT_EQ(c.class_splits.at("stage_2_test_unseen").size(), s.test_unseen);
    EXPECT_TRUE(c.notes.empty()) << c.notes.front();
    // How many classes the reference's row rule (display-name order) gives another class's text
    // (docs/clipclap_release.md): none in UCF, 8 in ActivityNet, 205 in VGGSound.
    std::vector<std::string> by_display;
    for (const data::ClassInfo& info : c.classes) by_display.push_back(info.display_name);
    std::sort(by_display.begin(), by_display.end());
    int moved = 0;
    for (size_t i = 0; i < c.classes.size(); ++i) moved += by_display[i] != c.classes[i].display_name;
    EXPECT_EQ(moved, std::string(s.dataset) == "UCF" ? 0 : std::string(s.dataset) == "ActivityNet" ? 8 : 205);
    for (const data::ClassInfo& info : c.classes) EXPECT_FALSE(info.display_name.empty()) << info.name;
  }
}

// A release under `dir` with the real class-split folder of `source`, tiny features (video i of
// a class file: [i, class file number]) and one distinct text vector per display name
// ([rank, -rank, 0.5] by sorted display name, so that the row rule's moves show). The videos are
// release_index.json's; where the dataset ships none (VGGSound), two per class of each folder's
// class list.
reference::ClipClapImportOptions write_real_release(const fs::path& source, const std::string& dataset, const std::string& split,
                                         const fs::path& dir) {
  const fs::path root = dir / dataset;
  fs::create_directories(root);
  fs::create_directory_symlink(fs::absolute(source / "class-split"), root / "class-split");
  reference::ClipClapImportOptions o;
  o.root = root;
  o.dataset = dataset;
  o.split = split;
  const reference::ClipClapClassSplits cs = reference::read_clipclap_class_splits(o);
  json folders;
  if (fs::exists(source / "release_index.json")) {
    folders = json::parse(io::read_file(source / "release_index.json"))["folders"];
  } else {
    for (const char* folder : data::kVideoSplitNames) {
      for (int64_t id : cs.class_splits.at(folder)) {
        const std::string& cls = cs.classes[static_cast<size_t>(id)].name;
        folders[folder][cls] = {cls + "_" + folder + "_0", cls + "_" + folder + "_1"};
      }
    }
  }
  const fs::path features = root / "features/cls_features_non_averaged";
  float file_number = 0;
  for (const auto& [folder, classes] : folders.items()) {
    if (folder == "stage_2_train") continue;  // not a feature folder of the release
    for (const auto& [cls, names] : classes.items()) {
      file_number += 1;
      io::PickleWriter w;
      w.begin_dict();
      w.str("features");
      w.begin_list();
      for (size_t i = 0; i < names.size(); ++i) {
        const float vector[2] = {static_cast<float>(i), file_number};
        w.float32_array(vector, {2});
      }
      w.end_list();
      w.str("video_names");
      w.begin_list();
      for (const auto& n : names) w.bytes(n.get<std::string>());
      w.end_list();
      w.end_dict();
      const std::string file = w.finish();
      for (const char* modality : {"video", "audio"}) {
        fs::create_directories(features / modality / folder);
        std::ofstream(features / modality / folder / (cls + ".pkl"), std::ios::binary) << file;
      }
    }
  }
  std::vector<std::string> displays;
  for (const data::ClassInfo& c : cs.classes) displays.push_back(c.display_name);
  std::sort(displays.begin(), displays.end());
  fs::create_directories(features / "text");
  for (const char* prefix : {"word_embeddings_", "wavcaps_word_embeddings_"}) {
    io::PickleWriter w;
    w.begin_object_scalar();
    w.begin_dict();
    for (size_t rank = 0; rank < displays.size(); ++rank) {
      w.str(displays[rank]);
      const float vector[3] = {static_cast<float>(rank), -static_cast<float>(rank), 0.5f};
      w.float32_array(vector, {3});
    }
    w.end_dict();
    w.end_object_scalar();
    std::string tag = dataset;
    for (char& ch : tag) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    std::ofstream(features / "text" / (prefix + tag + "_normed.npy"), std::ios::binary) << io::npy_object_file(w.finish());
  }
  return o;
}

// {key: vector} of a class-text .npy.
std::map<std::string, std::vector<float>> text_file_values(const fs::path& path) {
  const std::string data = io::read_file(path);
  const io::NpyObject npy = io::parse_npy_object(data, path.string());
  const io::PickleDocument& doc = npy.document;
  const io::PyValue& dict = doc.expect(npy.item, io::PyKind::kDict, "text");
  std::map<std::string, std::vector<float>> out;
  for (size_t i = 0; i + 1 < dict.items.size(); i += 2) {
    const io::PyValue& a = doc.at(dict.items[i + 1]);
    std::vector<float> v(a.text.size() / sizeof(float));
    std::memcpy(v.data(), a.text.data(), a.text.size());
    out[std::string(doc.text(dict.items[i], "key"))] = v;
  }
  return out;
}

void expect_same_dataset(const data::Dataset& a, const data::Dataset& b) {
  ASSERT_EQ(a.num_classes(), b.num_classes());
  for (int64_t c = 0; c < a.num_classes(); ++c) {
    EXPECT_EQ(a.classes[c].name, b.classes[c].name);
    EXPECT_EQ(a.classes[c].display_name, b.classes[c].display_name);
  }
  EXPECT_TRUE(torch::equal(a.clip_text, b.clip_text));
  EXPECT_TRUE(torch::equal(a.clap_text, b.clap_text));
  EXPECT_EQ(a.class_splits, b.class_splits);
  for (const char* folder : data::kVideoSplitNames) {
    const data::VideoSplit& v = a.video_split(folder);
    const data::VideoSplit& w = b.video_split(folder);
    ASSERT_EQ(v.size(), w.size()) << folder;
    // Both read class files sorted by name, so rows come in the same order.
    EXPECT_EQ(v.video_ids, w.video_ids) << folder;
    EXPECT_TRUE(torch::equal(v.labels, w.labels)) << folder;
    EXPECT_TRUE(torch::equal(v.visual, w.visual)) << folder;
    EXPECT_TRUE(torch::equal(v.audio, w.audio)) << folder;
  }
}

// Builds a release with the real class splits and the real per-folder video lists
// (release_index.json), tiny random features, and imports it: the videos kept per folder must be
// exactly the split CSV's rows whose class the split's list keeps.
TEST(RealClassSplits, ImportKeepsExactlyTheVideosOfListedClasses) {
  if (!fs::exists(shared_splits())) GTEST_SKIP() << shared_splits() << " is absent";
  for (const RealSplit& s : kRealSplits) {
    const fs::path source = shared_splits() / s.dataset;
    if (!fs::exists(source / "release_index.json")) continue;  // VGGSound ships no index
    SCOPED_TRACE(std::string(s.dataset) + "/" + s.split);
    testing::TempDir dir;
    const reference::ClipClapImportOptions o = write_real_release(source, s.dataset, s.split, dir.path());
    const data::Dataset d = reference::import_clipclap_release(o).dataset;
    for (const char* folder : data::kVideoSplitNames) {
      const io::CsvTable csv = io::read_csv(source / "class-split" / s.split / (std::string(folder) + ".csv"));
      std::set<std::string> keep;
      // Names compare case-insensitively, as in the reference (e.g. UCF's all_class.txt and
      // split files spell HandstandPushups differently).
      const auto lower = [](std::string t) {
        for (char& ch : t) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        return t;
      };
      for (int64_t id : d.class_split(folder)) keep.insert(lower(d.classes[id].name));
      std::multiset<std::string> want, got;
      const size_t file_col = csv.column("filename", "csv"), label_col = csv.column("label", "csv");
      for (const auto& row : csv.rows) {
        if (keep.count(lower(row[label_col]))) want.insert(row[file_col]);
      }
      got.insert(d.video_split(folder).video_ids.begin(), d.video_split(folder).video_ids.end());
      EXPECT_EQ(got, want) << folder;
    }
    if (std::string(s.dataset) == "UCF" && std::string(s.split) == "cls_split") {
      EXPECT_EQ(d.video_split("stage_2_test_unseen").size(), 845);  // 1267 listed, 3 of 9 classes dropped
    }
  }
}

// export(import(release)) rewrites the release's class-text files value for value, and
// import(export(dataset)) is the dataset, on the real class lists of all three benchmarks (where
// the reference's row rule moves 0, 8 and 205 classes' text).
TEST(RealClassSplits, ExportInvertsTheRowRuleSoThatRoundTripsAreExact) {
  if (!fs::exists(shared_splits())) GTEST_SKIP() << shared_splits() << " is absent";
  for (const char* dataset : {"UCF", "ActivityNet", "VGGSound"}) {
    SCOPED_TRACE(dataset);
    testing::TempDir dir;
    const reference::ClipClapImportOptions o = write_real_release(shared_splits() / dataset, dataset, "cls_split", dir / "original");
    const data::Dataset imported = reference::import_clipclap_release(o).dataset;
    const int64_t moved = reference::export_clipclap_release(imported, dir / "exported" / dataset, dataset);
    EXPECT_EQ(moved, std::string(dataset) == "UCF" ? 0 : std::string(dataset) == "ActivityNet" ? 8 : 205);
    std::string tag = dataset;
    for (char& ch : tag) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    for (const std::string prefix : {"word_embeddings_", "wavcaps_word_embeddings_"}) {
      const fs::path relative = "features/cls_features_non_averaged/text/" + prefix + tag + "_normed.npy";
      EXPECT_EQ(text_file_values(dir / "exported" / dataset / relative), text_file_values(o.root / relative)) << prefix;
    }
    reference::ClipClapImportOptions back = o;
    back.root = dir / "exported" / dataset;
    expect_same_dataset(reference::import_clipclap_release(back).dataset, imported);
    // By name, each vector sits under its own class's display name instead.
    EXPECT_EQ(reference::export_clipclap_release(imported, dir / "by_name" / dataset, dataset, "cls_split", "cls_features_non_averaged",
                                      false, reference::ClassTextRows::kByName), 0);
  }
}

// Releases stored as float16 or float64 import as float32: float64 exactly, float16 as its
// values; the import says what it found.
TEST(ClipClapImport, Float16AndFloat64ReleasesConvertToFloat32) {
  reference::ClipClapImportOptions o;
  o.dataset = "UCF";
  o.root = testing::fixture_dir() / "clipclap_release/release_p4/UCF";
  const reference::ClipClapImport reference = reference::import_clipclap_release(o);
  EXPECT_EQ(reference.stored_dtypes.video, std::set<std::string>{"float32"});
  for (const std::string tree : {"release_f16_p2", "release_f16_p5", "release_f64_p3", "release_f64_p4"}) {
    SCOPED_TRACE(tree);
    const bool half = tree.find("f16") != std::string::npos;
    const std::string dtype = half ? "float16" : "float64";
    o.root = testing::fixture_dir() / "clipclap_release" / tree / "UCF";
    const reference::ClipClapImport imported = reference::import_clipclap_release(o);
    EXPECT_EQ(imported.stored_dtypes.video, std::set<std::string>{dtype});
    EXPECT_EQ(imported.stored_dtypes.audio, std::set<std::string>{dtype});
    EXPECT_EQ(imported.stored_dtypes.text, std::set<std::string>{dtype});
    bool noted = false;
    for (const std::string& note : imported.notes) noted |= note == "video features are stored as " + dtype + "; converted to float32";
    EXPECT_TRUE(noted);
    const auto as_stored = [&](const torch::Tensor& t) { return half ? t.to(torch::kFloat16).to(torch::kFloat32) : t; };
    const data::Dataset& d = imported.dataset;
    const data::Dataset& r = reference.dataset;
    EXPECT_EQ(d.clip_text.scalar_type(), torch::kFloat32);
    EXPECT_TRUE(torch::equal(d.clip_text, as_stored(r.clip_text)));
    EXPECT_TRUE(torch::equal(d.clap_text, as_stored(r.clap_text)));
    for (const char* folder : data::kVideoSplitNames) {
      EXPECT_EQ(d.video_split(folder).video_ids, r.video_split(folder).video_ids) << folder;
      EXPECT_TRUE(torch::equal(d.video_split(folder).visual, as_stored(r.video_split(folder).visual))) << folder;
      EXPECT_TRUE(torch::equal(d.video_split(folder).audio, as_stored(r.video_split(folder).audio))) << folder;
    }
  }
}

}  // namespace
}  // namespace avgzsl
