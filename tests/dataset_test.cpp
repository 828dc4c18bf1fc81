#include "avgzsl/data/dataset.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "avgzsl/data/protocol_sets.h"
#include "avgzsl/data/synthetic.h"
#include "avgzsl/io/atomic_file.h"
#include "avgzsl/io/safetensors.h"
#include "test_support.h"

namespace avgzsl {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

// Saves the tiny dataset, lets `corrupt` damage the copy on disk, and returns the load error.
std::string load_error_after(const std::function<void(const fs::path&)>& corrupt) {
  testing::TempDir dir;
  data::save_dataset(testing::tiny_dataset(), dir / "ds");
  corrupt(dir / "ds");
  try {
    data::load_dataset(dir / "ds");
  } catch (const std::runtime_error& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.find('\n'), std::string::npos) << "one line: " << message;
    return message;
  }
  ADD_FAILURE() << "the damaged dataset loaded";
  return "";
}

void edit_manifest(const fs::path& dir, const std::function<void(json&)>& edit) {
  json m = json::parse(io::read_file(dir / "manifest.json"));
  edit(m);
  io::write_file_atomically(dir / "manifest.json", m.dump());
}

void rewrite_split(const fs::path& dir, const std::string& split,
                   const std::function<void(torch::Tensor&, torch::Tensor&, torch::Tensor&)>& edit) {
  const fs::path file = dir / "videos" / (split + ".safetensors");
  torch::Tensor visual, audio, label;
  {
    io::SafetensorsFile f(file);
    visual = f.tensor("visual");
    audio = f.tensor("audio");
    label = f.tensor("label");
  }
  edit(visual, audio, label);
  io::save_safetensors(file, {{"visual", visual}, {"audio", audio}, {"label", label}});
}

TEST(Dataset, SaveLoadRoundTripIsExact) {
  testing::TempDir dir;
  const data::Dataset d = testing::tiny_dataset(5);
  data::save_dataset(d, dir / "ds");
  const data::Dataset e = data::load_dataset(dir / "ds");
  EXPECT_EQ(e.name, d.name);
  ASSERT_EQ(e.classes.size(), d.classes.size());
  EXPECT_EQ(e.classes[3].display_name, d.classes[3].display_name);
  EXPECT_EQ(e.class_splits, d.class_splits);
  EXPECT_TRUE(torch::equal(e.clip_text, d.clip_text));
  EXPECT_TRUE(torch::equal(e.clap_text, d.clap_text));
  for (const char* split : data::kVideoSplitNames) {
    EXPECT_EQ(e.video_split(split).video_ids, d.video_split(split).video_ids);
    EXPECT_TRUE(torch::equal(e.video_split(split).visual, d.video_split(split).visual));
    EXPECT_TRUE(torch::equal(e.video_split(split).audio, d.video_split(split).audio));
    EXPECT_TRUE(torch::equal(e.video_split(split).labels, d.video_split(split).labels));
  }
}

TEST(Dataset, MissingManifestOrSplitFile) {
  testing::TempDir dir;
  EXPECT_THROW(data::load_dataset(dir / "nowhere"), std::runtime_error);
  EXPECT_NE(load_error_after([](const fs::path& d) { fs::remove(d / "manifest.json"); }).find("manifest.json: file not found"),
            std::string::npos);
  const std::string e = load_error_after([](const fs::path& d) { fs::remove(d / "videos" / "stage_1_val_unseen.safetensors"); });
  EXPECT_NE(e.find("stage_1_val_unseen.safetensors: file not found"), std::string::npos) << e;
}

TEST(Dataset, MalformedManifest) {
  EXPECT_NE(load_error_after([](const fs::path& d) { io::write_file_atomically(d / "manifest.json", std::string("{oops")); })
                .find("not valid JSON"),
            std::string::npos);
  EXPECT_NE(load_error_after([](const fs::path& d) { edit_manifest(d, [](json& m) { m["class_splits"].erase("stage_2_train"); }); })
                .find("class split 'stage_2_train' is missing"),
            std::string::npos);
  EXPECT_NE(load_error_after([](const fs::path& d) {
              edit_manifest(d, [](json& m) { m["class_splits"]["stage_1_train"].push_back("NoSuchClass"); });
            }).find("unknown class 'NoSuchClass'"),
            std::string::npos);
  EXPECT_NE(load_error_after([](const fs::path& d) {
              edit_manifest(d, [](json& m) { m["class_splits"]["stage_2_test_unseen"] = json::array(); });
            }).find("'stage_2_test_unseen' is empty"),
            std::string::npos);
}

