#include <fmt/format.h>

#include <memory>

#include "avgzsl/training/ablation.h"
#include "avgzsl/training/training_run.h"
#include "avgzsl/util/threads.h"
#include "commands.h"
#include "print_line.h"
#include "training_options.h"

namespace avgzsl::cli {

void add_ablate_command(CLI::App& app) {
  struct Args {
    TrainingOptions options;
    int seeds = 1;
    std::string json_out;
  };
  auto args = std::make_shared<Args>();
  CLI::App* c = app.add_subcommand("ablate", "the paper's ablations: modality, label embeddings, loss terms");
  args->options.add_to(c, /*with_stage=*/false);
  c->add_option("--seeds", args->seeds, "runs per row (seeds seed, seed+1, ...); rows show mean ± std");
  c->add_option("--json", args->json_out, "also write every run's numbers to this JSON file");
  c->callback([args] {
    if (args->seeds < 1) throw std::invalid_argument("--seeds must be at least 1");
    training::TrainConfig given = args->options.resolve();
    util::configure_threads(given.threads);
    const training::TrainingInputs inputs = training::prepare_training(std::move(given));
    if (!args->json_out.empty()) training::check_ablation_json_path(args->json_out);
    const auto rows = training::run_ablation(inputs.config, inputs.dataset, args->seeds, print_line);
    fmt::print("\n{} — test split, {} seed(s){}\n{}", inputs.dataset.name, args->seeds,
               args->seeds > 1 ? ", mean ± sample std" : "", training::format_ablation_table(rows));
    if (!args->json_out.empty()) training::write_ablation_json(args->json_out, rows);
  });
}

}  // namespace avgzsl::cli
