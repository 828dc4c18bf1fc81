#include "avgzsl/report/html_page.h"

#include "avgzsl/util/text.h"

namespace avgzsl::report {

HtmlPage::HtmlPage(std::string title) : title_(std::move(title)) {}

void HtmlPage::heading(const std::string& text) { body_ += "<h2>" + util::escape_xml(text) + "</h2>\n"; }

void HtmlPage::paragraph(const std::string& text) { body_ += "<p>" + util::escape_xml(text) + "</p>\n"; }

void HtmlPage::table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
                     int label_columns) {
  auto cell = [&](const char* tag, size_t column, const std::string& text) {
    const char* align = static_cast<int>(column) < label_columns ? "" : " class=\"num\"";
    return std::string("<") + tag + align + ">" + util::escape_xml(text) + "</" + tag + ">";
  };
  body_ += "<table>\n<thead><tr>";
  for (size_t c = 0; c < header.size(); ++c) body_ += cell("th", c, header[c]);
  body_ += "</tr></thead>\n<tbody>\n";
  for (const auto& row : rows) {
    body_ += "<tr>";
    for (size_t c = 0; c < row.size(); ++c) body_ += cell("td", c, row[c]);
    body_ += "</tr>\n";
  }
  body_ += "</tbody>\n</table>\n";
}

void HtmlPage::figure(const std::string& svg, const std::string& caption) {
  body_ += "<figure>\n" + svg + "\n<figcaption>" + util::escape_xml(caption) + "</figcaption>\n</figure>\n";
}

void HtmlPage::preformatted(const std::string& text) { body_ += "<pre>" + util::escape_xml(text) + "</pre>\n"; }

void HtmlPage::begin_details(const std::string& summary) {
  body_ += "<details>\n<summary>" + util::escape_xml(summary) + "</summary>\n";
}

void HtmlPage::end_details() { body_ += "</details>\n"; }

std::string HtmlPage::str() const {
  // Print-friendly and readable without any external stylesheet or font.
  static const char* style = R"css(
body { font-family: "DejaVu Sans", Arial, sans-serif; max-width: 60em; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.5em 0; } th, td { padding: 0.2em 0.7em; border-bottom: 1px solid #eee; }
th { text-align: left; background: #f6f6f6; } .num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1em 0; } figure svg { max-width: 100%; height: auto; } figcaption { font-size: 0.9em; color: #555; }
pre { background: #f6f6f6; padding: 0.7em; overflow-x: auto; font-size: 0.85em; }
)css";
  return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" + util::escape_xml(title_) +
         "</title>\n<style>" + style + "</style>\n</head>\n<body>\n<h1>" + util::escape_xml(title_) + "</h1>\n" + body_ +
         "</body>\n</html>\n";
}

}  // namespace avgzsl::report
