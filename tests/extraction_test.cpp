// From raw videos to a native dataset: the video list, sharding, split plans, prompt templates,
// and `extract` end to end on videos generated with ffmpeg and a tiny random CLIP: features equal
// an independent decode + encode, shards merged equal a single run, resumption skips what is done.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <fstream>
#include <set>

#include "avgzsl/io/atomic_file.h"
#include "avgzsl/io/safetensors.h"
#include "avgzsl/media/video_decoder.h"
#include "avgzsl/encoders/clap/clap_encoder.h"
#include "avgzsl/encoders/class_text.h"
#include "avgzsl/encoders/clip/clip_encoder.h"
#include "avgzsl/extraction/feature_extraction.h"
#include "error_text.h"
#include "test_support.h"
#include "tiny_clap_model.h"

namespace avgzsl::extraction {
namespace {
namespace fs = std::filesystem;
using avgzsl::testing::TempDir;

TEST(ClassText, BuiltInTemplatesAreTheReferenceSets) {
  EXPECT_EQ(encoders::builtin_prompt_templates("ucf", "clip").templates.size(), 48u);
  EXPECT_EQ(encoders::builtin_prompt_templates("ucf", "clap").templates.size(), 30u);
  EXPECT_EQ(encoders::builtin_prompt_templates("activitynet", "clip").templates, encoders::builtin_prompt_templates("ucf", "clip").templates);
  EXPECT_EQ(encoders::builtin_prompt_templates("vggsound", "clip").templates.size(), 8u);
  EXPECT_EQ(encoders::builtin_prompt_templates("vggsound", "clap").templates.size(), 9u);
  EXPECT_EQ(encoders::builtin_prompt_templates("ucf", "clip").templates.front(), "a photo of a person {}.");
  EXPECT_EQ(encoders::builtin_prompt_templates("ucf", "clip").templates.back(), "a demonstration of the person practicing {}.");
  EXPECT_EQ(encoders::fill_template("a video of the {}.", "dog barking"), "a video of the dog barking.");
  EXPECT_THROW(encoders::builtin_prompt_templates("kinetics", "clip"), std::invalid_argument);

  TempDir tmp;
  testing::write_text_file(tmp / "t.txt", "# mine\n\na {} sound\nno placeholder\n");
  EXPECT_NE(testing::error_message([&] { encoders::read_prompt_templates(tmp / "t.txt"); }).find("t.txt: line 4: template without \"{}\""),
            std::string::npos);
}

TEST(ClassText, EnsemblingNormalisesEachPromptThenTheMean) {
  encoders::PromptTemplates templates{"test", {"a {}", "the {}"}};
  // A fake encoder: "a x" -> (3, 0), "the x" -> (0, 1) for every class x; lengths differ on purpose.
  auto encode = [](const std::vector<std::string>& texts) {
    torch::Tensor out = torch::zeros({static_cast<int64_t>(texts.size()), 2});
    for (size_t i = 0; i < texts.size(); ++i) {
      if (texts[i].rfind("a ", 0) == 0) out[i][0] = 3.0;
      else out[i][1] = 1.0;
    }
    return out;
  };
  const torch::Tensor e = encoders::ensemble_class_embeddings({"x", "y", "z"}, templates, encode, true, /*batch_size=*/4);
  ASSERT_EQ(e.sizes(), (std::vector<int64_t>{3, 2}));
  // normalised prompts (1,0) and (0,1): mean (0.5, 0.5), re-normalised (0.7071, 0.7071).
  EXPECT_NEAR(e[2][0].item<double>(), std::sqrt(0.5), 1e-6);
  EXPECT_NEAR(e[2][1].item<double>(), std::sqrt(0.5), 1e-6);
  // Without per-prompt normalisation the larger prompt dominates: (3, 1) / sqrt(10).
  const torch::Tensor raw = encoders::ensemble_class_embeddings({"x"}, templates, encode, false);
  EXPECT_NEAR(raw[0][0].item<double>(), 3 / std::sqrt(10.0), 1e-6);
}

TEST(ClassText, DisplayNamesFromFolderNames) {
  EXPECT_EQ(encoders::display_name_from_folder("ApplyEyeMakeup"), "apply eye makeup");
  EXPECT_EQ(encoders::display_name_from_folder("playing_guitar"), "playing guitar");
  EXPECT_EQ(encoders::display_name_from_folder("YoYo"), "yo yo");
  EXPECT_EQ(encoders::display_name_from_folder("UFOSighting"), "ufo sighting");
  EXPECT_EQ(encoders::display_name_from_folder("Rowing"), "rowing");
}

// Videos of 4 colour classes, 5 each; one broken file; one video without audio.
class ExtractTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!testing::have_ffmpeg()) return;
    root_ = new TempDir();
    const std::vector<std::string> colours = {"red", "green", "blue", "yellow"};
    for (const std::string& c : colours) {
      for (int i = 0; i < 5; ++i) {
        testing::make_test_video(root() / "videos" / c / (c + "_" + std::to_string(i) + ".mp4"), c, 1.0, 48 + 2 * i, 32,
                                 !(c == "blue" && i == 2));
      }
    }
    testing::write_text_file(root() / "videos/red/red_broken.mp4", "not a video");
    testing::write_tiny_clip_dir(root() / "clip", 7);
  }
  static void TearDownTestSuite() {
    delete root_;
    root_ = nullptr;
  }
  void SetUp() override {
    if (!testing::have_ffmpeg()) GTEST_SKIP() << "ffmpeg is not on the PATH";
  }
  static fs::path root() { return root_->path(); }

  extraction::ExtractOptions options(const fs::path& out) const {
    extraction::ExtractOptions o;
    o.videos = root() / "videos";
    o.clip_dir = root() / "clip";
    o.out = out;
    o.batch_size = 4;
    o.chunk_size = 3;
    return o;
  }

  static TempDir* root_;
};
TempDir* ExtractTest::root_ = nullptr;

