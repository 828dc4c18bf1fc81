// A whole file mapped read-only into memory: its bytes without a copy into the process (the
// kernel's page cache is read in place). Hand-written over POSIX mmap: the standard library has
// no mapping and Boost.Interprocess would be a dependency for these few lines.
//
// A mapped file that another process truncates raises SIGBUS where the lost pages are touched,
// so a reader checks every length and offset against size() before it touches the bytes, and
// calls check_size() again before touching them at a later time (a second pass).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <filesystem>
#include <string_view>

namespace avgzsl::io {

class MappedFile {
 public:
  // Maps `path` (a regular file; an empty one maps to no bytes). Throws std::runtime_error
  // "<path>: <problem>" when it is missing, not a regular file, or cannot be opened or mapped.
  explicit MappedFile(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string_view bytes() const { return {static_cast<const char*>(data_), size_}; }
  size_t size() const { return size_; }

  // Throws std::runtime_error "<path>: shrank from X to Y bytes while being read" when the file
  // behind the mapping is now shorter than when it was mapped (its lost pages would raise SIGBUS).
  void check_size() const;

 private:
  void release();

  std::filesystem::path path_;
  void* data_ = nullptr;
  size_t size_ = 0;
  dev_t device_ = 0;  // the mapped file, to tell it from a file renamed over the path since
  ino_t inode_ = 0;
};

}  // namespace avgzsl::io
