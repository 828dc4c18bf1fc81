#include "avgzsl/util/input_file.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace avgzsl::util {

namespace {

const char* kind_of(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a plain file";
}

}  // namespace

void require_regular_file(const std::filesystem::path& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    const int error = errno;
    if (error == ENOENT || error == ENOTDIR) throw std::runtime_error(path.string() + ": file not found");
    throw std::runtime_error(path.string() + ": cannot read (" + std::strerror(error) + ")");
  }
  if (S_ISDIR(info.st_mode)) throw std::runtime_error(path.string() + ": is a directory, expected a file");
  if (!S_ISREG(info.st_mode)) {
    throw std::runtime_error(path.string() + ": is " + kind_of(info.st_mode) + ", not a regular file; avgzsl reads only regular files");
  }
}

std::ifstream open_input_file(const std::filesystem::path& path, std::ios::openmode mode) {
  require_regular_file(path);
  std::ifstream in(path, mode | std::ios::in);
  if (!in) throw std::runtime_error(path.string() + ": cannot open (" + std::strerror(errno) + ")");
  return in;
}

}  // namespace avgzsl::util
