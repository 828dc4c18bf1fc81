#include "avgzsl/extraction/video_list.h"
#include "avgzsl/util/text.h"

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>
#include <string>

#include "avgzsl/io/csv_table.h"
#include "avgzsl/media/video_decoder.h"
#include "avgzsl/util/option_error.h"

namespace avgzsl::extraction {
namespace fs = std::filesystem;

namespace {

bool has_video_extension(const fs::path& p) {
  static const std::set<std::string> extensions = {".avi", ".mp4", ".mkv", ".webm", ".mov", ".m4v", ".mpg",
                                                   ".mpeg", ".flv", ".3gp", ".wmv", ".ogv", ".ts", ".mts"};
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return extensions.count(ext) != 0;
}

std::vector<VideoEntry> list_folder(const fs::path& root, std::vector<SkippedFile>* skipped) {
  std::vector<VideoEntry> out;
  std::vector<fs::path> classes;
  for (const auto& entry : fs::directory_iterator(root)) {
    if (entry.is_directory()) classes.push_back(entry.path());
  }
  std::sort(classes.begin(), classes.end());
  for (const fs::path& class_dir : classes) {
    std::vector<fs::path> files;
    for (const auto& entry : fs::recursive_directory_iterator(class_dir)) {
      if (!entry.is_regular_file()) continue;
      // Decided by probing, not by extension; the usual extensions skip the probe (their files are
      // opened when decoded anyway, and probing 200k files costs minutes).
      std::string reason = has_video_extension(entry.path()) ? "" : media::why_not_a_video(entry.path());
      if (reason.empty()) {
        files.push_back(entry.path());
      } else if (skipped) {
        skipped->push_back({entry.path(), reason});
      }
    }
    std::sort(files.begin(), files.end());
    for (const fs::path& f : files) out.push_back({f.stem().string(), f, class_dir.filename().string()});
  }
  return out;
}

std::vector<VideoEntry> list_csv(const fs::path& csv) {
  const io::CsvTable table = io::read_csv(csv);
  const size_t path_column = table.column("path", csv.string());
  const size_t label_column = table.column("label", csv.string());
  std::vector<VideoEntry> out;
  for (size_t r = 0; r < table.rows.size(); ++r) {
    const auto& row = table.rows[r];
    const std::string where = csv.string() + ": line " + std::to_string(r + 2);
    if (row[path_column].empty()) throw std::runtime_error(where + ": empty path");
    if (row[label_column].empty()) throw std::runtime_error(where + ": empty label");
    fs::path p = row[path_column];
    if (p.is_relative()) p = csv.parent_path() / p;
    out.push_back({p.stem().string(), p, row[label_column]});
  }
  return out;
}

}  // namespace

std::vector<VideoEntry> list_videos(const fs::path& source, std::vector<SkippedFile>* skipped) {
  std::vector<VideoEntry> videos;
  if (fs::is_directory(source)) {
    videos = list_folder(source, skipped);
  } else if (fs::is_regular_file(source)) {
    videos = list_csv(source);
  } else {
    throw std::runtime_error(source.string() + ": no such folder or CSV file");
  }
  if (videos.empty()) {
    throw std::runtime_error(source.string() + ": no videos (expected CLASS/VIDEO files or a CSV with path,label)");
  }
  std::map<std::string, const VideoEntry*> seen;
  for (const VideoEntry& v : videos) {
    const auto [it, inserted] = seen.emplace(v.id, &v);
    if (!inserted) {
      throw std::runtime_error(source.string() + ": two videos share the id '" + v.id + "' (" +
                               it->second->path.string() + " and " + v.path.string() + ")");
    }
  }
  return videos;
}

bool ShardSpec::contains(const std::string& video_id) const {
  return static_cast<int>(util::stable_hash(video_id) % static_cast<uint64_t>(count)) == index - 1;
}

ShardSpec parse_shard(const std::string& text) {
  const size_t slash = text.find('/');
  ShardSpec s;
  try {
    if (slash == std::string::npos) throw std::invalid_argument("");
    size_t used = 0;
    s.index = std::stoi(text.substr(0, slash), &used);
    if (used != slash) throw std::invalid_argument("");
    s.count = std::stoi(text.substr(slash + 1), &used);
    if (used != text.size() - slash - 1) throw std::invalid_argument("");
  } catch (const std::exception&) {
    throw util::OptionError("shard", "the shard", ": expected K/N (e.g. 3/8), got '" + text + "'");
  }
  if (s.count < 1 || s.index < 1 || s.index > s.count) {
    throw util::OptionError("shard", "the shard", ": K/N needs 1 <= K <= N, got '" + text + "'");
  }
  return s;
}

}  // namespace avgzsl::extraction
