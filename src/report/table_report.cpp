#include "avgzsl/report/table_report.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "avgzsl/io/atomic_file.h"
#include "avgzsl/report/figure_files.h"
#include "avgzsl/report/html_page.h"
#include "avgzsl/training/protocol.h"

namespace avgzsl::report {
namespace fs = std::filesystem;
using nlohmann::json;
namespace {

// One row of an ablation or benchmark table: its runs' test numbers in percent.
struct TableRow {
  std::string group;           // ablation family; empty for the benchmark
  std::string label;           // variant or method
  std::string not_applicable;  // why the row was not run; empty when it was
  std::vector<double> seen, unseen, hm, zsl, beta;
};

json read_json(const fs::path& path) {
  if (!fs::is_regular_file(path)) throw std::runtime_error(path.string() + ": not found");
  try {
    return json::parse(io::read_file(path));
  } catch (const json::exception& e) {
    throw std::runtime_error(path.string() + ": not valid JSON (" + e.what() + ")");
  }
}

void read_runs(const json& runs, TableRow& row) {
  for (const auto& r : runs) {
    row.seen.push_back(r.at("S").get<double>());
    row.unseen.push_back(r.at("U").get<double>());
    row.hm.push_back(r.at("HM").get<double>());
    row.zsl.push_back(r.at("ZSL").get<double>());
    row.beta.push_back(r.at("beta").get<double>());
  }
}

std::vector<TableRow> read_rows(const json& rows, bool ablation, const fs::path& source) {
  std::vector<TableRow> out;
  try {
    for (const auto& r : rows) {
      TableRow row;
      if (ablation) {
        row.group = r.at("family").get<std::string>();
        row.label = r.at("variant").get<std::string>();
        if (r.contains("not_applicable")) row.not_applicable = r.at("not_applicable").get<std::string>();
      } else {
        row.label = r.at("method").get<std::string>();
      }
      if (row.not_applicable.empty()) read_runs(r.at("runs"), row);
      out.push_back(std::move(row));
    }
  } catch (const json::exception& e) {
    throw std::runtime_error(source.string() + ": not a table of " + (ablation ? "`ablate --json`" : "`benchmark`") + " (" +
                             e.what() + ")");
  }
  if (out.empty()) throw std::runtime_error(source.string() + ": the table has no rows");
  return out;
}

plot::Figure hm_chart(const std::vector<TableRow>& rows, const std::string& title) {
  plot::Panel p;
  p.title = title;
  p.y_label = "test HM (%), mean ± std";
  std::vector<std::string> groups;
  for (const auto& r : rows) {
    if (!r.not_applicable.empty() || r.hm.empty()) continue;
    auto g = std::find(groups.begin(), groups.end(), r.group);
    if (g == groups.end()) g = groups.insert(groups.end(), r.group);
    const training::MeanStd hm = training::mean_and_sample_std(r.hm);
    const bool baseline = r.label == "training-free";
    const plot::Color color = baseline ? plot::Color{0x77, 0x77, 0x77}
                                       : plot::qualitative_palette()[(g - groups.begin()) % plot::qualitative_palette().size()];
    p.bars.push_back({r.group.empty() ? r.label : r.group + ": " + r.label, hm.mean, hm.std, color});
  }
  if (p.bars.empty()) throw std::invalid_argument("the table has no row with results to chart");
  p.y_range = std::make_pair(0.0, std::max(10.0, [&] {
                                double top = 0;
                                for (const auto& b : p.bars) top = std::max(top, b.value + b.error);
                                return top * 1.1;
                              }()));
  plot::Figure f;
  f.width = std::max(300.0, 40.0 * p.bars.size() + 80);
  f.height = 260;
  f.panels.push_back(std::move(p));
  return f;
}

WrittenReport write_table_page(const std::vector<TableRow>& rows, const std::string& title, const std::string& intro,
                               const fs::path& out_html) {
  HtmlPage page(title);
  page.paragraph(intro);
  std::vector<std::vector<std::string>> cells;
  const bool grouped = !rows.front().group.empty();
  for (const auto& r : rows) {
    std::vector<std::string> row;
    if (grouped) row.push_back(r.group);
    row.push_back(r.label);
    if (!r.not_applicable.empty()) {
      row.push_back("not applicable: " + r.not_applicable);
      for (int i = 0; i < 5; ++i) row.push_back("");
    } else {
      for (const auto* values : {&r.seen, &r.unseen, &r.hm, &r.zsl, &r.beta}) row.push_back(training::format_mean_std(*values, 2));
      row.push_back(std::to_string(r.hm.size()));
    }
    cells.push_back(std::move(row));
  }
  std::vector<std::string> header = {"S (%)", "U (%)", "HM (%)", "ZSL (%)", "beta", "runs"};
  header.insert(header.begin(), grouped ? "variant" : "method");
  if (grouped) header.insert(header.begin(), "family");
  page.table(header, cells, grouped ? 2 : 1);
  const plot::Figure chart = hm_chart(rows, title);
  page.figure(plot::render_inline_svg(chart), "Test HM per row: bar = mean over seeds, error bar = ± sample standard deviation "
                                              "(none for a single seed).");
  WrittenReport written;
  written.figures = write_figure_folder({{"hm", chart}}, figure_folder_of(out_html));
  io::write_file_atomically(out_html, page.str());
  written.html = out_html;
  return written;
}

}  // namespace

WrittenReport write_ablation_report(const fs::path& ablation, const fs::path& out_html, const util::LineSink&) {
  io::check_output_file(fs::absolute(out_html));
  const fs::path file = fs::is_directory(ablation) ? ablation / "ablation.json" : ablation;
  const json table = read_json(file);
  if (!table.is_array()) throw std::runtime_error(file.string() + ": not a table of `ablate --json` (expected a list of rows)");
  return write_table_page(read_rows(table, true, file), "avgzsl ablation: " + file.filename().string(),
                          "Each row is the full two-stage protocol with one thing changed; test-split numbers in percent, "
                          "mean ± sample std over seeds.",
                          out_html);
}

WrittenReport write_benchmark_report(const fs::path& benchmark_dir, const fs::path& out_html, const util::LineSink&) {
  io::check_output_file(fs::absolute(out_html));
  const fs::path file = benchmark_dir / "results.json";
  if (!fs::is_regular_file(file)) {
    throw std::runtime_error(file.string() + ": not found (the benchmark writes its table when every run has finished)");
  }
  const json table = read_json(file);
  if (!table.is_object() || !table.contains("rows")) {
    throw std::runtime_error(file.string() + ": not a table of `benchmark` (no \"rows\")");
  }
  std::string data = table.contains("plan") && table["plan"].contains("data") ? table["plan"]["data"].get<std::string>() : "";
  return write_table_page(read_rows(table.at("rows"), false, file), "avgzsl benchmark" + (data.empty() ? "" : " on " + data),
                          "Every method through the same two-stage protocol; test-split numbers in percent, mean ± sample std "
                          "over seeds; the training-free row needs no training.",
                          out_html);
}

}  // namespace avgzsl::report