void expect_same_dataset(const data::Dataset& a, const data::Dataset& b) {
  EXPECT_TRUE(torch::equal(a.clip_text, b.clip_text));
  for (const char* split : data::kVideoSplitNames) {
    EXPECT_EQ(a.video_split(split).video_ids, b.video_split(split).video_ids) << split;
    // Equal up to float rounding: a video's row may be computed in a batch of another size.
    EXPECT_TRUE(torch::allclose(a.video_split(split).visual, b.video_split(split).visual, 0, 1e-6)) << split;
    EXPECT_TRUE(torch::equal(a.video_split(split).labels, b.video_split(split).labels)) << split;
  }
}

TEST_F(ExtractTest, FeaturesAreTheMiddleFramesEmbeddingsAndFailuresAreReported) {
  TempDir tmp;
  extraction::ExtractOptions o = options(tmp / "ds");
  o.videos /= "";  // "videos/", as a shell completes it: the dataset is still named after the folder
  const extraction::ExtractSummary s = extraction::run_extraction(o, [](const std::string&) {});
  EXPECT_EQ(s.listed, 21);
  EXPECT_EQ(s.extracted, 20);
  EXPECT_EQ(s.failed, 1);
  EXPECT_FALSE(fs::exists(s.store));  // removed once the dataset is written
  const data::Dataset ds = data::load_dataset(tmp / "ds");
  EXPECT_EQ(ds.name, "videos");
  EXPECT_EQ(ds.visual_dim, 16);
  EXPECT_EQ(ds.clip_dim, 16);
  EXPECT_EQ(ds.audio_dim, 0);
  ASSERT_EQ(ds.num_classes(), 4);
  EXPECT_EQ(ds.classes[0].name, "blue");

  // Independently: decode the middle frame, preprocess, embed, normalise.
  encoders::ClipEncoder clip(root() / "clip");
  int64_t checked = 0;
  for (const char* split : data::kVideoSplitNames) {
    const data::VideoSplit& v = ds.video_split(split);
    for (int64_t i = 0; i < v.size(); ++i) {
      const std::string& id = v.video_ids[static_cast<size_t>(i)];
      const std::string colour = id.substr(0, id.find('_'));
      media::VideoDecoder decoder(root() / "videos" / colour / (id + ".mp4"));
      const media::VideoFrame frame = decoder.frames_evenly_spaced(1).at(0);
      const torch::Tensor expected =
          clip.embed_images(clip.preprocess({frame.image.pixels.data(), frame.image.width, frame.image.height}).unsqueeze(0));
      EXPECT_LT((v.visual[i] - expected[0]).abs().max().item<double>(), 1e-5) << id;
      EXPECT_EQ(ds.classes[static_cast<size_t>(v.labels[i].item<int64_t>())].name, colour);
      ++checked;
    }
  }
  EXPECT_EQ(checked, 20);
  // Class text: the UCF templates ensembled over each display name.
  const torch::Tensor text = encoders::ensemble_class_embeddings({"blue", "green", "red", "yellow"}, encoders::builtin_prompt_templates("ucf", "clip"),
                                                       [&](const std::vector<std::string>& t) { return clip.encode_texts(t); });
  EXPECT_LT((ds.clip_text - text).abs().max().item<double>(), 1e-5);

  const nlohmann::json report = nlohmann::json::parse(io::read_file(tmp / "ds/extract_report.json"));
  ASSERT_EQ(report["failed"].size(), 1u);
  EXPECT_EQ(report["failed"][0]["id"], "red_broken");
  EXPECT_NE(report["failed"][0]["reason"].get<std::string>().find("red_broken.mp4"), std::string::npos);
  EXPECT_EQ(report["without_audio"], nlohmann::json::array({"blue_2"}));

  // A second run refuses to overwrite the dataset.
  EXPECT_NE(testing::error_message([&] { extraction::run_extraction(options(tmp / "ds"), [](const std::string&) {}); }).find("already holds a dataset"),
            std::string::npos);
}

