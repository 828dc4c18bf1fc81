// Small text helpers every layer uses: prefix/suffix tests, a stable hash, and the callback that
// long jobs print their lines through.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace avgzsl::util {

inline bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

inline bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// FNV-1a 64 of `text`: a stable hash (std::hash may differ between standard libraries), for
// shards, automatic splits and job fingerprints.
uint64_t stable_hash(const std::string& text);

// Where a long job sends the lines meant for its user (the CLI prints them; tests collect them).
using LineSink = std::function<void(const std::string&)>;

}  // namespace avgzsl::util