TEST(Dataset, ManifestFilesMustLieInsideTheDatasetFolder) {
  // Found by the manifest fuzz target's author: a manifest could make load_dataset read any file.
  EXPECT_NE(load_error_after([](const fs::path& d) { edit_manifest(d, [](json& m) { m["class_text_file"] = "../elsewhere.safetensors"; }); })
                .find("class_text_file '../elsewhere.safetensors' is not a file inside the dataset folder"),
            std::string::npos);
  EXPECT_NE(load_error_after([](const fs::path& d) {
              edit_manifest(d, [](json& m) { m["video_splits"]["stage_1_train"]["file"] = "/etc/passwd"; });
            }).find("the file of video split 'stage_1_train' '/etc/passwd' is not a file inside the dataset folder"),
            std::string::npos);
}

TEST(Dataset, DimensionMismatch) {
  const std::string e = load_error_after([](const fs::path& d) { edit_manifest(d, [](json& m) { m["features"]["visual"] = 25; }); });
  EXPECT_NE(e.find("visual features has shape ["), std::string::npos) << e;
  EXPECT_NE(e.find(", 24], expected ["), std::string::npos) << e;
  EXPECT_NE(e.find(", 25]"), std::string::npos) << e;
}

TEST(Dataset, NanOrInfFeatures) {
  const std::string e = load_error_after([](const fs::path& d) {
    rewrite_split(d, "stage_1_train", [](torch::Tensor&, torch::Tensor& audio, torch::Tensor&) { audio[5][2] = NAN; });
  });
  EXPECT_NE(e.find("stage_1_train.safetensors: audio features holds NaN or Inf (row 5)"), std::string::npos) << e;
}

TEST(Dataset, ClassWithoutTextEmbedding) {
  std::string e = load_error_after([](const fs::path& d) {
    io::SafetensorsFile f(d / "class_text.safetensors");
    torch::Tensor clip = f.tensor("clip"), clap = f.tensor("clap");
    clip[7].zero_();
    io::save_safetensors(d / "class_text.safetensors", {{"clip", clip}, {"clap", clap}});
  });
  EXPECT_NE(e.find("class 'SynthClass07' has no CLIP text embedding"), std::string::npos) << e;
  e = load_error_after([](const fs::path& d) {
    io::SafetensorsFile f(d / "class_text.safetensors");
    io::save_safetensors(d / "class_text.safetensors", {{"clip", f.tensor("clip").narrow(0, 0, 50)}, {"clap", f.tensor("clap")}});
  });
  EXPECT_NE(e.find("50 rows for 51 classes"), std::string::npos) << e;
}

TEST(Dataset, EmptyVideoSplit) {
  const std::string e = load_error_after([](const fs::path& d) {
    edit_manifest(d, [](json& m) { m["video_splits"]["stage_1_val_seen"]["video_ids"] = json::array(); });
    rewrite_split(d, "stage_1_val_seen", [](torch::Tensor& v, torch::Tensor& a, torch::Tensor& y) {
      v = v.narrow(0, 0, 0);
      a = a.narrow(0, 0, 0);
      y = y.narrow(0, 0, 0);
    });
  });
  EXPECT_NE(e.find("stage_1_val_seen.safetensors: video split is empty"), std::string::npos) << e;
}

TEST(Dataset, LabelsOutOfRangeOrOutsideTheirSplit) {
  std::string e = load_error_after([](const fs::path& d) {
    rewrite_split(d, "stage_1_train", [](torch::Tensor&, torch::Tensor&, torch::Tensor& y) { y[0] = 99; });
  });
  EXPECT_NE(e.find("label 99, outside [0, 51)"), std::string::npos) << e;
  e = load_error_after([](const fs::path& d) {
    const data::Dataset tiny = testing::tiny_dataset();
    const int64_t unseen = tiny.class_split("stage_2_test_unseen").front();
    rewrite_split(d, "stage_1_train", [&](torch::Tensor&, torch::Tensor&, torch::Tensor& y) { y[0] = unseen; });
  });
  EXPECT_NE(e.find("which is not a class of stage_1_train"), std::string::npos) << e;
}