TEST_F(ExtractTest, ShardsMergedEqualASingleRun) {
  TempDir tmp;
  extraction::run_extraction(options(tmp / "single"), [](const std::string&) {});
  std::vector<extraction::FeatureStore> stores;
  int64_t in_shards = 0;
  for (int k = 1; k <= 3; ++k) {
    extraction::ExtractOptions o = options(tmp / ("shard" + std::to_string(k)));
    o.shard = {k, 3};
    const extraction::ExtractSummary s = extraction::run_extraction(o, [](const std::string&) {});
    EXPECT_FALSE(s.assembled);
    in_shards += s.in_shard;
    stores.push_back(extraction::FeatureStore::open_existing(o.out));
  }
  EXPECT_EQ(in_shards, 21);
  std::vector<std::string> names = {"blue", "green", "red", "yellow"};
  const std::vector<extraction::FeatureStore> two(stores.begin(), stores.begin() + 2);
  EXPECT_NE(testing::error_message([&] { extraction::assemble_dataset(two, extraction::automatic_split_plan(names), tmp / "x", false); }).find("shard 3/3 of this job is missing"),
            std::string::npos);
  extraction::assemble_dataset({stores[2], stores[0], stores[1]}, extraction::automatic_split_plan(names), tmp / "merged", false);
  expect_same_dataset(data::load_dataset(tmp / "merged"), data::load_dataset(tmp / "single"));
}

