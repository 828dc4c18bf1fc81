// `avgzsl report --ablation FILE` and `--benchmark DIR`: the table that `ablate --json` or
// `benchmark` wrote, on a self-contained page with a bar chart of HM (mean ± sample std over
// seeds), the chart also written beside the page as SVG and PNG.
#pragma once

#include <filesystem>

#include "avgzsl/report/run_report.h"

namespace avgzsl::report {

// `ablation`: the JSON file of `ablate --json`, or a folder holding ablation.json.
WrittenReport write_ablation_report(const std::filesystem::path& ablation, const std::filesystem::path& out_html,
                                    const util::LineSink& print);
// `benchmark_dir`: the --out folder of `benchmark` once its table is written (results.json).
WrittenReport write_benchmark_report(const std::filesystem::path& benchmark_dir, const std::filesystem::path& out_html,
                                     const util::LineSink& print);

}  // namespace avgzsl::report
