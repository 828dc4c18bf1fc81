#include "avgzsl/io/csv_table.h"

#include <csv.h>

#include <memory>
#include <stdexcept>

#include "avgzsl/io/atomic_file.h"

namespace avgzsl::io {

size_t CsvTable::column(const std::string& name, const std::string& source) const {
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] == name) return i;
  }
  throw std::runtime_error(source + ": no column '" + name + "'");
}

namespace {
struct Collector {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
};
void on_field(void* data, size_t size, void* collector) {
  static_cast<Collector*>(collector)->row.emplace_back(static_cast<const char*>(data), size);
}
void on_row(int /*terminator*/, void* collector) {
  auto* c = static_cast<Collector*>(collector);
  c->rows.push_back(std::move(c->row));
  c->row.clear();
}
}  // namespace

CsvTable read_csv(const std::filesystem::path& path) {
  const std::string source = path.string();
  std::string text = read_file(path);
  // Spreadsheet programs start a "CSV UTF-8" export with a byte-order mark; it is not part of the
  // first column's name.
  if (text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);
  csv_parser parser;
  if (csv_init(&parser, CSV_STRICT | CSV_STRICT_FINI) != 0) throw std::runtime_error(source + ": cannot start the CSV parser");
  std::unique_ptr<csv_parser, void (*)(csv_parser*)> guard(&parser, [](csv_parser* p) { csv_free(p); });
  Collector collector;
  if (csv_parse(&parser, text.data(), text.size(), on_field, on_row, &collector) != text.size() ||
      csv_fini(&parser, on_field, on_row, &collector) != 0) {
    throw std::runtime_error(source + ": malformed CSV (" + csv_strerror(csv_error(&parser)) + ")");
  }
  if (collector.rows.empty()) throw std::runtime_error(source + ": empty CSV file");
  CsvTable table;
  table.header = std::move(collector.rows.front());
  for (size_t i = 1; i < collector.rows.size(); ++i) {
    if (collector.rows[i].size() != table.header.size()) {
      throw std::runtime_error(source + ": row " + std::to_string(i + 1) + " has " + std::to_string(collector.rows[i].size()) +
                               " fields, the header " + std::to_string(table.header.size()));
    }
    table.rows.push_back(std::move(collector.rows[i]));
  }
  return table;
}

std::string csv_field(const std::string& text) {
  // libcsv trims spaces and tabs around an unquoted field: a field that starts or ends with one
  // is quoted to read back as written.
  const bool padded = !text.empty() && (text.front() == ' ' || text.front() == '\t' || text.back() == ' ' || text.back() == '\t');
  if (!padded && text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  return out + "\"";
}

}  // namespace avgzsl::io
