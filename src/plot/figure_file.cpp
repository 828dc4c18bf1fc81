// save() lives in the main library, not avgzsl_plot: it writes through io/ (atomic files), and the
// figure library itself stays free of everything but cairo.
#include "avgzsl/io/atomic_file.h"
#include "avgzsl/plot/figure.h"

#include <stdexcept>

namespace avgzsl::plot {

void save(const Figure& figure, const std::filesystem::path& path) {
  const Format format = format_of(path);
  std::string bytes;
  try {
    bytes = render(figure, format);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(path.string() + ": " + e.what());
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(path.string() + ": " + e.what());
  }
  io::write_file_atomically(path, bytes);
}

}  // namespace avgzsl::plot
