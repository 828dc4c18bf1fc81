// Atomic outputs: a reader never sees a half-written file or run directory.
//
// Files are written to a temporary sibling, flushed to disk and renamed over the target
// (rename(2) is atomic within a file system). Directories are built under a temporary
// sibling name and renamed into place only when complete.
#pragma once

#include <filesystem>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>

namespace avgzsl::io {

// Writes `path` by calling `write` on a stream to a temporary sibling, then renaming it.
// Throws std::runtime_error naming `path` when the directory is not writable or the write fails;
// the target is then left as it was.
void write_file_atomically(const std::filesystem::path& path,
                           const std::function<void(std::ostream&)>& write);

// Convenience overload for content already in memory.
void write_file_atomically(const std::filesystem::path& path, std::string_view content);

// Reads a whole file; throws std::runtime_error naming the file when it cannot be read.
std::string read_file(const std::filesystem::path& path);

// A directory that appears at `target` only when commit() is called.
// Until then everything lives in `<target>.partial`; destroying an uncommitted
// StagedDirectory removes that staging folder, so a failed job leaves nothing behind.
class StagedDirectory {
 public:
  // Throws std::runtime_error when `target` already exists (unless `replace_existing`), or when
  // the parent directory is not writable.
  // `resume_staging`: keep what an earlier, killed attempt left in the staging folder (the caller
  // has checked that it belongs to the same job) instead of starting it empty.
  explicit StagedDirectory(std::filesystem::path target, bool replace_existing = false, bool resume_staging = false);
  // The staging folder of `target`, where a killed attempt's files remain.
  static std::filesystem::path staging_path(std::filesystem::path target);
  ~StagedDirectory();
  StagedDirectory(const StagedDirectory&) = delete;
  StagedDirectory& operator=(const StagedDirectory&) = delete;

  // Where files go until commit().
  const std::filesystem::path& path() const { return staging_; }
  const std::filesystem::path& target() const { return target_; }
  void commit();

 private:
  std::filesystem::path target_;
  std::filesystem::path staging_;
  bool replace_existing_ = false;
  bool committed_ = false;
};

// Throws std::runtime_error naming `dir` if a file cannot be created in it.
void check_directory_writable(const std::filesystem::path& dir);

// Checks made before a job does any work, so that a bad output path costs nothing: throws
// std::runtime_error "<path>: <problem>" when `path` exists and is not a directory, or when its
// parent cannot be created or written to.
void check_output_directory(const std::filesystem::path& path);
// The same for an output file: `path` must not be a directory, its folder must be writable.
void check_output_file(const std::filesystem::path& path);

}  // namespace avgzsl::io
