#include "text.h"

#include <cairo.h>

#include "avgzsl/util/text.h"

#include <cstdint>
#include <stdexcept>
#include <vector>

namespace avgzsl::plot::detail {

std::string clean_text(const std::string& text) {
  static const std::string replacement = "\xEF\xBF\xBD";  // U+FFFD
  // Well-formed UTF-8 first: each byte that starts no valid sequence becomes one U+FFFD.
  std::string valid;
  valid.reserve(text.size());
  std::string_view rest(text);
  for (size_t bad; (bad = util::first_invalid_utf8(rest)) != std::string_view::npos;) {
    valid.append(rest.substr(0, bad));
    valid += replacement;
    rest.remove_prefix(bad + 1);
  }
  valid.append(rest);
  // Then control characters to spaces: C0 and DEL, and C1 (U+0080..U+009F, encoded C2 80..C2 9F).
  std::string out;
  out.reserve(valid.size());
  for (size_t i = 0; i < valid.size(); ++i) {
    const auto c = static_cast<unsigned char>(valid[i]);
    const bool c1 = c == 0xC2 && i + 1 < valid.size() && static_cast<unsigned char>(valid[i + 1]) < 0xA0;
    if (c < 0x20 || c == 0x7F || c1) {
      out += ' ';
      i += c1;
    } else {
      out += valid[i];
    }
  }
  return out;
}

struct TextMeasurer::Cairo {
  cairo_surface_t* surface = nullptr;
  cairo_t* context = nullptr;
};

TextMeasurer::TextMeasurer() : cairo_(new Cairo) {
  cairo_->surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 1, 1);
  cairo_->context = cairo_create(cairo_->surface);
  cairo_font_options_t* options = cairo_font_options_create();
  cairo_font_options_set_hint_metrics(options, CAIRO_HINT_METRICS_OFF);
  cairo_font_options_set_hint_style(options, CAIRO_HINT_STYLE_NONE);
  cairo_set_font_options(cairo_->context, options);
  cairo_font_options_destroy(options);
  if (cairo_status(cairo_->context) != CAIRO_STATUS_SUCCESS) {
    cairo_destroy(cairo_->context);
    cairo_surface_destroy(cairo_->surface);
    delete cairo_;
    throw std::runtime_error("cairo cannot create a context to measure text");
  }
  // Em fractions of DejaVu Sans, measured once: capitals for centring text on a point, the
  // descent for stacking lines.
  cairo_select_font_face(cairo_->context, font_family, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cairo_->context, 100);
  cairo_text_extents_t capitals;
  cairo_text_extents(cairo_->context, "H", &capitals);
  cairo_font_extents_t font;
  cairo_font_extents(cairo_->context, &font);
  if (capitals.height > 0) cap_height_em_ = capitals.height / 100;
  if (font.descent > 0) descent_em_ = font.descent / 100;
}

TextMeasurer::~TextMeasurer() {
  cairo_destroy(cairo_->context);
  cairo_surface_destroy(cairo_->surface);
  delete cairo_;
}

double TextMeasurer::width(const std::string& text, double size, bool bold) const {
  if (text.empty()) return 0;
  cairo_select_font_face(cairo_->context, font_family, CAIRO_FONT_SLANT_NORMAL,
                         bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cairo_->context, size);
  cairo_text_extents_t extents;
  cairo_text_extents(cairo_->context, text.c_str(), &extents);
  return extents.x_advance;
}

std::string TextMeasurer::fit(const std::string& text, double max_width, double size, bool bold) const {
  if (width(text, size, bold) <= max_width) return text;
  static const std::string ellipsis = "…";
  // Cut at code point boundaries: the longest prefix that fits with the ellipsis.
  std::vector<size_t> boundaries;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) boundaries.push_back(i);
  }
  size_t lo = 0, hi = boundaries.size();  // prefixes of boundaries[lo] bytes fit
  while (lo + 1 < hi) {
    const size_t mid = (lo + hi) / 2;
    if (width(text.substr(0, boundaries[mid]) + ellipsis, size, bold) <= max_width) lo = mid;
    else hi = mid;
  }
  std::string prefix = text.substr(0, boundaries.empty() ? 0 : boundaries[lo]);
  while (!prefix.empty() && prefix.back() == ' ') prefix.pop_back();
  return prefix + ellipsis;
}

}  // namespace avgzsl::plot::detail
