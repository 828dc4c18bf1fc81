// Text for figures: measured with cairo's metrics of the font every back-end names (DejaVu Sans),
// so that the layout knows how wide a label is before any back-end draws it.
#pragma once

#include <string>

namespace avgzsl::plot::detail {

inline constexpr const char* font_family = "DejaVu Sans";

// Valid UTF-8 without control characters: invalid bytes become U+FFFD (cairo refuses invalid
// UTF-8, XML refuses control characters), line breaks and tabs become spaces.
std::string clean_text(const std::string& text);

// Widths from cairo's toy font API with unhinted metrics, which are the same at every resolution.
class TextMeasurer {
 public:
  TextMeasurer();
  ~TextMeasurer();
  TextMeasurer(const TextMeasurer&) = delete;
  TextMeasurer& operator=(const TextMeasurer&) = delete;

  double width(const std::string& text, double size, bool bold = false) const;
  // Height of capitals above the baseline and depth of descenders below it.
  double cap_height(double size) const { return cap_height_em_ * size; }
  double descent(double size) const { return descent_em_ * size; }
  // `text` shortened with "…" to at most `max_width` (the whole text when it fits).
  std::string fit(const std::string& text, double max_width, double size, bool bold = false) const;

 private:
  struct Cairo;
  Cairo* cairo_;
  double cap_height_em_ = 0.73, descent_em_ = 0.24;
};

}  // namespace avgzsl::plot::detail
