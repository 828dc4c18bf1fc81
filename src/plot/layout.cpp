// Figure → display list: ranges, ticks, margins measured from the real label widths, legends.
// Hand-written because the alternative on Debian, PLplot, lays out with its own global state and
// could not hand us the geometry for an SVG of our own (docs/figures.md).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>

#include "display_list.h"
#include "text.h"
#include "ticks.h"

namespace avgzsl::plot::detail {

namespace {

const Color ink{0x22, 0x22, 0x22};
const Color axis_ink{0x44, 0x44, 0x44};
const Color grid_ink{0xE4, 0xE4, 0xE4};
const Color white{0xFF, 0xFF, 0xFF};
constexpr double axis_width = 0.6, grid_width = 0.4, error_bar_width = 0.7;

// Every distance derives from the font size, so that a figure keeps its proportions at any size.
struct Metrics {
  explicit Metrics(double font_size, const TextMeasurer& text)
      : font(font_size), line(1.25 * font_size), tick(0.4 * font_size), gap(0.3 * font_size),
        pad(0.5 * font_size), cap(text.cap_height(font_size)), descent(text.descent(font_size)) {}
  double font, line, tick, gap, pad, cap, descent;
};

std::string panel_name(const Panel& panel, size_t index) {
  return panel.title.empty() ? fmt::format("panel {}", index + 1) : fmt::format("panel {} \"{}\"", index + 1, panel.title);
}

std::string series_name(const Series& series, size_t index) {
  return series.label.empty() ? fmt::format("series {}", index + 1) : fmt::format("series \"{}\"", series.label);
}

bool finite_range(const std::optional<std::pair<double, double>>& range) {
  return !range || (std::isfinite(range->first) && std::isfinite(range->second) && range->first < range->second);
}

void check(const Figure& figure) {
  if (figure.panels.empty()) throw std::invalid_argument("a figure needs at least one panel");
  if (!(figure.width > 0 && figure.height > 0 && std::isfinite(figure.width) && std::isfinite(figure.height)))
    throw std::invalid_argument(fmt::format("figure size {} x {} pt is not positive", figure.width, figure.height));
  if (!(figure.font_size > 0 && std::isfinite(figure.font_size)))
    throw std::invalid_argument(fmt::format("font size {} pt is not positive", figure.font_size));
  for (size_t p = 0; p < figure.panels.size(); ++p) {
    const Panel& panel = figure.panels[p];
    const std::string name = panel_name(panel, p);
    if (!finite_range(panel.x_range) || !finite_range(panel.y_range))
      throw std::invalid_argument(name + ": an axis range must be finite with its low end below its high end");
    if (panel.log_y && panel.y_range && panel.y_range->first <= 0)
      throw std::invalid_argument(fmt::format("{}: log y axis with a range starting at {} (must be > 0)", name, panel.y_range->first));
    for (size_t s = 0; s < panel.series.size(); ++s) {
      const Series& series = panel.series[s];
      if (series.x.size() != series.y.size())
        throw std::invalid_argument(fmt::format("{}: {} has {} x values but {} y values", name, series_name(series, s),
                                                series.x.size(), series.y.size()));
      if (!panel.log_y) continue;
      for (const double y : series.y) {
        if (std::isfinite(y) && y <= 0)
          throw std::invalid_argument(fmt::format("{}: log y axis, but {} has y = {} (must be > 0)", name, series_name(series, s), y));
      }
    }
    for (const Bar& bar : panel.bars) {
      if (panel.log_y && !(bar.value > 0))
        throw std::invalid_argument(fmt::format("{}: log y axis, but bar \"{}\" has value {} (must be > 0)", name, bar.category, bar.value));
    }
  }
}

struct Extent {
  double lo = std::numeric_limits<double>::infinity(), hi = -std::numeric_limits<double>::infinity();
  void add(double v) {
    if (!std::isfinite(v)) return;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  bool empty() const { return lo > hi; }
};

// The data's extent widened by `fraction` of its span on each side (a point on the frame is hard
// to see); a single value gets a range around it.
std::pair<double, double> padded(const Extent& extent, double fraction, double single_half_width) {
  if (extent.empty()) return {0, 1};
  if (extent.lo == extent.hi) {
    const double half = single_half_width > 0 ? single_half_width : (extent.lo == 0 ? 1 : std::abs(extent.lo) * 0.1);
    return {extent.lo - half, extent.hi + half};
  }
  const double margin = (extent.hi - extent.lo) * fraction;
  return {extent.lo - margin, extent.hi + margin};
}

// Range in axis space (log10 of the values on a log axis) and ticks.
struct Axis {
  double lo = 0, hi = 1;
  bool log = false;
  Ticks ticks;
  double fraction(double value) const {
    const double t = log ? std::log10(value) : value;
    return (t - lo) / (hi - lo);
  }
};

Axis x_axis(const Panel& panel) {
  Axis axis;
  if (!panel.bars.empty()) {
    axis.lo = -0.5;
    axis.hi = static_cast<double>(panel.bars.size()) - 0.5;
    return axis;
  }
  if (panel.x_range) {
    std::tie(axis.lo, axis.hi) = *panel.x_range;
    return axis;
  }
  Extent extent;
  for (const Series& series : panel.series) {
    for (size_t i = 0; i < series.x.size(); ++i) {
      if (std::isfinite(series.y[i])) extent.add(series.x[i]);
    }
  }
  for (const VerticalLine& line : panel.vertical_lines) extent.add(line.x);
  std::tie(axis.lo, axis.hi) = padded(extent, 0.04, 0);
  return axis;
}

Axis y_axis(const Panel& panel) {
  Axis axis;
  axis.log = panel.log_y;
  if (panel.y_range) {
    axis.lo = axis.log ? std::log10(panel.y_range->first) : panel.y_range->first;
    axis.hi = axis.log ? std::log10(panel.y_range->second) : panel.y_range->second;
    return axis;
  }
  Extent extent;
  const auto add = [&](double y) {
    if (!axis.log) extent.add(y);
    else if (y > 0) extent.add(std::log10(y));
  };
  for (const Series& series : panel.series) {
    for (size_t i = 0; i < series.y.size(); ++i) {
      if (std::isfinite(series.x[i])) add(series.y[i]);
    }
  }
  for (const Bar& bar : panel.bars) {
    add(bar.value);
    if (bar.error > 0) add(bar.value - bar.error), add(bar.value + bar.error);
  }
  if (axis.log) {
    std::tie(axis.lo, axis.hi) = padded(extent, 0.04, 0.5);
    return axis;
  }
  if (panel.bars.empty()) {
    std::tie(axis.lo, axis.hi) = padded(extent, 0.04, 0);
    return axis;
  }
  // Bars grow from zero: the axis starts there and only the far end gets room.
  extent.add(0);
  std::tie(axis.lo, axis.hi) = padded(extent, 0.05, 0);
  if (extent.lo == 0) axis.lo = 0;
  if (extent.hi == 0 && extent.lo < 0) axis.hi = 0;
  return axis;
}

Ticks ticks_for(const Axis& axis, int target) {
  return axis.log ? log_ticks(axis.lo, axis.hi, target) : linear_ticks(axis.lo, axis.hi, target);
}

double widest(const std::vector<std::string>& texts, double size, const TextMeasurer& text) {
  double width = 0;
  for (const std::string& s : texts) width = std::max(width, text.width(s, size));
  return width;
}

// Category labels under bars: horizontal when they fit their slot, else turned 45° or 90°, else
// smaller, else left out (the caller's x label then says what the bars are).
struct CategoryLabels {
  bool shown = false;
  double angle = 0;  // degrees, clockwise as in SVG: 0, -45 or -90
  double size = 8;
  std::vector<std::string> texts;
  double depth = 0;     // below the tick marks
  double overhang = 0;  // left of the first bar's centre
};

CategoryLabels plan_category_labels(const Panel& panel, double plot_width, double box_height, const Metrics& m,
                                    const TextMeasurer& text) {
  CategoryLabels labels;
  const size_t n = panel.bars.size();
  if (!panel.show_tick_labels || n == 0 || static_cast<int>(n) > panel.max_category_labels) return labels;
  const double slot = plot_width / static_cast<double>(n);
  for (const Bar& bar : panel.bars) labels.texts.push_back(clean_text(bar.category));
  labels.size = m.font;
  const double height = m.cap + m.descent;
  const double max_depth = 0.4 * box_height;
  const double widest_text = widest(labels.texts, labels.size, text);
  labels.shown = true;
  if (widest_text + m.gap <= slot) {
    labels.depth = m.cap + m.descent;
    return labels;
  }
  const auto fit_all = [&](double max_width) {
    for (std::string& s : labels.texts) s = text.fit(s, max_width, labels.size);
    return widest(labels.texts, labels.size, text);
  };
  if (slot >= 1.45 * height) {
    labels.angle = -45;
    const double diagonal = 0.70710678;
    const double width = fit_all(std::max(max_depth / diagonal - height, 3 * m.font));
    labels.depth = (width + height) * diagonal;
    const double first_width = text.width(labels.texts.front(), labels.size);
    labels.overhang = first_width * diagonal - slot / 2;
    return labels;
  }
  if (slot < 1.05 * height) {
    labels.size = m.font * slot / (1.05 * height);
    if (labels.size < 0.7 * m.font) {
      labels = CategoryLabels();
      return labels;
    }
  }
  labels.angle = -90;
  labels.depth = fit_all(std::max(max_depth, 3 * m.font));
  return labels;
}

struct LegendGrid {
  std::vector<LegendEntry> entries;  // labels cleaned and fitted
  int columns = 0, rows = 0;
  bool column_major = true;  // fill columns top to bottom (right legend) or rows (legend below)
  std::vector<double> column_widths;
  double swatch = 0;  // one width for all, so that the texts of a column line up
  double width = 0, height = 0;
};

double swatch_width(const LegendEntry& entry, const Metrics& m) { return entry.line ? 2.2 * m.font : 1.1 * m.font; }
double legend_row_height(const Metrics& m) { return 1.35 * m.font; }

void measure_columns(LegendGrid& grid, const Metrics& m, const TextMeasurer& text) {
  grid.column_widths.assign(grid.columns, 0);
  grid.swatch = 0;
  for (const LegendEntry& e : grid.entries) grid.swatch = std::max(grid.swatch, swatch_width(e, m));
  for (size_t i = 0; i < grid.entries.size(); ++i) {
    const int column = grid.column_major ? static_cast<int>(i) / grid.rows : static_cast<int>(i) % grid.columns;
    const LegendEntry& e = grid.entries[i];
    grid.column_widths[column] = std::max(grid.column_widths[column], grid.swatch + m.gap + text.width(e.label, m.font));
  }
  if (!grid.column_major) {  // a grid below the panels aligns its columns
    const double widest_column = *std::max_element(grid.column_widths.begin(), grid.column_widths.end());
    std::fill(grid.column_widths.begin(), grid.column_widths.end(), widest_column);
  }
  grid.width = (grid.columns - 1) * m.font;
  for (const double w : grid.column_widths) grid.width += w;
  grid.height = grid.rows * legend_row_height(m);
}

// Shortens labels so that `columns` columns fit in `max_width`.
void fit_labels(LegendGrid& grid, double max_width, const Metrics& m, const TextMeasurer& text) {
  const double gaps = (grid.columns - 1) * m.font;
  const double label_width = std::max((max_width - gaps) / grid.columns - grid.swatch - m.gap, 3 * m.font);
  for (LegendEntry& e : grid.entries) e.label = text.fit(e.label, label_width, m.font);
  measure_columns(grid, m, text);
}

LegendGrid clean_entries(const std::vector<LegendEntry>& entries) {
  LegendGrid grid;
  grid.entries = entries;
  for (LegendEntry& e : grid.entries) e.label = clean_text(e.label);
  return grid;
}

// A legend right of the panels: as many rows as the height holds, then more columns.
LegendGrid legend_in_columns(const std::vector<LegendEntry>& entries, double max_height, double max_width, const Metrics& m,
                             const TextMeasurer& text) {
  LegendGrid grid = clean_entries(entries);
  const int n = static_cast<int>(grid.entries.size());
  const int rows_that_fit = std::max(1, static_cast<int>(max_height / legend_row_height(m)));
  grid.columns = (n + rows_that_fit - 1) / rows_that_fit;
  grid.rows = (n + grid.columns - 1) / grid.columns;  // balanced columns
  measure_columns(grid, m, text);
  if (grid.width > max_width) fit_labels(grid, max_width, m, text);
  return grid;
}

// A legend below: as many columns as the width holds.
LegendGrid legend_in_rows(const std::vector<LegendEntry>& entries, double max_width, const Metrics& m, const TextMeasurer& text) {
  LegendGrid grid = clean_entries(entries);
  grid.column_major = false;
  const int n = static_cast<int>(grid.entries.size());
  double swatch = 0, label = 0;
  for (const LegendEntry& e : grid.entries) swatch = std::max(swatch, swatch_width(e, m)), label = std::max(label, text.width(e.label, m.font));
  const double entry_width = swatch + m.gap + label;
  grid.columns = std::clamp(static_cast<int>((max_width + m.font) / (entry_width + m.font)), 1, n);
  grid.rows = (n + grid.columns - 1) / grid.columns;
  measure_columns(grid, m, text);
  if (grid.width > max_width) fit_labels(grid, max_width, m, text);
  return grid;
}

class Painter {
 public:
  Painter(DisplayList& list, const Metrics& m) : list_(list), m_(m) {}

