// Small text helpers every layer uses: prefix/suffix tests, a stable hash, and the callback that
// long jobs print their lines through.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace avgzsl::util {

inline bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

inline bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// FNV-1a 64 of `text`: a stable hash (std::hash may differ between standard libraries), for
// shards, automatic splits and job fingerprints.
uint64_t stable_hash(const std::string& text);

// The offset of the first byte that does not belong to well-formed UTF-8 (overlong forms,
// surrogates and code points past U+10FFFF are malformed), or std::string::npos when there is none.
size_t first_invalid_utf8(std::string_view text);

// `text` with &, <, >, " and ' as character references: safe inside XML and HTML elements and
// attribute values (SVG figures, the report's page).
std::string escape_xml(std::string_view text);

// "line N: ..." for the first line of `text` that is not UTF-8 text (malformed UTF-8, or
// a NUL byte: a binary file); empty when every line is text.
std::string binary_text_problem(std::string_view text);

// Where a long job sends the lines meant for its user (the CLI prints them; tests collect them).
using LineSink = std::function<void(const std::string&)>;

}  // namespace avgzsl::util
