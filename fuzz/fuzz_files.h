// Helpers of the fuzz targets whose code under test reads files by path: the input is cut into
// parts at a separator line and each part is written to a file in a private scratch directory
// (under /dev/shm when it exists, so the writes stay in memory). Used only by fuzz/*.cpp.
#pragma once

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace avgzsl_fuzz {

// Between two parts of a multi-file input (also in the targets' dictionaries, fuzz/*.dict).
inline constexpr std::string_view kSeparator = "\n--avgzsl-fuzz-part--\n";

// At most `max_parts` parts: the last one keeps any further separators.
inline std::vector<std::string_view> split_parts(std::string_view input, size_t max_parts) {
  std::vector<std::string_view> parts;
  while (parts.size() + 1 < max_parts) {
    const size_t at = input.find(kSeparator);
    if (at == std::string_view::npos) break;
    parts.push_back(input.substr(0, at));
    input.remove_prefix(at + kSeparator.size());
  }
  parts.push_back(input);
  return parts;
}

// The scratch directory of this process, made on first use and removed at exit.
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    const char* base = std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
    std::string pattern = std::string(base) + "/avgzsl-fuzz-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      std::perror("mkdtemp");
      std::abort();
    }
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(scratch_dir(), ec);
    });
    return std::filesystem::path(pattern);
  }();
  return dir;
}

// Empties the scratch directory (files of the previous input must not leak into this one).
inline void clear_scratch() {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(scratch_dir(), ec)) {
    std::filesystem::remove_all(entry.path(), ec);
  }
}

// Writes `content` to scratch_dir()/relative (parent folders made); aborts on I/O errors, which
// are the harness's, not the code's.
inline std::filesystem::path write_scratch(const std::string& relative, std::string_view content) {
  const std::filesystem::path path = scratch_dir() / relative;
  std::filesystem::create_directories(path.parent_path());
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr || std::fwrite(content.data(), 1, content.size(), f) != content.size() || std::fclose(f) != 0) {
    std::perror(path.c_str());
    std::abort();
  }
  return path;
}

// A bug the sanitizers cannot see (a broken promise of the API): report and crash, so that
// libFuzzer saves the input.
[[noreturn]] inline void invariant_failed(const char* what) {
  std::fprintf(stderr, "==avgzsl-fuzz== invariant failed: %s\n", what);
  std::abort();
}

// Known findings (fuzz/README.md) that a target steps around so that a run keeps searching for new
// ones; AVGZSL_FUZZ_STRICT=1 in the environment turns the stepping around off (to check a fix).
inline bool skip_known(const char* finding) {
  static const bool strict = std::getenv("AVGZSL_FUZZ_STRICT") != nullptr;
  if (strict) return false;
  static bool told = false;
  if (!told) std::fprintf(stderr, "==avgzsl-fuzz== stepping around known finding: %s\n", finding);
  told = true;
  return true;
}

// With AVGZSL_FUZZ_VERBOSE=1 in the environment, prints the error an input was refused with (to
// check that the seeds get past the loaders: run the target on the seed folder with -runs=0).
inline void refused(const std::exception& e) {
  static const bool verbose = std::getenv("AVGZSL_FUZZ_VERBOSE") != nullptr;
  if (verbose) std::fprintf(stderr, "refused: %s\n", e.what());
}

}  // namespace avgzsl_fuzz
