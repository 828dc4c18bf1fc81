// One self-contained HTML page: styles inline, figures as inline SVG, no script and no link to any
// other file, so that it opens offline and can be mailed as one file. Hand-written: Debian has no
// C++ HTML templating library worth a dependency for headings, tables and <pre>.
#pragma once

#include <string>
#include <vector>

namespace avgzsl::report {

class HtmlPage {
 public:
  explicit HtmlPage(std::string title);
  void heading(const std::string& text);                 // <h2>
  void paragraph(const std::string& text);               // <p>, text escaped
  // A table; the first `label_columns` columns are left-aligned text, the others right-aligned numbers.
  void table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
             int label_columns = 1);
  // An inline SVG (plot::render_inline_svg) with a caption under it.
  void figure(const std::string& svg, const std::string& caption);
  void preformatted(const std::string& text);            // <pre>, text escaped
  // Wraps what follows until end_details() in a collapsed <details> with this summary.
  void begin_details(const std::string& summary);
  void end_details();
  std::string str() const;

 private:
  std::string title_;
  std::string body_;
};

}  // namespace avgzsl::report