TEST_F(ExtractTest, ARestartSkipsFinishedChunksAndAChangedJobIsRefused) {
  TempDir tmp;
  extraction::ExtractOptions o = options(tmp / "ds");
  o.keep_store = true;
  // A store holding the first chunks of an interrupted run: extract shard-less into it by hand.
  {
    extraction::ExtractOptions partial = o;
    partial.shard = {1, 2};
    partial.out = tmp / "ds.store";
    extraction::run_extraction(partial, [](const std::string&) {});
  }
  // The shard-1/2 store is not the store of the unsharded job.
  EXPECT_NE(testing::error_message([&] { extraction::run_extraction(o, [](const std::string&) {}); }).find("holds shard 1/2 of this job"), std::string::npos);
  fs::remove_all(tmp / "ds.store");

  extraction::run_extraction(o, [](const std::string&) {});
  const data::Dataset complete = data::load_dataset(tmp / "ds");
  // Drop the last chunk as a kill would leave it (never written), and resume.
  std::vector<fs::path> chunks;
  for (const auto& e : fs::directory_iterator(tmp / "ds.store/chunks")) chunks.push_back(e.path());
  std::sort(chunks.begin(), chunks.end());
  ASSERT_GE(chunks.size(), 3u);
  // Every chunk holds exactly chunk_size (3) entries, whatever the encoder batches (4 frames) and
  // the order the decoders finish in: 21 videos, 7 chunks.
  size_t lost = 0;
  EXPECT_EQ(chunks.size(), 7u);
  for (const fs::path& chunk : chunks) {
    const io::SafetensorsFile file(chunk);
    lost = nlohmann::json::parse(file.metadata().at("videos")).size() + nlohmann::json::parse(file.metadata().at("failures")).size();
    EXPECT_EQ(lost, 3u) << chunk;
  }
  fs::remove(chunks.back());
  testing::write_text_file(tmp / "ds.store/chunks/000099.safetensors.tmp-123", "half-written");
  o.replace = true;
  std::vector<std::string> lines;
  const extraction::ExtractSummary resumed = extraction::run_extraction(o, [&](const std::string& l) { lines.push_back(l); });
  EXPECT_EQ(resumed.done_before + resumed.extracted + resumed.failed, 21);
  EXPECT_GT(resumed.done_before, 0);
  EXPECT_EQ(static_cast<size_t>(resumed.extracted + resumed.failed), lost);  // the lost chunk, nothing more
  EXPECT_NE(lines.front().find("done before, resuming"), std::string::npos);
  expect_same_dataset(data::load_dataset(tmp / "ds"), complete);

  extraction::ExtractOptions changed = o;
  changed.frames = 2;
  EXPECT_NE(testing::error_message([&] { extraction::run_extraction(changed, [](const std::string&) {}); }).find("different job (differs in: frames)"),
            std::string::npos);
  changed.restart = true;
  const extraction::ExtractSummary fresh = extraction::run_extraction(changed, [](const std::string&) {});
  EXPECT_EQ(fresh.done_before, 0);
  EXPECT_EQ(fresh.extracted, 20);
}

TEST_F(ExtractTest, SeveralFramesAndReferencePixelsChangeTheFeatures) {
  TempDir tmp;
  extraction::ExtractOptions o = options(tmp / "one");
  extraction::run_extraction(o, [](const std::string&) {});
  o.out = tmp / "three";
  o.frames = 3;
  o.decoders = 2;
  extraction::run_extraction(o, [](const std::string&) {});
  o.out = tmp / "reference";
  o.frames = 1;
  o.pixels = encoders::FramePixels::kReference;
  extraction::run_extraction(o, [](const std::string&) {});
  const data::Dataset one = data::load_dataset(tmp / "one"), three = data::load_dataset(tmp / "three"), ref = data::load_dataset(tmp / "reference");
  const torch::Tensor v1 = one.video_split("stage_2_test_unseen").visual;
  const torch::Tensor v3 = three.video_split("stage_2_test_unseen").visual;
  const torch::Tensor vr = ref.video_split("stage_2_test_unseen").visual;
  // Flat colour videos: every frame is the same picture, so averaging frames changes nothing...
  EXPECT_LT((v1 - v3).abs().max().item<double>(), 1e-5);
  // ...while the reference's inverted BGR pixels are another picture.
  EXPECT_GT((v1 - vr).abs().max().item<double>(), 1e-3);
  EXPECT_NEAR(vr.norm(2, 1).min().item<double>(), 1.0, 1e-5);
}

