// The display list as SVG, written by hand: cairo's SVG surface turns every glyph into an outline
// (no searchable or restylable text) and groups nothing, while readers of our figures (tests, the
// HTML report, people editing a figure) need real <text> and the classes listed in figure.h.
// No ids and no <defs>, so that several figures can sit inline in one HTML page.
#include <fmt/format.h>

#include <cmath>

#include "avgzsl/util/text.h"
#include "display_list.h"

namespace avgzsl::plot::detail {

namespace {

// Coordinates to a hundredth of a point, without trailing zeros.
std::string number(double v) {
  if (std::abs(v) < 0.005) return "0";
  std::string s = fmt::format("{:.2f}", v);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

std::string class_attribute(const std::string& css_class) {
  return css_class.empty() ? "" : fmt::format(" class=\"{}\"", util::escape_xml(css_class));
}

std::string fill_attributes(const Fill& fill) {
  if (!fill.enabled) return " fill=\"none\"";
  std::string out = fmt::format(" fill=\"{}\"", fill.color.hex());
  if (fill.opacity < 1) out += fmt::format(" fill-opacity=\"{}\"", number(fill.opacity));
  return out;
}

std::string stroke_attributes(const Stroke& stroke) {
  if (!(stroke.width > 0)) return "";
  std::string out = fmt::format(" stroke=\"{}\" stroke-width=\"{}\"", stroke.color.hex(), number(stroke.width));
  if (stroke.opacity < 1) out += fmt::format(" stroke-opacity=\"{}\"", number(stroke.opacity));
  if (stroke.dashed) {
    const std::vector<double> dashes = dash_pattern(stroke.width);
    out += fmt::format(" stroke-dasharray=\"{} {}\"", number(dashes[0]), number(dashes[1]));
  }
  return out;
}

std::string path_data(const std::vector<std::vector<Point>>& subpaths, bool closed) {
  std::string d;
  for (const auto& points : subpaths) {
    for (size_t i = 0; i < points.size(); ++i) {
      if (!d.empty()) d += ' ';
      d += (i == 0 ? "M" : "L") + number(points[i].x) + ' ' + number(points[i].y);
    }
    if (closed && !points.empty()) d += 'Z';
  }
  return d;
}

struct Writer {
  std::string& out;
  int depth = 1;

  void indent() { out.append(2 * depth, ' '); }

  void operator()(const PathItem& item) {
    indent();
    out += fmt::format("<path{} d=\"{}\"{}{} stroke-linejoin=\"round\"/>\n", class_attribute(item.css_class),
                       path_data(item.subpaths, item.closed), fill_attributes(item.fill), stroke_attributes(item.stroke));
  }
  void operator()(const RectItem& item) {
    indent();
    out += fmt::format("<rect{} x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"{}{}/>\n", class_attribute(item.css_class), number(item.x),
                       number(item.y), number(item.width), number(item.height), fill_attributes(item.fill),
                       stroke_attributes(item.stroke));
  }
  void operator()(const MarkerItem& item) {
    const MarkerPaint paint = marker_paint(item);
    const MarkerGeometry& g = paint.geometry;
    const Fill& fill = paint.fill;
    const Stroke& stroke = paint.stroke;
    indent();
    if (g.circle) {
      out += fmt::format("<circle{} cx=\"{}\" cy=\"{}\" r=\"{}\"{}{}/>\n", class_attribute(item.css_class), number(item.center.x),
                         number(item.center.y), number(g.radius), fill_attributes(fill), stroke_attributes(stroke));
    } else {
      out += fmt::format("<path{} d=\"{}\"{}{}/>\n", class_attribute(item.css_class), path_data(g.subpaths, g.filled),
                         fill_attributes(fill), stroke_attributes(stroke));
    }
  }
  void operator()(const TextItem& item) {
    indent();
    out += fmt::format("<text x=\"{}\" y=\"{}\"", number(item.at.x), number(item.at.y));
    if (item.anchor != Anchor::start) out += item.anchor == Anchor::middle ? " text-anchor=\"middle\"" : " text-anchor=\"end\"";
    out += fmt::format(" font-size=\"{}\"", number(item.size));
    if (item.bold) out += " font-weight=\"bold\"";
    if (item.rotation != 0)
      out += fmt::format(" transform=\"rotate({} {} {})\"", number(item.rotation), number(item.at.x), number(item.at.y));
    out += fmt::format(" fill=\"{}\">{}</text>\n", item.color.hex(), util::escape_xml(item.text));
  }
  void operator()(const GroupBegin& item) {
    indent();
    out += fmt::format("<g{}", class_attribute(item.css_class));
    if (!item.label.empty()) out += fmt::format(" data-label=\"{}\"", util::escape_xml(item.label));
    out += ">\n";
    ++depth;
  }
  void operator()(const GroupEnd&) {
    --depth;
    indent();
    out += "</g>\n";
  }
};

}  // namespace

std::string write_svg(const DisplayList& list, bool xml_prolog) {
  std::string out;
  if (xml_prolog) out += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  // Width and height in points like the PDF; the viewBox makes one user unit one point.
  out += fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"figure\" width=\"{0}pt\" height=\"{1}pt\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"DejaVu Sans, Arial, sans-serif\" font-size=\"{2}\" role=\"img\">\n",
      number(list.width), number(list.height), number(list.font_size));
  if (!list.title.empty()) out += fmt::format("  <title>{}</title>\n", util::escape_xml(list.title));
  Writer writer{out};
  for (const Item& item : list.items) std::visit(writer, item);
  out += "</svg>\n";
  return out;
}

}  // namespace avgzsl::plot::detail
