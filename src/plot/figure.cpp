#include "avgzsl/plot/figure.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "display_list.h"

namespace avgzsl::plot {

std::string Color::hex() const { return fmt::format("#{:02x}{:02x}{:02x}", r, g, b); }

const std::vector<Color>& qualitative_palette() {
  static const std::vector<Color> palette = {
      {0xCC, 0x66, 0x77}, {0x33, 0x22, 0x88}, {0xDD, 0xCC, 0x77}, {0x11, 0x77, 0x33}, {0x88, 0xCC, 0xEE},
      {0x88, 0x22, 0x55}, {0x44, 0xAA, 0x99}, {0x99, 0x99, 0x33}, {0xAA, 0x44, 0x99},
  };
  return palette;
}

Color neutral_grey() { return {0xDD, 0xDD, 0xDD}; }

Format format_of(const std::filesystem::path& path) {
  std::string extension = path.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(), [](unsigned char c) { return std::tolower(c); });
  if (extension == ".png") return Format::png;
  if (extension == ".svg") return Format::svg;
  if (extension == ".pdf") return Format::pdf;
  throw std::invalid_argument(fmt::format("{}: unknown figure format \"{}\" (expected .png, .svg or .pdf)", path.string(), extension));
}

std::string render(const Figure& figure, Format format) {
  const detail::DisplayList list = detail::lay_out(figure);
  if (format == Format::svg) return detail::write_svg(list, true);
  return detail::draw_with_cairo(list, format, figure.png_dpi);
}

std::string render_inline_svg(const Figure& figure) { return detail::write_svg(detail::lay_out(figure), false); }

}  // namespace avgzsl::plot
