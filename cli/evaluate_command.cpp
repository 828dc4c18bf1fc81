#include <fmt/format.h>

#include <memory>

#include "avgzsl/data/dataset.h"
#include "avgzsl/training/training_run.h"
#include "avgzsl/training/training_free_baseline.h"
#include "avgzsl/util/threads.h"
#include "commands.h"

namespace avgzsl::cli {

void add_evaluate_command(CLI::App& app) {
  struct Args {
    std::string run;
    std::string data;
    std::string method;
    bool no_baseline = false;
    int threads = 0;
  };
  auto args = std::make_shared<Args>();
  CLI::App* c = app.add_subcommand(
      "evaluate",
      "re-evaluate a run's checkpoints (beta on validation, test with stage 2) beside the training-free baseline; "
      "without --run, the baseline alone");
  c->add_option("--run", args->run, "run directory written by avgzsl train");
  c->add_option("--data", args->data, "dataset directory (default: the one the run was trained on)");
  c->add_option("--method", args->method, "refuse the run unless it was trained with this method");
  c->add_flag("--no-baseline", args->no_baseline, "leave out the training-free row (CLIP/CLAP cosine, no training)");
  c->add_option("--threads", args->threads, "LibTorch threads, 0 = all cores");
  c->callback([args] {
    if (args->run.empty() && args->data.empty()) throw std::invalid_argument("give --run, --data or both");
    util::configure_threads(args->threads);
    std::vector<training::ResultRow> rows;
    const std::string data = args->data.empty() ? training::load_run_config(args->run).data : args->data;
    const data::Dataset dataset = data::load_dataset(data);  // once, for the run and the baseline
    if (!args->run.empty()) {
      const auto result = training::evaluate_run(args->run, dataset, args->method);
      rows.push_back({result.dataset_name + (result.method == "clipclap" ? "" : " " + result.method) + " (test)",
                      {result.summary}});
    }
    std::string baseline_note;
    if (!args->no_baseline) {
      try {
        rows.push_back({dataset.name + " training-free (test)", {training::evaluate_training_free(dataset)}});
      } catch (const std::runtime_error& e) {
        if (args->run.empty()) throw;  // the baseline was all that was asked for
        baseline_note = std::string("no training-free row: ") + e.what();
      }
    }
    fmt::print("{}", training::format_result_table(rows));
    if (!baseline_note.empty()) fmt::print("{}\n", baseline_note);
  });
}

}  // namespace avgzsl::cli
