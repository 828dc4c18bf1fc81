#include <fmt/format.h>

#include <memory>

#include "avgzsl/training/benchmark.h"
#include "avgzsl/util/threads.h"
#include "commands.h"
#include "print_line.h"

namespace avgzsl::cli {

void add_benchmark_command(CLI::App& app) {
  struct Args {
    std::string data;
    std::string methods = "all";
    int seeds = 3;
    uint64_t seed = 42;
    std::string out = "benchmark";
    int threads = 0;
    int epochs = 0;
    int batches_per_epoch = 0;
    std::string shard = "1/1";
    std::vector<std::string> collect;
  };
  auto args = std::make_shared<Args>();
  CLI::App* c = app.add_subcommand(
      "benchmark",
      "the paper's comparison: every method x seed through the two-stage protocol, then one table (Markdown, CSV, "
      "JSON) beside the training-free row; rerun to resume");
  c->add_option("--data", args->data, "dataset directory in the native format");
  c->add_option("--methods", args->methods, "all (default) or a comma-separated list, e.g. clipclap,avca");
  c->add_option("--seeds", args->seeds, "runs per method, seeds --seed, --seed + 1, ... (default 3)");
  c->add_option("--seed", args->seed, "first seed (default 42)");
  c->add_option("--out", args->out, "benchmark folder: plan, run directories, table (default ./benchmark)");
  c->add_option("--threads", args->threads, "LibTorch threads, 0 = all cores");
  c->add_option("--epochs", args->epochs, "stage-1 epochs of every method (default: each method's paper setting)");
  c->add_option("--batches-per-epoch", args->batches_per_epoch,
                "batches per epoch of every method (default: each method's paper setting)");
  c->add_option("--shard", args->shard,
                "K/N: run only the K-th of N deterministic slices of the method x seed runs (a Slurm array task "
                "or a Kubernetes indexed job each take one)");
  c->add_option("--collect", args->collect,
                "build the table from these benchmark folders (the shards' --out) into --out, refusing missing or "
                "duplicated runs")
      ->expected(1, -1);
  c->callback([args] {
    util::configure_threads(args->threads);
    std::vector<training::BenchmarkRowResult> rows;
    if (!args->collect.empty()) {
      std::vector<std::filesystem::path> dirs(args->collect.begin(), args->collect.end());
      rows = training::collect_benchmark(dirs, args->out, print_line);
    } else {
      if (args->data.empty()) throw std::invalid_argument("--data is required (or --collect DIR...)");
      training::BenchmarkPlan plan;
      plan.data = args->data;
      plan.methods = training::parse_method_list(args->methods);
      plan.seeds = args->seeds;
      plan.base_seed = args->seed;
      plan.epochs = args->epochs;
      plan.batches_per_epoch = args->batches_per_epoch;
      const auto [k, n] = training::parse_shard(args->shard);
      rows = training::run_benchmark(plan, args->out, k, n, args->threads, print_line);
    }
    if (!rows.empty()) {
      fmt::print("\n{}table: {}/results.md, .csv, .json\n", training::format_benchmark_table(rows), args->out);
    }
  });
}

}  // namespace avgzsl::cli
