#include "avgzsl/io/atomic_file.h"
#include "avgzsl/util/input_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace avgzsl::io {
namespace fs = std::filesystem;

namespace {

std::string temporary_sibling(const fs::path& path) {
  return path.string() + ".tmp-" + std::to_string(::getpid());
}

// std::ofstream cannot fsync; reopen the finished file with POSIX to push it to disk before
// the rename, so that a crash never leaves a renamed but empty file.
void sync_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

}  // namespace

void write_file_atomically(const fs::path& path, const std::function<void(std::ostream&)>& write) {
  const std::string tmp = temporary_sibling(path);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) {
      throw std::runtime_error(path.string() + ": cannot write (" + std::strerror(errno) + ")");
    }
    try {
      write(out);
    } catch (...) {
      out.close();
      std::remove(tmp.c_str());
      throw;
    }
    out.flush();
    if (!out) {
      out.close();
      std::remove(tmp.c_str());
      throw std::runtime_error(path.string() + ": write failed (disk full?)");
    }
  }
  sync_file(tmp);
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    throw std::runtime_error(path.string() + ": cannot move the finished file into place (" +
                             ec.message() + ")");
  }
}

void write_file_atomically(const fs::path& path, std::string_view content) {
  write_file_atomically(path, [&](std::ostream& out) {
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
  });
}

std::string read_file(const fs::path& path) {
  std::ifstream in = util::open_input_file(path, std::ios::binary | std::ios::ate);
  const std::streamsize size = in.tellg();
  if (size < 0) throw std::runtime_error(path.string() + ": cannot tell its size");
  in.seekg(0);
  std::string data(static_cast<size_t>(size), '\0');  // one read into one buffer: no stream copies
  in.read(data.data(), size);
  if (in.gcount() != size) throw std::runtime_error(path.string() + ": read error (file changed while reading?)");
  return data;
}

void check_directory_writable(const fs::path& dir) {
  const fs::path probe = dir / (".avgzsl-write-test-" + std::to_string(::getpid()));
  std::ofstream out(probe);
  if (!out) {
    throw std::runtime_error(dir.string() + ": directory is not writable (" + std::strerror(errno) + ")");
  }
  out.close();
  std::error_code ec;
  fs::remove(probe, ec);
}

namespace {

void check_parent_writable(const fs::path& path) {
  fs::path parent = path.parent_path();
  if (parent.empty()) parent = ".";
  std::error_code ec;
  fs::create_directories(parent, ec);   // a file on the way: "cannot create directory (Not a directory)"
  if (ec) throw std::runtime_error(parent.string() + ": cannot create directory (" + ec.message() + ")");
  check_directory_writable(parent);
}

}  // namespace

void check_output_directory(const fs::path& path) {
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (fs::exists(status) && !fs::is_directory(status)) {
    throw std::runtime_error(path.string() + ": exists and is not a directory; give a folder for the output");
  }
  check_parent_writable(path);
}

void check_output_file(const fs::path& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw std::runtime_error(path.string() + ": is a directory; give a file name for the output");
  check_parent_writable(path);
}

fs::path StagedDirectory::staging_path(fs::path target) {
  if (target.filename().empty()) target = target.parent_path();  // "run/" -> "run"
  target += ".partial";
  return target;
}

StagedDirectory::StagedDirectory(fs::path target, bool replace_existing, bool resume_staging)
    : target_(std::move(target)), replace_existing_(replace_existing) {
  if (target_.filename().empty()) target_ = target_.parent_path();  // "run/" -> "run"
  std::error_code ec;
  if (fs::exists(target_, ec) && !replace_existing_) {
    throw std::runtime_error(target_.string() + ": already exists; choose a new output directory");
  }
  check_parent_writable(target_);
  staging_ = staging_path(target_);
  if (resume_staging && fs::is_directory(staging_, ec)) return;
  fs::remove_all(staging_, ec);  // left over by a killed earlier attempt
  fs::create_directory(staging_, ec);
  if (ec) throw std::runtime_error(staging_.string() + ": cannot create directory (" + ec.message() + ")");
}

StagedDirectory::~StagedDirectory() {
  if (!committed_) {
    std::error_code ec;
    fs::remove_all(staging_, ec);
  }
}

void StagedDirectory::commit() {
  std::error_code ec;
  if (replace_existing_ && fs::exists(target_, ec)) {
    fs::path old = target_;
    old += ".old";
    fs::remove_all(old, ec);
    fs::rename(target_, old, ec);
    if (ec) throw std::runtime_error(target_.string() + ": cannot replace (" + ec.message() + ")");
    fs::rename(staging_, target_, ec);
    if (ec) throw std::runtime_error(target_.string() + ": cannot move into place (" + ec.message() + ")");
    fs::remove_all(old, ec);
  } else {
    fs::rename(staging_, target_, ec);
    if (ec) throw std::runtime_error(target_.string() + ": cannot move into place (" + ec.message() + ")");
  }
  committed_ = true;
}

}  // namespace avgzsl::io
