// Figures as data: panels of scatter points, lines and bars with axes and legends, rendered to
// PNG and PDF by cairo and to SVG by a small writer of our own (cairo's SVG surface draws text as
// glyph outlines; ours keeps it real <text>, searchable and restylable). Both share one layout,
// measured with cairo's font metrics, so the three formats show the same picture.
// Torch-free: callers pass plain numbers. Why cairo and not PLplot: docs/figures.md.
//
// Units are PostScript points (1/72 in): a paper column is about 243 pt wide, a page 504 pt.
//
// The SVG is written so that tests and users can find things in it:
//   every data marker is an element with class="point" (inside <g class="series">),
//   every bar class="bar", every error bar class="error-bar",
//   every legend entry a <g class="legend-entry"> holding its <text>,
//   every panel a <g class="panel">.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace avgzsl::plot {

struct Color {
  uint8_t r = 0, g = 0, b = 0;
  std::string hex() const;  // "#rrggbb"
};

// Paul Tol's "muted" qualitative scheme (9 colours, distinct for colour-blind readers), in order.
const std::vector<Color>& qualitative_palette();
// Tol's grey, for neutral things (reference lines, "other").
Color neutral_grey();

enum class Marker { none, circle, square, diamond, triangle, cross, plus };

// Points (a scatter) or a polyline through them, or both.
struct Series {
  std::string label;             // legend text; empty: not in any legend
  std::vector<double> x, y;      // same length; non-finite points are skipped
  Color color;
  Marker marker = Marker::circle;
  double marker_size = 4;        // diameter in pt
  double marker_opacity = 1;     // 0..1 (dense scatters read better at ~0.7)
  bool marker_edge = false;      // a thin dark outline, to set a few markers apart from a dense
                                 // scatter (e.g. the class-text diamonds of a t-SNE figure)
  bool line = false;             // join the points in order
  bool dashed = false;
  double line_width = 1.25;      // pt
};

// One bar of a categorical bar chart.
struct Bar {
  std::string category;          // tick label under the bar
  double value = 0;
  double error = 0;              // half-length of a ± error bar; 0: none
  Color color;
};

// A vertical reference line across the plot area (e.g. the chosen beta), labelled at its top.
struct VerticalLine {
  double x = 0;
  std::string label;
  Color color;
  bool dashed = true;
};

struct Panel {
  std::string title;                       // above the plot area, e.g. "(a) audio features"
  std::string x_label, y_label;            // axis labels with units, e.g. "epoch", "HM (%)"
  std::vector<Series> series;
  std::vector<Bar> bars;                   // non-empty: a categorical bar chart (x is the category)
  std::vector<VerticalLine> vertical_lines;
  std::optional<std::pair<double, double>> x_range, y_range;  // default: the data's, padded
  bool log_y = false;                      // base-10 y axis (all y must then be > 0)
  bool show_tick_labels = true;            // false for axes without meaning (t-SNE coordinates)
  // Category labels under bars: drawn when there are at most this many bars (else the axis only
  // says how many), rotated when they would overlap.
  int max_category_labels = 60;
  bool legend = false;                     // a legend of this panel's labelled series, below it
};

struct LegendEntry {
  std::string label;
  Color color;
  Marker marker = Marker::circle;
  bool line = false;                       // a short line through the marker
  bool dashed = false;                     // ... dashed
};

struct Figure {
  double width = 504;                      // pt
  double height = 200;                     // pt
  std::string title;                       // optional, above all panels
  std::vector<Panel> panels;               // laid out left to right, equal widths
  std::vector<LegendEntry> legend;         // one figure-level legend (e.g. class names) ...
  bool legend_right = true;                // ... right of the panels, or below them when false
  double font_size = 8;                    // pt; legible in a printed column
  double png_dpi = 200;                    // pixels per inch of the PNG rendering
};

enum class Format { png, svg, pdf };
// From the extension (.png, .svg, .pdf, any case); throws std::invalid_argument naming the path.
Format format_of(const std::filesystem::path& path);

// The whole file's bytes in `format`. Throws std::invalid_argument on a figure that cannot be
// drawn (no panels, mismatched x/y lengths, log axis with y <= 0), naming the panel.
std::string render(const Figure& figure, Format format);
// An <svg> element without the XML prolog, for inline use in HTML.
std::string render_inline_svg(const Figure& figure);
// Renders, then writes atomically (nothing half-written on failure); the format comes from the
// extension. Errors name the path.
void save(const Figure& figure, const std::filesystem::path& path);

}  // namespace avgzsl::plot
