// libFuzzer target for the CSV readers: io::read_csv (src/io/csv_table.cpp, libcsv underneath)
// and extraction::list_videos on a `path,label` CSV (src/extraction/video_list.cpp). The input is
// the whole file. Both promise std::runtime_error naming the file for every defect. A table that
// reads is also written back with io::csv_field and must read back the same.
// Build and run with fuzz/run.sh csv.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "avgzsl/extraction/video_list.h"
#include "avgzsl/io/csv_table.h"
#include "fuzz_files.h"

namespace {

bool round_trip_applies(const avgzsl::io::CsvTable& table) {
  auto plain = [](const std::vector<std::string>& row) {
    // A lone empty field writes an empty line, which CSV cannot tell from no row.
    if (row.size() == 1 && row[0].empty()) return false;
    return true;   // finding 2 (fields with spaces around) is fixed: every other row round-trips
  };
  if (!plain(table.header)) return false;
  // A byte-order mark at the start is dropped by read_csv.
  if (!table.header.empty() && table.header[0].rfind("\xEF\xBB\xBF", 0) == 0) return false;
  for (const auto& row : table.rows) {
    if (!plain(row)) return false;
  }
  return true;
}

std::string write_csv(const avgzsl::io::CsvTable& table) {
  std::string out;
  auto line = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size(); ++i) out += (i ? "," : "") + avgzsl::io::csv_field(row[i]);
    out += "\n";
  };
  line(table.header);
  for (const auto& row : table.rows) line(row);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto path = avgzsl_fuzz::write_scratch("list.csv", input);
  try {
    const avgzsl::io::CsvTable table = avgzsl::io::read_csv(path);
    for (const auto& row : table.rows) {
      if (row.size() != table.header.size()) avgzsl_fuzz::invariant_failed("a row is not as long as the header");
    }
    if (round_trip_applies(table)) {
      const auto again_path = avgzsl_fuzz::write_scratch("again.csv", write_csv(table));
      avgzsl::io::CsvTable again;
      try {
        again = avgzsl::io::read_csv(again_path);
      } catch (const std::runtime_error&) {
        avgzsl_fuzz::invariant_failed("csv_field output does not read back");
      }
      if (again.header != table.header || again.rows != table.rows) {
        avgzsl_fuzz::invariant_failed("csv_field output does not read back as written");
      }
    }
  } catch (const std::runtime_error& e) {
    avgzsl_fuzz::refused(e);
  }
  try {
    const auto videos = avgzsl::extraction::list_videos(path);
    if (videos.empty()) avgzsl_fuzz::invariant_failed("list_videos returned no videos");
    for (const auto& v : videos) {
      if (v.label.empty()) avgzsl_fuzz::invariant_failed("a video without label");
    }
  } catch (const std::runtime_error& e) {
    avgzsl_fuzz::refused(e);
  }
  return 0;
}
