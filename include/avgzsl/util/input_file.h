// Opening the files a user names for reading. Only regular files are read: opening a FIFO blocks
// until some writer appears (a job that hangs for ever), and devices such as /dev/zero never end.
// The check is made on the path before anything opens it.
#pragma once

#include <filesystem>
#include <fstream>

namespace avgzsl::util {

// Throws std::runtime_error "<path>: <problem>" unless `path` names a regular file (symbolic links
// are followed): "file not found", "is a directory, expected a file", "is a FIFO, not a regular
// file", ...
void require_regular_file(const std::filesystem::path& path);

// require_regular_file, then an open stream; throws std::runtime_error naming the file when it
// cannot be opened (permissions).
std::ifstream open_input_file(const std::filesystem::path& path, std::ios::openmode mode = std::ios::in);

}  // namespace avgzsl::util
