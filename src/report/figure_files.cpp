#include "avgzsl/report/figure_files.h"

#include "avgzsl/io/atomic_file.h"

namespace avgzsl::report {
namespace fs = std::filesystem;

fs::path figure_folder_of(const fs::path& html) {
  return html.parent_path() / (html.stem().string() + "_files");
}

std::vector<fs::path> write_figure_folder(const std::vector<NamedFigure>& figures, const fs::path& folder) {
  io::StagedDirectory staged(folder, /*replace_existing=*/true);
  std::vector<fs::path> written;
  for (const auto& f : figures) {
    for (const char* extension : {".svg", ".png"}) {
      plot::save(f.figure, staged.path() / (f.name + extension));
      written.push_back(folder / (f.name + extension));
    }
  }
  staged.commit();
  return written;
}

}  // namespace avgzsl::report
