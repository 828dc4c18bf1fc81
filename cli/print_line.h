#pragma once

#include <cstdio>
#include <fmt/format.h>
#include <string>

namespace avgzsl::cli {

// One line of a long job's report, flushed at once so that logs and pipes see it as it happens.
inline void print_line(const std::string& line) {
  fmt::print("{}\n", line);
  std::fflush(stdout);
}

}  // namespace avgzsl::cli
