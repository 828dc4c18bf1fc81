// The resumable feature store of an extract job, on its own: chunks written and read back,
// resuming, a different job refused, class text, and a corrupt chunk named.
#include <gtest/gtest.h>
#include <unistd.h>
#include <torch/torch.h>

#include <fstream>

#include "avgzsl/data/dataset.h"
#include "avgzsl/extraction/feature_store.h"
#include "avgzsl/extraction/split_plan.h"
#include "error_text.h"
#include "temp_dir.h"

namespace avgzsl::extraction {
namespace feature_store_test {
namespace fs = std::filesystem;

nlohmann::json job(const std::string& clip = "tiny") {
  return {{"clip", clip}, {"classes", {{{"name", "A"}, {"display_name", "a"}}, {{"name", "B"}, {"display_name", "b"}}}}};
}

ExtractedVideo video(int64_t index, const std::string& label) {
  return {index, "v" + std::to_string(index), label, "/videos/v" + std::to_string(index) + ".mp4", true, false};
}

TEST(FeatureStore, ChunksReadBackInJobOrderAfterAReopen) {
  testing::TempDir tmp;
  const ShardSpec whole{1, 1};
  const torch::Tensor visual = torch::arange(12, torch::kFloat32).reshape({4, 3});
  {
    FeatureStore store = FeatureStore::open_for_job(tmp / "store", job(), whole, 5);
    EXPECT_TRUE(store.done_ids().empty());
    // Written out of order: the store sorts by the job's index.
    store.write_chunk({video(2, "B"), video(3, "A")}, visual.slice(0, 2, 4), torch::Tensor(), {});
    store.write_chunk({video(0, "A"), video(1, "B")}, visual.slice(0, 0, 2), torch::Tensor(), {{4, "v4", "A", "/videos/v4.mp4", "no video stream"}});
  }
  // A new process resumes: every named video is done, failures included.
  const FeatureStore store = FeatureStore::open_for_job(tmp / "store", job(), whole, 5);
  EXPECT_EQ(store.done_ids(), (std::set<std::string>{"v0", "v1", "v2", "v3", "v4"}));
  const StoreContents all = store.read_all();
  ASSERT_EQ(all.videos.size(), 4u);
  for (int64_t i = 0; i < 4; ++i) EXPECT_EQ(all.videos[static_cast<size_t>(i)].index, i);
  EXPECT_TRUE(torch::equal(all.visual, torch::cat({visual.slice(0, 2, 4), visual.slice(0, 0, 2)}).index_select(0, torch::tensor({2, 3, 0, 1}))));
  EXPECT_FALSE(all.audio.defined());
  ASSERT_EQ(all.failures.size(), 1u);
  EXPECT_EQ(all.failures[0].reason, "no video stream");
  EXPECT_EQ(store.classes().size(), 2u);
  EXPECT_EQ(store.classes()[1].display_name, "b");
}

TEST(FeatureStore, ClassTextRoundTripsWithAndWithoutClap) {
  testing::TempDir tmp;
  const FeatureStore store = FeatureStore::open_for_job(tmp / "store", job(), {1, 1}, 2);
  EXPECT_FALSE(store.has_class_text());
  const torch::Tensor clip = torch::randn({2, 4});
  store.write_class_text(clip, torch::Tensor());
  EXPECT_TRUE(store.has_class_text());
  const auto [c, a] = store.read_class_text();
  EXPECT_TRUE(torch::equal(c, clip));
  EXPECT_FALSE(a.defined());
  const torch::Tensor clap = torch::randn({2, 3});
  store.write_class_text(clip, clap);
  EXPECT_TRUE(torch::equal(store.read_class_text().second, clap));
}

TEST(FeatureStore, AnotherJobOrShardIsRefusedAndCorruptChunksAreNamed) {
  testing::TempDir tmp;
  {
    FeatureStore store = FeatureStore::open_for_job(tmp / "store", job(), {1, 2}, 3);
    store.write_chunk({video(0, "A")}, torch::ones({1, 3}), torch::Tensor(), {});
  }
  const std::string other_job = testing::typed_error_of([&] { FeatureStore::open_for_job(tmp / "store", job("other"), {1, 2}, 3); });
  EXPECT_NE(other_job.find("runtime_error: " + (tmp / "store").string()), std::string::npos) << other_job;
  EXPECT_NE(other_job.find("clip"), std::string::npos) << other_job;
  EXPECT_NE(testing::typed_error_of([&] { FeatureStore::open_for_job(tmp / "store", job(), {2, 2}, 3); }), "");
  EXPECT_NE(testing::typed_error_of([&] { FeatureStore::open_existing(tmp / "absent"); }).find("absent"), std::string::npos);
  const fs::path chunk = tmp / "store/chunks/000001.safetensors";
  ASSERT_TRUE(fs::exists(chunk));
  std::ofstream(chunk, std::ios::binary | std::ios::trunc) << "garbage";
  const std::string corrupt = testing::typed_error_of([&] { FeatureStore::open_existing(tmp / "store").read_all(); });
  EXPECT_NE(corrupt.find("000001.safetensors"), std::string::npos) << corrupt;
}

// Chunks whose feature sizes differ cannot be joined: the later one is named before any
// feature is copied.
TEST(FeatureStore, ChunksOfAnotherFeatureSizeAreNamed) {
  testing::TempDir tmp;
  FeatureStore store = FeatureStore::open_for_job(tmp / "store", job(), {1, 1}, 2);
  store.write_chunk({video(0, "A")}, torch::ones({1, 3}), torch::Tensor(), {});
  store.write_chunk({video(1, "B")}, torch::ones({1, 4}), torch::Tensor(), {});
  EXPECT_EQ(testing::typed_error_of([&] { store.read_all(); }),
            "runtime_error: " + (tmp / "store/chunks/000002.safetensors").string() +
                ": holds features of 4/0 (visual/audio) dimensions, other chunks 3/0");
}

// merge streams every chunk's rows into the split tensors: each video keeps exactly its own
// visual and audio rows, whichever shard and chunk held it and in whatever order they were written.
TEST(FeatureStore, MergedShardsHoldEachVideosOwnRows) {
  testing::TempDir tmp;
  const std::vector<std::string> names = {"A", "B", "C"};
  nlohmann::json three = job();
  three["classes"].push_back({{"name", "C"}, {"display_name", "c"}});
  const int64_t videos = 36;
  const auto visual_row = [](int64_t i) { return torch::arange(3, torch::kFloat32) + 10.0f * static_cast<float>(i); };
  const auto audio_row = [](int64_t i) { return -torch::arange(2, torch::kFloat32) - 10.0f * static_cast<float>(i); };
  std::vector<FeatureStore> stores;
  for (int k = 1; k <= 2; ++k) {
    const ShardSpec shard{k, 2};
    std::vector<ExtractedVideo> mine;
    for (int64_t i = 0; i < videos; ++i) {
      ExtractedVideo v = video(i, names[static_cast<size_t>(i % 3)]);
      if (shard.contains(v.id)) mine.push_back(v);
    }
    FeatureStore store = FeatureStore::open_for_job(tmp / ("shard" + std::to_string(k)), three, shard, static_cast<int64_t>(mine.size()));
    store.write_class_text(torch::randn({3, 4}), torch::randn({3, 2}));
    const size_t half = mine.size() / 2;  // the second half first: chunk order is not job order
    for (const auto& [from, to] : {std::pair{half, mine.size()}, std::pair{size_t{0}, half}}) {
      const std::vector<ExtractedVideo> chunk(mine.begin() + static_cast<std::ptrdiff_t>(from), mine.begin() + static_cast<std::ptrdiff_t>(to));
      std::vector<torch::Tensor> visual, audio;
      for (const ExtractedVideo& v : chunk) {
        visual.push_back(visual_row(v.index));
        audio.push_back(audio_row(v.index));
      }
      store.write_chunk(chunk, torch::stack(visual), torch::stack(audio), {});
    }
    stores.push_back(FeatureStore::open_existing(store.dir()));
  }
  const AssemblyReport report = assemble_dataset({stores[1], stores[0]}, automatic_split_plan(names), tmp / "merged", false);
  EXPECT_EQ(report.videos + report.left_out, videos);
  const data::Dataset merged = data::load_dataset(tmp / "merged");
  int64_t checked = 0;
  for (const char* split : data::kVideoSplitNames) {
    const data::VideoSplit& s = merged.video_split(split);
    int64_t previous = -1;
    for (int64_t r = 0; r < s.size(); ++r) {
      const int64_t i = std::stoll(s.video_ids[static_cast<size_t>(r)].substr(1));
      EXPECT_GT(i, previous) << split;  // rows in the order of the job's list
      previous = i;
      EXPECT_TRUE(torch::equal(s.visual[r], visual_row(i))) << s.video_ids[static_cast<size_t>(r)];
      EXPECT_TRUE(torch::equal(s.audio[r], audio_row(i))) << s.video_ids[static_cast<size_t>(r)];
      ++checked;
    }
  }
  EXPECT_EQ(checked, report.videos);
}

TEST(FeatureStore, ASecondJobIsRefusedAtOnceNamingTheHolder) {
  testing::TempDir tmp;
  FeatureStore first = FeatureStore::open_for_job(tmp / "store", job(), {1, 1}, 3);
  // flock locks an open file description: a second open, even in this process, is refused.
  const std::string second = testing::typed_error_of([&] { FeatureStore::open_for_job(tmp / "store", job(), {1, 1}, 3); });
  EXPECT_EQ(second, "runtime_error: " + (tmp / "store").string() + ": is being written by another avgzsl job (PID " +
                        std::to_string(::getpid()) + "); wait for it to finish or use another output folder");
  EXPECT_NE(testing::typed_error_of([&] { FeatureStore::open_for_job(tmp / "store", job(), {1, 1}, 3, /*restart=*/true); }), "")
      << "--restart must not pull a store from under its writer";
}

TEST(FeatureStore, ALeftoverOfAnInterruptedCreationIsRecoveredAndRestartEmptiesTheStore) {
  testing::TempDir tmp;
  // What a full disk at the start of extract used to leave: the folder, an empty chunks/, no
  // store.json (and a temporary file of the manifest).
  fs::create_directories(tmp / "store/chunks");
  testing::write_text_file(tmp / "store/store.json.tmp-999", "{\"form");
  {
    FeatureStore store = FeatureStore::open_for_job(tmp / "store", job(), {1, 1}, 3);
    store.write_chunk({video(0, "A")}, torch::ones({1, 3}), torch::Tensor(), {});
  }
  EXPECT_FALSE(fs::exists(tmp / "store/store.json.tmp-999"));
  EXPECT_EQ(FeatureStore::open_for_job(tmp / "store", job(), {1, 1}, 3).done_ids().size(), 1u);
  // --restart: a fresh store of the same job, whatever the old one held.
  EXPECT_TRUE(FeatureStore::open_for_job(tmp / "store", job("other"), {1, 1}, 3, /*restart=*/true).done_ids().empty());
  // Someone's own files are never taken for leftovers, even with --restart.
  testing::write_text_file(tmp / "mine/notes.txt", "keep me");
  EXPECT_NE(testing::typed_error_of([&] { FeatureStore::open_for_job(tmp / "mine", job(), {1, 1}, 3, true); })
                .find("exists and is not a feature store"),
            std::string::npos);
  EXPECT_TRUE(fs::exists(tmp / "mine/notes.txt"));
  testing::write_text_file(tmp / "afile", "x");
  EXPECT_NE(testing::typed_error_of([&] { FeatureStore::open_for_job(tmp / "afile", job(), {1, 1}, 3); }).find("is not a directory"),
            std::string::npos);
}

}  // namespace feature_store_test
}  // namespace avgzsl::extraction
