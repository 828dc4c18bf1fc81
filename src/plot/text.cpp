#include "text.h"

#include <cairo.h>

#include <cstdint>
#include <stdexcept>
#include <vector>

namespace avgzsl::plot::detail {

std::string clean_text(const std::string& text) {
  static const std::string replacement = "\xEF\xBF\xBD";  // U+FFFD
  std::string out;
  out.reserve(text.size());
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = byte(i);
    if (c < 0x80) {
      out += (c < 0x20 || c == 0x7F) ? ' ' : static_cast<char>(c);
      ++i;
      continue;
    }
    // The length a lead byte announces, and the smallest code point that length may encode
    // (overlong forms are invalid).
    size_t length = 0;
    uint32_t code = 0, minimum = 0;
    if ((c & 0xE0) == 0xC0) length = 2, code = c & 0x1F, minimum = 0x80;
    else if ((c & 0xF0) == 0xE0) length = 3, code = c & 0x0F, minimum = 0x800;
    else if ((c & 0xF8) == 0xF0) length = 4, code = c & 0x07, minimum = 0x10000;
    bool valid = length > 0 && i + length <= text.size();
    for (size_t k = 1; valid && k < length; ++k) {
      valid = (byte(i + k) & 0xC0) == 0x80;
      code = (code << 6) | (byte(i + k) & 0x3F);
    }
    valid = valid && code >= minimum && code <= 0x10FFFF && !(code >= 0xD800 && code <= 0xDFFF);
    if (valid && code >= 0x80 && code < 0xA0) {  // C1 control characters
      out += ' ';
      i += length;
    } else if (valid) {
      out.append(text, i, length);
      i += length;
    } else {
      out += replacement;
      ++i;
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
