// `avgzsl tsne` and `avgzsl report`: a run's figures and pages (src/report/).
#include <fmt/format.h>

#include <memory>

#include "avgzsl/plot/figure.h"
#include "avgzsl/report/table_report.h"
#include "avgzsl/util/progress.h"
#include "avgzsl/util/threads.h"
#include "commands.h"
#include "print_line.h"

namespace avgzsl::cli {
namespace {

// The options that pick and shape the t-SNE figure, shared by both verbs.
void add_tsne_options(CLI::App* c, report::TsneFigureOptions& o, const std::string& prefix) {
  c->add_option("--" + prefix + "split", o.split, "test-unseen, test, val-unseen or val")->capture_default_str();
  c->add_option("--" + prefix + "classes", o.classes,
                "class names to show, comma-separated (names with commas are recognised whole; default: the split's first ones)");
  c->add_option("--" + prefix + "max-classes", o.max_classes, "classes shown when --classes is not given")->capture_default_str();
  c->add_option("--" + prefix + "per-class", o.per_class, "videos per class at most")->capture_default_str();
  c->add_option("--" + prefix + "perplexity", o.perplexity, "t-SNE perplexity")->capture_default_str();
  c->add_option("--" + prefix + "seed", o.seed, "seed of the videos drawn per class (t-SNE itself is deterministic)")->capture_default_str();
}

}  // namespace

void add_tsne_command(CLI::App& app) {
  struct Args {
    std::string run, out;
    report::TsneFigureOptions tsne;
    int threads = 0;
  };
  auto args = std::make_shared<Args>();
  CLI::App* c = app.add_subcommand("tsne", "the paper's t-SNE figure of a run: audio, visual and learned embeddings");
  c->add_option("--run", args->run, "run directory written by avgzsl train")->required();
  c->add_option("--out", args->out, "figure file: .png, .svg or .pdf")->required();
  add_tsne_options(c, args->tsne, "");
  c->add_option("--threads", args->threads, "LibTorch threads, 0 = all cores");
  c->callback([args] {
    plot::format_of(args->out);  // an unknown extension fails before any work
    report::check_tsne_options(args->tsne);
    util::configure_threads(args->threads);
    args->tsne.show_progress = util::stderr_is_terminal();
    const report::TsneFigure figure = report::write_tsne_figure(args->run, args->out, args->tsne);
    for (const auto& note : figure.notes) print_line(note);
    print_line(fmt::format("wrote {} ({} videos of {} classes)", args->out, figure.videos, figure.classes));
  });
}

void add_report_command(CLI::App& app) {
  struct Args {
    std::string run, ablation, benchmark, out;
    report::RunReportOptions options;
    bool no_tsne = false;
    int threads = 0;
  };
  auto args = std::make_shared<Args>();
  CLI::App* c = app.add_subcommand(
      "report", "one self-contained HTML page (figures also as SVG and PNG beside it) for a run, an ablation or a benchmark");
  auto* run = c->add_option("--run", args->run, "run directory written by avgzsl train");
  auto* ablation = c->add_option("--ablation", args->ablation, "the JSON file of `avgzsl ablate --json` (or its folder)");
  auto* benchmark = c->add_option("--benchmark", args->benchmark, "the --out folder of `avgzsl benchmark`");
  run->excludes(ablation)->excludes(benchmark);
  ablation->excludes(benchmark);
  c->add_option("--out", args->out, "the page, e.g. report.html; figures go to report_files/")->required();
  add_tsne_options(c, args->options.tsne, "tsne-");
  c->add_flag("--no-tsne", args->no_tsne, "leave out the t-SNE figure (the slowest part)");
  c->add_option("--threads", args->threads, "LibTorch threads, 0 = all cores");
  c->callback([args] {
    if (args->run.empty() && args->ablation.empty() && args->benchmark.empty()) {
      throw std::invalid_argument("give one of --run, --ablation, --benchmark");
    }
    util::configure_threads(args->threads);
    report::WrittenReport written;
    if (!args->run.empty()) {
      args->options.include_tsne = !args->no_tsne;
      args->options.tsne.show_progress = util::stderr_is_terminal();
      written = report::write_run_report(args->run, args->out, args->options, print_line);
    } else if (!args->ablation.empty()) {
      written = report::write_ablation_report(args->ablation, args->out, print_line);
    } else {
      written = report::write_benchmark_report(args->benchmark, args->out, print_line);
    }
    for (const auto& note : written.notes) print_line(note);
    print_line(fmt::format("wrote {} and {} figure files in {}", written.html.string(), written.figures.size(),
                           written.figures.empty() ? std::string("-") : written.figures.front().parent_path().string()));
  });
}

}  // namespace avgzsl::cli