  void text(Point at, const std::string& s, double size, Anchor anchor, double rotation = 0, bool bold = false,
            Color color = ink) {
    if (s.empty()) return;
    TextItem item;
    item.at = at;
    item.text = s;
    item.size = size;
    item.anchor = anchor;
    item.rotation = rotation;
    item.bold = bold;
    item.color = color;
    list_.items.emplace_back(std::move(item));
  }
  void path(std::vector<std::vector<Point>> subpaths, Stroke stroke, const std::string& css_class, bool closed = false,
            Fill fill = {}) {
    PathItem item;
    item.subpaths = std::move(subpaths);
    item.stroke = stroke;
    item.fill = fill;
    item.closed = closed;
    item.css_class = css_class;
    list_.items.emplace_back(std::move(item));
  }
  void rect(double x, double y, double w, double h, Fill fill, Stroke stroke, const std::string& css_class) {
    RectItem item;
    item.x = x, item.y = y, item.width = w, item.height = h;
    item.fill = fill;
    item.stroke = stroke;
    item.css_class = css_class;
    list_.items.emplace_back(std::move(item));
  }
  void marker(Point center, Marker shape, double size, Color color, double opacity, bool edge, const std::string& css_class) {
    if (shape == Marker::none) return;
    MarkerItem item;
    item.center = center;
    item.shape = shape;
    item.size = size;
    item.color = color;
    item.opacity = std::clamp(opacity, 0.0, 1.0);
    item.edge = edge;
    item.css_class = css_class;
    list_.items.emplace_back(std::move(item));
  }
  void begin(const std::string& css_class, const std::string& label = "") { list_.items.emplace_back(GroupBegin{css_class, label}); }
  void end() { list_.items.emplace_back(GroupEnd{}); }

