// The videos an extraction job works on, and the deterministic share of them one shard takes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace avgzsl::extraction {

struct VideoEntry {
  std::string id;               // the file name without extension: unique within a job
  std::filesystem::path path;   // as found, absolute or relative to the working directory
  std::string label;            // the class (folder) name
};

// A folder with one sub-folder per class (the UCF-101 layout; files with a video extension,
// sorted by class then file name), or a CSV with columns `path,label` (paths relative to the
// CSV's folder unless absolute; in file order). Throws std::runtime_error naming the folder or
// the file and line: no videos, a CSV without those columns, an empty label, or two files with
// the same id.
// A file of a class folder that is not taken, and why.
struct SkippedFile {
  std::filesystem::path path;
  std::string reason;
};
// `skipped`, when given, receives every file of a class folder that is not taken: files with a
// usual video extension are taken as they are (decoding checks them), every other file is probed
// (a Theora .ogg is a video, a .txt or a .jpg is not) and listed here with the reason.
std::vector<VideoEntry> list_videos(const std::filesystem::path& folder_or_csv, std::vector<SkippedFile>* skipped = nullptr);

// "--shard K/N": shard K (1-based) of N.
struct ShardSpec {
  int index = 1;
  int count = 1;
  // A video belongs to the shard chosen by a hash of its id (FNV-1a 64), not by its position:
  // adding videos to a list later moves no existing video to another shard.
  bool contains(const std::string& video_id) const;
  std::string text() const { return std::to_string(index) + "/" + std::to_string(count); }
};
// Throws std::invalid_argument on anything but "K/N" with 1 <= K <= N.
ShardSpec parse_shard(const std::string& text);

}  // namespace avgzsl::extraction
