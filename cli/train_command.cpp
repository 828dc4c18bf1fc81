#include <fmt/format.h>

#include <memory>

#include "avgzsl/training/training_run.h"
#include "avgzsl/util/threads.h"
#include "commands.h"
#include "print_line.h"
#include "training_options.h"

namespace avgzsl::cli {

void add_train_command(CLI::App& app) {
  struct Args {
    TrainingOptions options;
    std::string out;
    bool force = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* c = app.add_subcommand("train", "run the two-stage protocol (stage 1, stage 2, test) on a native dataset");
  args->options.add_to(c, /*with_stage=*/true);
  c->add_option("--out", args->out, "run directory to create")->required();
  c->add_flag("--force", args->force, "replace an existing run directory (only once the new run is complete)");
  c->callback([args] {
    const training::TrainConfig config = args->options.resolve();
    util::configure_threads(config.threads);
    const auto result = training::train_run(config, args->out, print_line,
                                             args->force);
    if (result.tested) {
      fmt::print("\n{}", training::format_result_table({{result.dataset_name + " (test)", {result.summary}}}));
    }
    fmt::print("run directory: {}\n", args->out);
  });
}

}  // namespace avgzsl::cli