  // A legend whose top-left corner is at (x, y).
  void legend(const LegendGrid& grid, double x, double y) {
    begin("legend");
    const double row_height = legend_row_height(m_);
    for (size_t i = 0; i < grid.entries.size(); ++i) {
      const int index = static_cast<int>(i);
      const int column = grid.column_major ? index / grid.rows : index % grid.columns;
      const int row = grid.column_major ? index % grid.rows : index / grid.columns;
      double left = x + column * m_.font;
      for (int c = 0; c < column; ++c) left += grid.column_widths[c];
      const double middle = y + (row + 0.5) * row_height;
      const LegendEntry& e = grid.entries[i];
      const double swatch = grid.swatch;
      begin("legend-entry");
      if (e.line) path({{{left, middle}, {left + swatch, middle}}}, Stroke{e.color, 1.25, e.dashed}, "legend-line");
      marker({left + swatch / 2, middle}, e.marker, 0.75 * m_.font, e.color, 1, false, "legend-marker");
      text({left + swatch + m_.gap, middle + m_.cap / 2}, e.label, m_.font, Anchor::start);
      end();
    }
    end();
  }

 private:
  DisplayList& list_;
  const Metrics& m_;
};

// Liang–Barsky: the part of segment a→b inside the rectangle, if any.
bool clip_segment(Point& a, Point& b, double x0, double y0, double x1, double y1) {
  double t0 = 0, t1 = 1;
  const double dx = b.x - a.x, dy = b.y - a.y;
  const double p[4] = {-dx, dx, -dy, dy};
  const double q[4] = {a.x - x0, x1 - a.x, a.y - y0, y1 - a.y};
  for (int i = 0; i < 4; ++i) {
    if (p[i] == 0) {
      if (q[i] < 0) return false;
      continue;
    }
    const double t = q[i] / p[i];
    if (p[i] < 0) t0 = std::max(t0, t);
    else t1 = std::min(t1, t);
    if (t0 > t1) return false;
  }
  const Point start{a.x + t0 * dx, a.y + t0 * dy}, stop{a.x + t1 * dx, a.y + t1 * dy};
  a = start;
  b = stop;
  return true;
}

struct PanelPlan {
  Axis x, y;
  bool categorical = false;
  double top = 0, bottom = 0, left = 0, right = 0;  // margins inside the panel's box
  double natural_top = 0, natural_bottom = 0;       // what this panel alone would need
  double x_label_depth = 0;                         // tick labels below the tick marks
  CategoryLabels categories;
  std::optional<LegendGrid> legend;
};

PanelPlan plan_panel(const Panel& panel, double box_width, double box_height, std::optional<double> forced_top,
                     std::optional<double> forced_bottom, const Metrics& m, const TextMeasurer& text) {
  PanelPlan plan;
  plan.x = x_axis(panel);
  plan.y = y_axis(panel);
  plan.categorical = !panel.bars.empty();
  plan.natural_top = panel.title.empty() ? m.pad + m.cap / 2 : m.line + m.gap;
  plan.top = forced_top.value_or(plan.natural_top);
  std::vector<LegendEntry> entries;
  for (const Series& s : panel.series) {
    if (!s.label.empty()) entries.push_back({s.label, s.color, s.marker, s.line, s.dashed});
  }
  if (panel.legend && !entries.empty()) plan.legend = legend_in_rows(entries, box_width, m, text);

  double left = 3 * m.font, bottom = m.tick + m.gap + m.line + (panel.x_label.empty() ? 0 : m.line);
  for (int pass = 0; pass < 3; ++pass) {
    const double plot_height = std::max(box_height - plan.top - forced_bottom.value_or(bottom), m.font);
    const int y_target = std::clamp(static_cast<int>(plot_height / (2 * m.font)), 2, 10);
    plan.y.ticks = ticks_for(plan.y, y_target);
    const double y_labels = panel.show_tick_labels ? widest(plan.y.ticks.labels, m.font, text) + m.gap : 0;
    left = 1 + (panel.y_label.empty() ? 0 : m.line) + y_labels + m.tick;
    plan.right = m.pad;
    double plot_width = std::max(box_width - left - plan.right, m.font);
    plan.x_label_depth = 0;
    if (plan.categorical) {
      plan.categories = plan_category_labels(panel, plot_width, box_height, m, text);
      if (plan.categories.overhang > left) {
        left = plan.categories.overhang + 1;
        plot_width = std::max(box_width - left - plan.right, m.font);
      }
      plan.x_label_depth = plan.categories.shown ? m.gap + plan.categories.depth : 0;
    } else {
      // Fewer ticks until their labels stop crowding each other.
      for (int target = std::clamp(static_cast<int>(plot_width / (3.5 * m.font)), 2, 10);; --target) {
        plan.x.ticks = ticks_for(plan.x, target);
        if (!panel.show_tick_labels || target <= 2 || plan.x.ticks.values.size() < 2) break;
        const double spacing = plot_width * std::abs(plan.x.fraction(plan.x.ticks.values[1]) - plan.x.fraction(plan.x.ticks.values[0]));
        if (spacing >= widest(plan.x.ticks.labels, m.font, text) + m.font) break;
      }
      if (panel.show_tick_labels) {
        plan.x_label_depth = m.gap + m.cap + m.descent;
        // The last tick label is centred on its tick: room for its right half.
        if (!plan.x.ticks.values.empty()) {
          const double last_x = plot_width * plan.x.fraction(plan.x.ticks.values.back());
          plan.right = std::max(plan.right, last_x + text.width(plan.x.ticks.labels.back(), m.font) / 2 - plot_width + 1);
        }
      }
    }
    bottom = m.tick + plan.x_label_depth + (panel.x_label.empty() ? 0 : m.gap + m.line) + m.pad / 2 +
             (plan.legend ? m.gap + plan.legend->height : 0);
  }
  plan.left = left;
  plan.natural_bottom = bottom;
  plan.bottom = forced_bottom.value_or(bottom);
  return plan;
}

void draw_panel(Painter& paint, const Panel& panel, const PanelPlan& plan, double box_x, double box_y, double box_width,
                double box_height, const Metrics& m, const TextMeasurer& text) {
  const double x0 = box_x + plan.left, x1 = box_x + box_width - plan.right;
  const double y0 = box_y + plan.top, y1 = box_y + box_height - plan.bottom;
  const double plot_width = std::max(x1 - x0, 1.0), plot_height = std::max(y1 - y0, 1.0);
  const auto px = [&](double x) { return x0 + plot_width * plan.x.fraction(x); };
  const auto py = [&](double y) { return y1 - plot_height * plan.y.fraction(y); };
  const auto inside = [&](Point p) { return p.x >= x0 - 0.5 && p.x <= x1 + 0.5 && p.y >= y0 - 0.5 && p.y <= y1 + 0.5; };
  const auto clamp_y = [&](double y) { return std::clamp(y, y0, y1); };

  paint.begin("panel", panel.title);

  // Grid first, so that data covers it.
  if (panel.show_tick_labels) {
    std::vector<std::vector<Point>> grid;
    for (const double v : plan.y.ticks.values) grid.push_back({{x0, py(v)}, {x1, py(v)}});
    if (!plan.categorical) {
      for (const double v : plan.x.ticks.values) grid.push_back({{px(v), y0}, {px(v), y1}});
    }
    if (!grid.empty()) paint.path(std::move(grid), Stroke{grid_ink, grid_width}, "grid");
  }

  if (plan.categorical) {
    const double slot = plot_width / static_cast<double>(panel.bars.size());
    const double bar_width = slot >= 3 ? 0.8 * slot : slot;
    const double base = clamp_y(plan.y.log ? y1 : py(0));
    for (size_t i = 0; i < panel.bars.size(); ++i) {
      const Bar& bar = panel.bars[i];
      if (!std::isfinite(bar.value)) continue;
      const double centre = px(static_cast<double>(i));
      const double top = clamp_y(py(bar.value));
      paint.rect(centre - bar_width / 2, std::min(top, base), bar_width, std::abs(base - top), Fill{bar.color, true}, {}, "bar");
    }
    for (size_t i = 0; i < panel.bars.size(); ++i) {
      const Bar& bar = panel.bars[i];
      if (!(bar.error > 0) || !std::isfinite(bar.value) || !std::isfinite(bar.error)) continue;
      const double centre = px(static_cast<double>(i));
      const double low = bar.value - bar.error;
      const double y_low = (plan.y.log && low <= 0) ? y1 : clamp_y(py(low));
      const double y_high = clamp_y(py(bar.value + bar.error));
      const double cap = std::min(0.3 * bar_width, 0.35 * m.font);
      std::vector<std::vector<Point>> lines = {{{centre, y_low}, {centre, y_high}}};
      if (cap >= 0.5) {
        lines.push_back({{centre - cap, y_low}, {centre + cap, y_low}});
        lines.push_back({{centre - cap, y_high}, {centre + cap, y_high}});
      }
      paint.path(std::move(lines), Stroke{Color{0x33, 0x33, 0x33}, error_bar_width}, "error-bar");
    }
  }

  const auto visible = [&](const VerticalLine& line) {
    return std::isfinite(line.x) && line.x >= std::min(plan.x.lo, plan.x.hi) && line.x <= std::max(plan.x.lo, plan.x.hi);
  };
  for (const VerticalLine& line : panel.vertical_lines) {
    if (visible(line)) paint.path({{{px(line.x), y0}, {px(line.x), y1}}}, Stroke{line.color, 1, line.dashed}, "reference-line");
  }

  for (const Series& series : panel.series) {
    paint.begin("series", clean_text(series.label));
    if (series.line) {
      std::vector<std::vector<Point>> pieces;
      std::vector<Point> current;
      std::optional<Point> previous;
      for (size_t i = 0; i < series.x.size(); ++i) {
        if (!std::isfinite(series.x[i]) || !std::isfinite(series.y[i])) {
          previous.reset();
          continue;
        }
        const Point p{px(series.x[i]), py(series.y[i])};
        if (previous) {
          Point a = *previous, b = p;
          if (clip_segment(a, b, x0, y0, x1, y1)) {
            const bool continues = !current.empty() && std::abs(current.back().x - a.x) < 1e-9 && std::abs(current.back().y - a.y) < 1e-9;
            if (!continues) {
              if (current.size() >= 2) pieces.push_back(std::move(current));
              current = {a};
            }
            current.push_back(b);
          }
        }
        previous = p;
      }
      if (current.size() >= 2) pieces.push_back(std::move(current));
      if (!pieces.empty()) paint.path(std::move(pieces), Stroke{series.color, series.line_width, series.dashed}, "line");
    }
    for (size_t i = 0; i < series.x.size(); ++i) {
      if (!std::isfinite(series.x[i]) || !std::isfinite(series.y[i])) continue;
      const Point p{px(series.x[i]), py(series.y[i])};
      if (inside(p)) paint.marker(p, series.marker, series.marker_size, series.color, series.marker_opacity, series.marker_edge, "point");
    }
    paint.end();
  }

  // Reference-line labels over the data, each on a white patch: lines may run through the spot.
  for (const VerticalLine& line : panel.vertical_lines) {
    const std::string label = clean_text(line.label);
    if (!visible(line) || label.empty()) continue;
    const double x = px(line.x);
    const double label_width = text.width(label, m.font);
    const bool room_right = x + m.gap + label_width <= x1;
    const double patch_x = room_right ? x + m.gap / 2 : x - m.gap * 1.5 - label_width;
    paint.rect(patch_x, y0 + m.gap / 2, label_width + m.gap, m.cap + m.gap * 1.5, Fill{white, true, 0.85}, {}, "reference-label");
    paint.text({room_right ? x + m.gap : x - m.gap, y0 + m.cap + m.gap}, label, m.font, room_right ? Anchor::start : Anchor::end,
               0, false, line.color);
  }

  // Axes over the data; a full frame where the ticks mean nothing (t-SNE coordinates).
  if (panel.show_tick_labels) {
    paint.path({{{x0, y0}, {x0, y1}, {x1, y1}}}, Stroke{axis_ink, axis_width}, "axis");
    std::vector<std::vector<Point>> ticks;
    for (const double v : plan.y.ticks.values) ticks.push_back({{x0 - m.tick, py(v)}, {x0, py(v)}});
    if (!plan.categorical) {
      for (const double v : plan.x.ticks.values) ticks.push_back({{px(v), y1}, {px(v), y1 + m.tick}});
    } else if (plan.categories.shown) {
      for (size_t i = 0; i < panel.bars.size(); ++i) ticks.push_back({{px(double(i)), y1}, {px(double(i)), y1 + m.tick}});
    }
    if (!ticks.empty()) paint.path(std::move(ticks), Stroke{axis_ink, axis_width}, "tick");
    for (size_t i = 0; i < plan.y.ticks.values.size(); ++i) {
      paint.text({x0 - m.tick - m.gap, py(plan.y.ticks.values[i]) + m.cap / 2}, plan.y.ticks.labels[i], m.font, Anchor::end);
    }
    for (size_t i = 0; i < plan.x.ticks.values.size() && !plan.categorical; ++i) {
      paint.text({px(plan.x.ticks.values[i]), y1 + m.tick + m.gap + m.cap}, plan.x.ticks.labels[i], m.font, Anchor::middle);
    }
  } else {
    paint.rect(x0, y0, plot_width, plot_height, {}, Stroke{axis_ink, axis_width}, "axis");
  }
  if (plan.categories.shown) {
    const CategoryLabels& c = plan.categories;
    const double radians = c.angle * M_PI / 180;
    const double cap = text.cap_height(c.size);
    for (size_t i = 0; i < c.texts.size(); ++i) {
      const Point tick{px(double(i)), y1 + m.tick + m.gap};
      if (c.angle == 0) {
        paint.text({tick.x, tick.y + cap}, c.texts[i], c.size, Anchor::middle);
      } else {
        // The end of the text's centre line at the tick: the baseline lies half a capital
        // height below that line, turned with the text.
        const Point at{tick.x - cap / 2 * std::sin(radians), tick.y + cap / 2 * std::cos(radians)};
        paint.text(at, c.texts[i], c.size, Anchor::end, c.angle);
      }
    }
  }

  const double centre_x = (x0 + x1) / 2;
  if (!panel.title.empty()) {
    // Centred over the plot area, within the box.
    const double room = 2 * std::min(centre_x - box_x, box_x + box_width - centre_x);
    paint.text({centre_x, box_y + m.cap + 1}, text.fit(clean_text(panel.title), room, m.font), m.font, Anchor::middle);
  }
  double below = y1 + m.tick + plan.x_label_depth;
  if (!panel.x_label.empty()) {
    below += m.gap + m.line;
    paint.text({centre_x, below - m.descent}, text.fit(clean_text(panel.x_label), box_width, m.font), m.font, Anchor::middle);
  }
  if (!panel.y_label.empty()) {
    paint.text({box_x + m.cap + 1, (y0 + y1) / 2}, text.fit(clean_text(panel.y_label), plot_height + plan.bottom, m.font),
               m.font, Anchor::middle, -90);
  }
  if (plan.legend) {
    const double legend_x = std::clamp(centre_x - plan.legend->width / 2, box_x, box_x + box_width - plan.legend->width);
    paint.legend(*plan.legend, legend_x, below + m.gap);
  }
  paint.end();
}

}  // namespace

DisplayList lay_out(const Figure& figure) {
  check(figure);
  const TextMeasurer text;
  const Metrics m(figure.font_size, text);
  DisplayList list;
  list.width = figure.width;
  list.height = figure.height;
  list.title = clean_text(figure.title);
  list.font_size = figure.font_size;
  Painter paint(list, m);
  paint.rect(0, 0, figure.width, figure.height, Fill{white, true}, {}, "background");

  double top = m.pad;
  if (!figure.title.empty()) {
    const double size = 1.15 * m.font;
    paint.text({figure.width / 2, top + text.cap_height(size)}, text.fit(list.title, figure.width - 2 * m.pad, size, true), size,
               Anchor::middle, 0, true);
    top += 1.25 * size + m.gap;
  }
  double right = figure.width - m.pad, bottom = figure.height - m.pad;
  std::optional<LegendGrid> legend;
  if (!figure.legend.empty()) {
    if (figure.legend_right) {
      legend = legend_in_columns(figure.legend, bottom - top, 0.45 * figure.width, m, text);
      right -= legend->width + m.font;
    } else {
      legend = legend_in_rows(figure.legend, figure.width - 2 * m.pad, m, text);
      bottom -= legend->height + m.gap;
    }
  }

  // Equal boxes left to right; their plot areas share top and bottom edges.
  const size_t n = figure.panels.size();
  const double panel_gap = m.font;
  const double box_width = std::max((right - m.pad - panel_gap * (n - 1)) / n, m.font);
  const double box_height = std::max(bottom - top, m.font);
  std::vector<PanelPlan> plans(n);
  std::optional<double> shared_top, shared_bottom;
  for (int pass = 0; pass < 3; ++pass) {
    double need_top = 0, need_bottom = 0;
    for (size_t p = 0; p < n; ++p) {
      plans[p] = plan_panel(figure.panels[p], box_width, box_height, shared_top, shared_bottom, m, text);
      need_top = std::max(need_top, plans[p].natural_top);
      need_bottom = std::max(need_bottom, plans[p].natural_bottom);
    }
    if (shared_top && shared_bottom && need_top <= *shared_top + 1e-9 && need_bottom <= *shared_bottom + 1e-9) break;
    shared_top = std::max(need_top, shared_top.value_or(0));
    shared_bottom = std::max(need_bottom, shared_bottom.value_or(0));
  }
  for (size_t p = 0; p < n; ++p) {
    draw_panel(paint, figure.panels[p], plans[p], m.pad + p * (box_width + panel_gap), top, box_width, box_height, m, text);
  }

  if (legend) {
    if (figure.legend_right) {
      // Centred on the plot areas when it fits beside them, else from the top.
      const double plot_top = top + plans[0].top, plot_bottom = top + box_height - plans[0].bottom;
      double y = (plot_top + plot_bottom) / 2 - legend->height / 2;
      y = std::clamp(y, top, std::max(top, figure.height - m.pad - legend->height));
      paint.legend(*legend, right + m.font, y);
    } else {
      paint.legend(*legend, std::max(m.pad, (figure.width - legend->width) / 2), bottom + m.gap);
    }
  }
  return list;
}

MarkerPaint marker_paint(const MarkerItem& item) {
  MarkerPaint p;
  p.geometry = marker_geometry(item.shape, item.center, item.size);
  if (p.geometry.filled) {
    p.fill = Fill{item.color, true, item.opacity};
    if (item.edge) p.stroke = Stroke{Color{0x22, 0x22, 0x22}, 0.5, false, 1};
  } else {
    p.stroke = Stroke{item.color, p.geometry.stroke_width, false, item.opacity};
  }
  return p;
}

MarkerGeometry marker_geometry(Marker shape, Point c, double size) {
  MarkerGeometry g;
  switch (shape) {
    case Marker::none:
      break;
    case Marker::circle:
      g.circle = true;
      g.radius = size / 2;
      break;
    case Marker::square: {
      const double h = 0.886 * size / 2;  // the area of the circle of that diameter
      g.subpaths = {{{c.x - h, c.y - h}, {c.x + h, c.y - h}, {c.x + h, c.y + h}, {c.x - h, c.y + h}}};
      break;
    }
    case Marker::diamond: {
      const double h = 0.65 * size;
      g.subpaths = {{{c.x, c.y - h}, {c.x + h, c.y}, {c.x, c.y + h}, {c.x - h, c.y}}};
      break;
    }
    case Marker::triangle: {
      const double r = 0.62 * size;
      g.subpaths = {{{c.x, c.y - r}, {c.x + 0.866 * r, c.y + 0.5 * r}, {c.x - 0.866 * r, c.y + 0.5 * r}}};
      break;
    }
    case Marker::cross: {
      const double h = 0.42 * size;
      g.subpaths = {{{c.x - h, c.y - h}, {c.x + h, c.y + h}}, {{c.x - h, c.y + h}, {c.x + h, c.y - h}}};
      g.filled = false;
      g.stroke_width = std::max(0.5, 0.2 * size);
      break;
    }
    case Marker::plus: {
      const double h = 0.5 * size;
      g.subpaths = {{{c.x - h, c.y}, {c.x + h, c.y}}, {{c.x, c.y - h}, {c.x, c.y + h}}};
      g.filled = false;
      g.stroke_width = std::max(0.5, 0.2 * size);
      break;
    }
  }
  return g;
}

std::vector<double> dash_pattern(double width) { return {std::max(2.5, 3.5 * width), std::max(1.5, 2.0 * width)}; }

}  // namespace avgzsl::plot::detail