TEST(Dataset, LabelCountMustMatchVideoIds) {
  const std::string e = load_error_after([](const fs::path& d) {
    edit_manifest(d, [](json& m) { m["video_splits"]["stage_2_test_seen"]["video_ids"].push_back("extra"); });
  });
  EXPECT_NE(e.find("stage_2_test_seen.safetensors"), std::string::npos) << e;
}

TEST(Dataset, SplitConsistencyIsChecked) {
  data::Dataset d = testing::tiny_dataset();
  d.class_splits["stage_1_val_unseen"].push_back(d.class_splits["stage_1_train"].front());
  std::sort(d.class_splits["stage_1_val_unseen"].begin(), d.class_splits["stage_1_val_unseen"].end());
  EXPECT_THROW(data::validate_dataset(d, "x"), std::runtime_error);
}

TEST(ProtocolSets, FollowTheReferenceSplitsAndFeatureOrder) {
  const data::Dataset d = testing::tiny_dataset();
  const data::ProtocolSets s = data::build_protocol_sets(d, data::Modality::kBoth, data::LabelSource::kBoth);
  EXPECT_EQ(s.input_dim, d.visual_dim + d.audio_dim);
  EXPECT_EQ(s.text_dim, d.clip_dim + d.clap_dim);
  // x = [v | a], t = [t_clip | t_clap]
  EXPECT_TRUE(torch::equal(s.stage1_train.inputs.narrow(1, 0, d.visual_dim), d.video_split("stage_1_train").visual));
  EXPECT_TRUE(torch::equal(s.class_text.narrow(1, d.clip_dim, d.clap_dim), d.clap_text));
  const int64_t stage1_videos = d.video_split("stage_1_train").size() + d.video_split("stage_1_val_seen").size() +
                                d.video_split("stage_1_val_unseen").size();
  EXPECT_EQ(s.stage2_train.inputs.size(0), stage1_videos);
  EXPECT_EQ(s.stage2_train.classes, d.class_split("stage_2_train"));
  EXPECT_EQ(s.validation.unseen, d.class_split("stage_1_val_unseen"));
  EXPECT_EQ(s.test.unseen, d.class_split("stage_2_test_unseen"));
  EXPECT_EQ(data::build_protocol_sets(d, data::Modality::kAudio, data::LabelSource::kClap).input_dim, d.audio_dim);
  EXPECT_EQ(data::build_protocol_sets(d, data::Modality::kVisual, data::LabelSource::kClip).text_dim, d.clip_dim);
  EXPECT_THROW(data::parse_modality("smell"), std::invalid_argument);
  EXPECT_THROW(data::parse_label_source("word2vec"), std::invalid_argument);
}

TEST(Synthetic, HasUcfGeometryAndIsDeterministic) {
  const data::Dataset d = data::make_synthetic_dataset({});
  EXPECT_EQ(d.num_classes(), 51);
  EXPECT_EQ(d.class_split("stage_1_train").size(), 30u);
  EXPECT_EQ(d.class_split("stage_1_val_unseen").size(), 12u);
  EXPECT_EQ(d.class_split("stage_2_train").size(), 42u);
  EXPECT_EQ(d.class_split("stage_2_test_unseen").size(), 9u);
  EXPECT_EQ(d.visual_dim, 512);
  EXPECT_EQ(d.audio_dim, 1024);
  EXPECT_EQ(d.clip_dim + d.clap_dim, 1536);
  const torch::Tensor norms = d.video_split("stage_1_train").visual.norm(2, 1);
  EXPECT_TRUE(torch::allclose(norms, torch::ones_like(norms), 1e-5, 1e-5));  // L2-normalised like CLIP's
  const data::Dataset again = data::make_synthetic_dataset({});
  EXPECT_TRUE(torch::equal(again.video_split("stage_2_test_unseen").audio, d.video_split("stage_2_test_unseen").audio));
  data::SyntheticOptions other;
  other.seed = 1;
  EXPECT_NE(data::make_synthetic_dataset(other).class_split("stage_2_test_unseen"), d.class_split("stage_2_test_unseen"));
}

}  // namespace
}  // namespace avgzsl
