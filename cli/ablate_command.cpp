#include <fmt/format.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "avgzsl/data/dataset.h"
#include "avgzsl/io/atomic_file.h"
#include "avgzsl/pipelines/ablation.h"
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
    pipelines::TrainConfig config = args->options.resolve();
    if (config.data.empty()) throw std::invalid_argument("--data is required");
    if (args->seeds < 1) throw std::invalid_argument("--seeds must be at least 1");
    config.validate();
    util::configure_threads(config.threads);
    const Dataset dataset = load_dataset(config.data);
    config.apply_paper_defaults(dataset.name);
    config.validate();
    if (!args->json_out.empty()) {
      const auto parent = std::filesystem::absolute(args->json_out).parent_path();
      io::check_directory_writable(parent);
    }
    const auto rows = pipelines::run_ablation(config, dataset, args->seeds, print_line);
    fmt::print("\n{} — test split, {} seed(s){}\n{}", dataset.name, args->seeds, args->seeds > 1 ? ", mean ± sample std" : "",
               pipelines::format_ablation_table(rows));
    if (!args->json_out.empty()) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& row : rows) {
        nlohmann::json runs = nlohmann::json::array();
        for (const auto& r : row.runs) {
          runs.push_back({{"best_epoch", r.best_epoch}, {"beta", r.validation.beta}, {"S", 100 * r.test.seen},
                          {"U", 100 * r.test.unseen}, {"HM", 100 * r.test.hm}, {"ZSL", 100 * r.test.zsl}});
        }
        out.push_back({{"family", row.variant.family}, {"variant", row.variant.variant},
                       {"config", pipelines::to_json(row.variant.config)}, {"runs", runs}});
      }
      io::write_file_atomically(args->json_out, out.dump(2) + "\n");
    }
  });
}

}  // namespace avgzsl::cli
