// The layout of a figure as a flat list of drawing primitives in points (y down), computed once
// by lay_out() and drawn by two back-ends: cairo (PNG, PDF) and our SVG writer. Keeping the
// geometry out of the back-ends is what makes the three formats show the same picture.
#pragma once

#include <string>
#include <variant>
#include <vector>

#include "avgzsl/plot/figure.h"

namespace avgzsl::plot::detail {

struct Point {
  double x = 0, y = 0;
};

struct Stroke {
  Color color;
  double width = 0;  // 0: not stroked
  bool dashed = false;
  double opacity = 1;
};

struct Fill {
  Color color;
  bool enabled = false;
  double opacity = 1;
};

// Lines, polylines, error bars (several subpaths), closed outlines.
struct PathItem {
  std::vector<std::vector<Point>> subpaths;
  bool closed = false;
  Stroke stroke;
  Fill fill;
  std::string css_class;
};

struct RectItem {
  double x = 0, y = 0, width = 0, height = 0;
  Fill fill;
  Stroke stroke;
  std::string css_class;
};

struct MarkerItem {
  Point center;
  Marker shape = Marker::circle;
  double size = 4;  // diameter in pt
  Color color;
  double opacity = 1;
  bool edge = false;
  std::string css_class;
};

enum class Anchor { start, middle, end };

// `at` is on the baseline; the text turns by `rotation` degrees (clockwise, as in SVG) around it.
struct TextItem {
  Point at;
  std::string text;  // valid UTF-8 without control characters
  double size = 8;
  Anchor anchor = Anchor::start;
  double rotation = 0;
  Color color;
  bool bold = false;
};

// Groups exist for the SVG's readers (class names in figure.h); cairo ignores them.
struct GroupBegin {
  std::string css_class;
  std::string label;  // data-label attribute when not empty
};
struct GroupEnd {};

using Item = std::variant<PathItem, RectItem, MarkerItem, TextItem, GroupBegin, GroupEnd>;

struct DisplayList {
  double width = 0, height = 0;  // pt
  std::string title;
  double font_size = 8;
  std::vector<Item> items;
};

// A marker's outline, shared by both back-ends so that they draw the same shape: closed filled
// polygons, or (cross, plus) open strokes of `stroke_width`. Circles are `circle` with `radius`.
struct MarkerGeometry {
  bool circle = false;
  double radius = 0;
  std::vector<std::vector<Point>> subpaths;
  bool filled = true;
  double stroke_width = 0;
};
MarkerGeometry marker_geometry(Marker shape, Point center, double size);

// How both back-ends paint a marker item: its geometry, and the fill (closed shapes, with a dark
// edge when asked) or the stroke (cross, plus) in the item's colour and opacity.
struct MarkerPaint {
  MarkerGeometry geometry;
  Fill fill;
  Stroke stroke;
};
MarkerPaint marker_paint(const MarkerItem& item);

// Dash and gap lengths for a dashed stroke of `width`.
std::vector<double> dash_pattern(double width);

// Throws std::invalid_argument naming the panel when the figure cannot be drawn.
DisplayList lay_out(const Figure& figure);
// PNG or PDF bytes.
std::string draw_with_cairo(const DisplayList& list, Format format, double png_dpi);
std::string write_svg(const DisplayList& list, bool xml_prolog);

}  // namespace avgzsl::plot::detail