TEST_F(ExtractTest, AudioVisualJobsAddClapFeaturesAndApplyTheMissingAudioPolicy) {
  TempDir tmp;
  testing::write_tiny_hf_clap_dir(tmp / "clap", 4);
  extraction::ExtractOptions o = options(tmp / "zero");
  o.clap_dir = tmp / "clap";
  o.missing_audio = encoders::MissingAudio::kZero;
  const extraction::ExtractSummary s = extraction::run_extraction(o, [](const std::string&) {});
  EXPECT_EQ(s.extracted, 20);
  EXPECT_EQ(s.failed, 1);  // the broken file
  const data::Dataset ds = data::load_dataset(tmp / "zero");
  EXPECT_EQ(ds.visual_dim, 16);
  EXPECT_EQ(ds.audio_dim, 12);
  EXPECT_EQ(ds.clap_dim, 12);

  // Independently: the whole track at the model's rate through the CLAP audio tower.
  encoders::ClapEncoder clap(tmp / "clap");
  ASSERT_EQ(clap.sample_rate(), 48000);
  int64_t checked = 0;
  for (const char* split : data::kVideoSplitNames) {
    const data::VideoSplit& v = ds.video_split(split);
    for (int64_t i = 0; i < v.size(); ++i) {
      const std::string& id = v.video_ids[static_cast<size_t>(i)];
      if (id == "blue_2") {  // no audio track: zero features under --missing-audio zero
        EXPECT_EQ(v.audio[i].abs().max().item<double>(), 0.0);
        continue;
      }
      const fs::path path = root() / "videos" / id.substr(0, id.find('_')) / (id + ".mp4");
      const torch::Tensor expected = clap.embed_audio({*media::decode_audio_mono(path, 48000)});
      EXPECT_LT((v.audio[i] - expected[0]).abs().max().item<double>(), 1e-5) << id;
      EXPECT_NEAR(v.audio[i].norm().item<double>(), 1.0, 1e-5);
      ++checked;
    }
  }
  EXPECT_EQ(checked, 19);
  const torch::Tensor text = encoders::ensemble_class_embeddings({"blue", "green", "red", "yellow"}, encoders::builtin_prompt_templates("ucf", "clap"),
                                                       [&](const std::vector<std::string>& t) { return clap.encode_texts(t); });
  EXPECT_LT((ds.clap_text - text).abs().max().item<double>(), 1e-5);
  // The visual half is what a visual-only job gives.
  extraction::run_extraction(options(tmp / "visual"), [](const std::string&) {});
  const data::Dataset visual_only = data::load_dataset(tmp / "visual");
  EXPECT_TRUE(torch::allclose(ds.video_split("stage_1_train").visual, visual_only.video_split("stage_1_train").visual, 0, 1e-6));

  // --missing-audio skip (the default) leaves the video out and says why.
  o.out = tmp / "skip";
  o.missing_audio = encoders::MissingAudio::kSkip;
  const extraction::ExtractSummary skipped = extraction::run_extraction(o, [](const std::string&) {});
  EXPECT_EQ(skipped.extracted, 19);
  EXPECT_EQ(skipped.failed, 2);
  const nlohmann::json report = nlohmann::json::parse(io::read_file(tmp / "skip/extract_report.json"));
  ASSERT_EQ(report["failed"].size(), 2u);
  EXPECT_EQ(report["failed"][0]["id"], "blue_2");
  EXPECT_NE(report["failed"][0]["reason"].get<std::string>().find("no audio track"), std::string::npos);
}

TEST_F(ExtractTest, AnAudioVisualJobDoesNotResumeAVisualOnlyStore) {
  TempDir tmp;
  testing::write_tiny_hf_clap_dir(tmp / "clap", 4);
  extraction::ExtractOptions o = options(tmp / "ds");
  o.shard = {1, 2};
  extraction::run_extraction(o, [](const std::string&) {});
  o.clap_dir = tmp / "clap";
  const std::string error = testing::error_message([&] { extraction::run_extraction(o, [](const std::string&) {}); });
  EXPECT_NE(error.find("different job"), std::string::npos) << error;
  EXPECT_NE(error.find("clap"), std::string::npos) << error;
}

TEST_F(ExtractTest, BadInputsAreRefusedBeforeAnyWork) {
  TempDir tmp;
  extraction::ExtractOptions o = options(tmp / "ds");
  o.templates = (tmp / "missing.txt").string();
  EXPECT_NE(testing::error_message([&] { extraction::run_extraction(o, [](const std::string&) {}); }).find("missing.txt"), std::string::npos);
  o = options(tmp / "ds");
  o.clip_dir = tmp / "no-model";
  EXPECT_NE(testing::error_message([&] { extraction::run_extraction(o, [](const std::string&) {}); }).find("no-model: no such model directory"),
            std::string::npos);
  o = options(tmp / "ds");
  o.splits = tmp / "no-splits";
  EXPECT_NE(testing::error_message([&] { extraction::run_extraction(o, [](const std::string&) {}); }).find("no such split folder"), std::string::npos);
  o = options(tmp / "ds");
  o.class_names = tmp / "names.csv";
  testing::write_text_file(o.class_names, "name,display_name\nred,red thing\n");
  EXPECT_NE(testing::error_message([&] { extraction::run_extraction(o, [](const std::string&) {}); }).find("no display_name for class 'blue'"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(tmp / "ds"));
}

}  // namespace
}  // namespace avgzsl::extraction
