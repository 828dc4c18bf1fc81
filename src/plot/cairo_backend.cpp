// The display list drawn by cairo: an image surface for PNG (scaled from points to pixels) and a
// PDF surface in points, where cairo embeds a subset of the font so that text stays text.
#include <cairo-pdf.h>
#include <cairo.h>

#include <cmath>
#include <memory>
#include <stdexcept>

#include "display_list.h"
#include "text.h"

namespace avgzsl::plot::detail {

namespace {

cairo_status_t append_to_string(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

struct SurfaceDeleter {
  void operator()(cairo_surface_t* s) const { cairo_surface_destroy(s); }
};
struct ContextDeleter {
  void operator()(cairo_t* c) const { cairo_destroy(c); }
};

void set_color(cairo_t* cr, const Color& c, double opacity) {
  cairo_set_source_rgba(cr, c.r / 255.0, c.g / 255.0, c.b / 255.0, opacity);
}

void add_subpaths(cairo_t* cr, const std::vector<std::vector<Point>>& subpaths, bool closed) {
  for (const auto& points : subpaths) {
    if (points.empty()) continue;
    cairo_move_to(cr, points[0].x, points[0].y);
    for (size_t i = 1; i < points.size(); ++i) cairo_line_to(cr, points[i].x, points[i].y);
    if (closed) cairo_close_path(cr);
  }
}

// Fills and strokes the current path as `fill` and `stroke` say, then clears it.
void paint_path(cairo_t* cr, const Fill& fill, const Stroke& stroke) {
  if (fill.enabled) {
    set_color(cr, fill.color, fill.opacity);
    cairo_fill_preserve(cr);
  }
  if (stroke.width > 0) {
    set_color(cr, stroke.color, stroke.opacity);
    cairo_set_line_width(cr, stroke.width);
    if (stroke.dashed) {
      const std::vector<double> dashes = dash_pattern(stroke.width);
      cairo_set_dash(cr, dashes.data(), static_cast<int>(dashes.size()), 0);
    } else {
      cairo_set_dash(cr, nullptr, 0, 0);
    }
    cairo_stroke_preserve(cr);
  }
  cairo_new_path(cr);
}

void draw(cairo_t* cr, const PathItem& item) {
  add_subpaths(cr, item.subpaths, item.closed);
  paint_path(cr, item.fill, item.stroke);
}

void draw(cairo_t* cr, const RectItem& item) {
  cairo_rectangle(cr, item.x, item.y, item.width, item.height);
  paint_path(cr, item.fill, item.stroke);
}

void draw(cairo_t* cr, const MarkerItem& item) {
  const MarkerPaint paint = marker_paint(item);
  const MarkerGeometry& g = paint.geometry;
  if (g.circle) {
    cairo_new_sub_path(cr);
    cairo_arc(cr, item.center.x, item.center.y, g.radius, 0, 2 * M_PI);
  } else {
    add_subpaths(cr, g.subpaths, g.filled);
  }
  paint_path(cr, paint.fill, paint.stroke);
}

void draw(cairo_t* cr, const TextItem& item) {
  cairo_select_font_face(cr, font_family, CAIRO_FONT_SLANT_NORMAL, item.bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, item.size);
  cairo_text_extents_t extents;
  cairo_text_extents(cr, item.text.c_str(), &extents);
  const double shift = item.anchor == Anchor::start ? 0 : item.anchor == Anchor::middle ? extents.x_advance / 2 : extents.x_advance;
  cairo_save(cr);
  cairo_translate(cr, item.at.x, item.at.y);
  if (item.rotation != 0) cairo_rotate(cr, item.rotation * M_PI / 180);
  cairo_move_to(cr, -shift, 0);
  set_color(cr, item.color, 1);
  cairo_show_text(cr, item.text.c_str());
  cairo_new_path(cr);
  cairo_restore(cr);
}

void draw(cairo_t*, const GroupBegin&) {}
void draw(cairo_t*, const GroupEnd&) {}

}  // namespace

std::string draw_with_cairo(const DisplayList& list, Format format, double png_dpi) {
  std::string out;
  std::unique_ptr<cairo_surface_t, SurfaceDeleter> surface;
  const double scale = png_dpi / 72;
  if (format == Format::png) {
    const double width = std::round(list.width * scale), height = std::round(list.height * scale);
    if (!(png_dpi > 0) || !(width >= 1 && height >= 1 && width <= 32767 && height <= 32767))
      throw std::invalid_argument("PNG of " + std::to_string(width) + " x " + std::to_string(height) +
                                  " pixels: the figure size or png_dpi is out of range");
    surface.reset(cairo_image_surface_create(CAIRO_FORMAT_RGB24, static_cast<int>(width), static_cast<int>(height)));
  } else {
    surface.reset(cairo_pdf_surface_create_for_stream(append_to_string, &out, list.width, list.height));
    if (!list.title.empty()) cairo_pdf_surface_set_metadata(surface.get(), CAIRO_PDF_METADATA_TITLE, list.title.c_str());
  }
  {
    std::unique_ptr<cairo_t, ContextDeleter> context(cairo_create(surface.get()));
    cairo_t* cr = context.get();
    if (format == Format::png) {
      // White to the last pixel: a size in points rarely maps to whole pixels, and the display
      // list's background would leave the partly covered last row or column grey.
      cairo_set_source_rgb(cr, 1, 1, 1);
      cairo_paint(cr);
      cairo_scale(cr, scale, scale);
    }
    // Unhinted metrics: glyph advances as the layout measured them, at every resolution.
    cairo_font_options_t* options = cairo_font_options_create();
    cairo_font_options_set_hint_metrics(options, CAIRO_HINT_METRICS_OFF);
    cairo_font_options_set_hint_style(options, CAIRO_HINT_STYLE_NONE);
    cairo_set_font_options(cr, options);
    cairo_font_options_destroy(options);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    for (const Item& item : list.items) std::visit([&](const auto& i) { draw(cr, i); }, item);
    if (cairo_status(cr) != CAIRO_STATUS_SUCCESS)
      throw std::runtime_error(std::string("cairo could not draw the figure: ") + cairo_status_to_string(cairo_status(cr)));
  }
  if (format == Format::png) {
    cairo_surface_flush(surface.get());
    const cairo_status_t status = cairo_surface_write_to_png_stream(surface.get(), append_to_string, &out);
    if (status != CAIRO_STATUS_SUCCESS)
      throw std::runtime_error(std::string("cairo could not encode the PNG: ") + cairo_status_to_string(status));
  } else {
    cairo_surface_finish(surface.get());
    if (cairo_surface_status(surface.get()) != CAIRO_STATUS_SUCCESS)
      throw std::runtime_error(std::string("cairo could not write the PDF: ") + cairo_status_to_string(cairo_surface_status(surface.get())));
  }
  return out;
}

}  // namespace avgzsl::plot::detail
