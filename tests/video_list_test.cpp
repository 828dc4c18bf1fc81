// The video list of an extract job: a class-folder tree or a CSV, ids, errors, and shards.
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <map>

#include "avgzsl/extraction/video_list.h"
#include "avgzsl/util/text.h"
#include "error_text.h"
#include "temp_dir.h"
#include "test_support.h"

namespace avgzsl::extraction {
namespace video_list_test {
namespace fs = std::filesystem;
using avgzsl::testing::TempDir;

TEST(VideoList, FilesAreTakenByProbingNotByExtensionAndSkippedOnesAreListed) {
  if (!testing::have_ffmpeg()) GTEST_SKIP() << "ffmpeg is not on the PATH";
  testing::TempDir tmp;
  fs::create_directories(tmp / "videos/rain");
  // A Theora video in .ogg (not .ogv) was silently ignored; a still image and a text file are not videos.
  ASSERT_TRUE(testing::run_shell("ffmpeg -loglevel error -y -f lavfi -i color=blue:s=32x24:r=10:d=0.5 -c:v libtheora " +
                                 (tmp / "videos/rain/theora.ogg").string()));
  ASSERT_TRUE(testing::run_shell("ffmpeg -loglevel error -y -f lavfi -i color=red:s=32x24 -frames:v 1 " +
                                 (tmp / "videos/rain/still.jpg").string()));
  ASSERT_TRUE(testing::run_shell("ffmpeg -loglevel error -y -f lavfi -i sine=d=0.5 " + (tmp / "videos/rain/sound.ogg").string()));
  testing::write_text_file(tmp / "videos/rain/notes.txt", "recorded in April\n");
  testing::make_test_video(tmp / "videos/rain/clip.mp4", "gray", 0.5);
  std::vector<SkippedFile> skipped;
  const std::vector<VideoEntry> videos = list_videos(tmp / "videos", &skipped);
  ASSERT_EQ(videos.size(), 2u);
  EXPECT_EQ(videos[0].path.filename(), "clip.mp4");
  EXPECT_EQ(videos[1].path.filename(), "theora.ogg");
  std::map<std::string, std::string> reasons;
  for (const SkippedFile& f : skipped) reasons[f.path.filename().string()] = f.reason;
  ASSERT_EQ(reasons.size(), 3u);
  EXPECT_NE(reasons["still.jpg"].find("a still image"), std::string::npos) << reasons["still.jpg"];
  EXPECT_EQ(reasons["sound.ogg"], "audio only, no video stream");
  EXPECT_NE(reasons["notes.txt"].find("not a readable media file"), std::string::npos) << reasons["notes.txt"];
}

TEST(VideoList, FolderLayoutIsSortedAndCsvPathsAreRelativeToTheCsv) {
  TempDir tmp;
  for (const char* f : {"B/v_b2.mp4", "B/v_b1.avi", "A/sub/v_a1.MKV", "A/notes.txt"}) testing::write_text_file(tmp / "videos" / f, "x");
  const std::vector<extraction::VideoEntry> videos = extraction::list_videos(tmp / "videos");
  ASSERT_EQ(videos.size(), 3u);
  EXPECT_EQ(videos[0].id, "v_a1");
  EXPECT_EQ(videos[0].label, "A");
  EXPECT_EQ(videos[1].id, "v_b1");
  EXPECT_EQ(videos[2].id, "v_b2");

  testing::write_text_file(tmp / "list.csv", "path,label\nclips/x.mp4,playing guitar\n/abs/y.webm,\"dog, barking\"\n");
  const std::vector<extraction::VideoEntry> listed = extraction::list_videos(tmp / "list.csv");
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].path, tmp / "clips/x.mp4");
  EXPECT_EQ(listed[1].path, fs::path("/abs/y.webm"));
  EXPECT_EQ(listed[1].label, "dog, barking");

  testing::write_text_file(tmp / "dup.csv", "path,label\na/x.mp4,A\nb/x.avi,B\n");
  EXPECT_NE(testing::error_message([&] { extraction::list_videos(tmp / "dup.csv"); }).find("two videos share the id 'x'"), std::string::npos);
  testing::write_text_file(tmp / "nolabel.csv", "path,class\na.mp4,A\n");
  EXPECT_NE(testing::error_message([&] { extraction::list_videos(tmp / "nolabel.csv"); }).find("label"), std::string::npos);
  testing::write_text_file(tmp / "empty_label.csv", "path,label\na.mp4,\n");
  EXPECT_NE(testing::error_message([&] { extraction::list_videos(tmp / "empty_label.csv"); }).find("line 2: empty label"), std::string::npos);
  EXPECT_NE(testing::error_message([&] { extraction::list_videos(tmp / "absent"); }).find("no such folder or CSV file"), std::string::npos);
}

TEST(VideoList, ShardsPartitionTheVideosStably) {
  EXPECT_EQ(util::stable_hash(""), 14695981039346656037ull);  // FNV-1a 64 offset basis
  EXPECT_EQ(util::stable_hash("a"), 0xaf63dc4c8601ec8cull);  // published FNV-1a test vector
  std::vector<int> sizes(4, 0);
  for (int i = 0; i < 400; ++i) {
    int owners = 0;
    for (int k = 1; k <= 4; ++k) {
      if (extraction::ShardSpec{k, 4}.contains("video_" + std::to_string(i))) {
        ++owners;
        ++sizes[k - 1];
      }
    }
    EXPECT_EQ(owners, 1);
  }
  for (int s : sizes) EXPECT_GT(s, 60);  // about 100 each
  EXPECT_EQ(extraction::parse_shard("3/8").index, 3);
  for (const char* bad : {"0/2", "3/2", "1", "a/b", "1/2x", "-1/2"}) EXPECT_THROW(extraction::parse_shard(bad), std::invalid_argument) << bad;
}

}  // namespace video_list_test
}  // namespace avgzsl::extraction
