// A CSV file with a header row, read with libcsv (RFC 4180 quoting: class names such as
// "alligators, crocodiles hissing" are quoted in the reference's files).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace avgzsl::io {

struct CsvTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;  // each as long as the header
  // Index of a header column; throws std::runtime_error naming `source` when absent.
  size_t column(const std::string& name, const std::string& source) const;
};

// Throws std::runtime_error naming the file on unreadable files, bad quoting, an empty file or
// rows whose field count differs from the header's.
CsvTable read_csv(const std::filesystem::path& path);

// Writes one CSV field, quoted when it needs to be.
std::string csv_field(const std::string& text);

}  // namespace avgzsl::io
