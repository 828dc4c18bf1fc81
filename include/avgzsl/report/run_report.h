// `avgzsl report --run RUN`: everything a researcher looks at before trusting a run's number, on
// one self-contained HTML page (html_page.h), with every figure also written beside it as SVG and
// PNG (figure_files.h):
//   the result table and the training-free row;
//   validation S, U, HM and the learning rate per epoch for both stages (validation_metrics.csv);
//   the beta sweep of the stage-1 model on validation (S, U, HM against beta, the chosen beta);
//   per-class test accuracies, sorted, seen and unseen apart;
//   where the test errors go (seen -> unseen, unseen -> seen, within each group);
//   the t-SNE figure (tsne_figure.h);
//   the resolved configuration.
// Every number is recomputed from the checkpoints, as `avgzsl evaluate` does.
#pragma once

#include <filesystem>
#include <vector>

#include "avgzsl/report/tsne_figure.h"
#include "avgzsl/util/text.h"

namespace avgzsl::report {

struct RunReportOptions {
  TsneFigureOptions tsne;
  bool include_tsne = true;
};

struct WrittenReport {
  std::filesystem::path html;
  std::vector<std::filesystem::path> figures;  // SVG and PNG files beside it
  std::vector<std::string> notes;              // what was left out and why
};

// Checks the output path before any work; writes the figure folder, then the page, each whole or
// not at all. Errors name the run or the file.
// `avgzsl tsne`: the t-SNE figure alone, to `out` (.png, .svg or .pdf; checked before any
// work), written atomically.
TsneFigure write_tsne_figure(const std::filesystem::path& run_dir, const std::filesystem::path& out,
                             const TsneFigureOptions& options);

WrittenReport write_run_report(const std::filesystem::path& run_dir, const std::filesystem::path& out_html,
                               const RunReportOptions& options, const util::LineSink& print);

}  // namespace avgzsl::report
