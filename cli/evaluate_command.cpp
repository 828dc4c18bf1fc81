#include <fmt/format.h>

#include <memory>

#include "avgzsl/pipelines/training_run.h"
#include "commands.h"

namespace avgzsl::cli {

void add_evaluate_command(CLI::App& app) {
  struct Args {
    std::string run;
    std::string data;
    int threads = 0;
  };
  auto args = std::make_shared<Args>();
  CLI::App* c = app.add_subcommand("evaluate", "re-evaluate a run's checkpoints: beta on validation (stage 1), test (stage 2)");
  c->add_option("--run", args->run, "run directory written by avgzsl train")->required();
  c->add_option("--data", args->data, "dataset directory (default: the one the run was trained on)");
  c->add_option("--threads", args->threads, "LibTorch threads, 0 = all cores");
  c->callback([args] {
    const auto result = pipelines::evaluate_run(args->run, args->data.empty() ? std::nullopt : std::optional(args->data),
                                                args->threads);
    fmt::print("{}", pipelines::format_result_table({{result.dataset_name + " (test)", {result.summary}}}));
  });
}

}  // namespace avgzsl::cli
