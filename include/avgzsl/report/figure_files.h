// The figures that a report writes beside its page: each as NAME.svg and NAME.png in one folder
// that appears whole or not at all (built under FOLDER.partial, renamed at the end).
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "avgzsl/plot/figure.h"

namespace avgzsl::report {

struct NamedFigure {
  std::string name;  // file stem, e.g. "beta_sweep"
  plot::Figure figure;
};

// The folder beside a page: report.html -> report_files.
std::filesystem::path figure_folder_of(const std::filesystem::path& html);

// Writes every figure as SVG and PNG into `folder` (replacing an earlier folder of that name) and
// returns the files written. Throws std::runtime_error naming the path when it cannot.
std::vector<std::filesystem::path> write_figure_folder(const std::vector<NamedFigure>& figures,
                                                       const std::filesystem::path& folder);

}  // namespace avgzsl::report
