// `avgzsl benchmark`: the paper's comparison table (every method x seed through the full
// protocol, plus the training-free row), resumable and shardable.
//
//   OUT/benchmark.json          the plan: dataset, methods, seeds, overrides (the same for every shard)
//   OUT/runs/<method>-seed<S>/  one run directory per method and seed (training_run.h)
//   OUT/results.{md,csv,json}   the table, once every run of the plan is finished
//
// A run directory with results.json is finished and never trained again; an unfinished one
// starts again from its last finished stage (train_run). Shards may share OUT or use their own;
// collect_benchmark builds the table from several OUTs.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "avgzsl/training/protocol.h"
#include "avgzsl/training/train_config.h"
#include "avgzsl/util/text.h"

namespace avgzsl::training {

struct BenchmarkPlan {
  std::string data;                  // dataset directory
  std::vector<std::string> methods;  // registry names, in table order
  int seeds = 3;                     // seeds base_seed, base_seed + 1, ...
  uint64_t base_seed = 42;
  int epochs = 0;                    // 0: each method's own setting
  int batches_per_epoch = 0;         // 0: each method's own setting
};
nlohmann::json to_json(const BenchmarkPlan& plan);
BenchmarkPlan plan_from_json(const nlohmann::json& json, const std::string& source);

// "all" or a comma-separated list of method names; throws std::invalid_argument on an unknown or
// repeated name, naming it and the known ones.
std::vector<std::string> parse_method_list(const std::string& text);

struct BenchmarkRun {
  std::string method;
  uint64_t seed = 0;
  std::string name() const;  // "<method>-seed<seed>", the run directory's name
};
// Every run of the plan, method-major.
std::vector<BenchmarkRun> benchmark_runs(const BenchmarkPlan& plan);

// "K/N" with 1 <= K <= N; throws std::invalid_argument otherwise.
std::pair<int, int> parse_shard(const std::string& text);
// Shard K of N: runs i with i % N == K - 1 (deterministic, balanced to within one run).
std::vector<BenchmarkRun> shard_runs(const std::vector<BenchmarkRun>& runs, int shard, int shards);

// The configuration of one run: the method's defaults for the dataset, the plan's overrides.
TrainConfig benchmark_run_config(const BenchmarkPlan& plan, const BenchmarkRun& run, int threads);

struct BenchmarkRowResult {
  std::string label;                      // method name, or the training-free row
  std::vector<ProtocolSummary> runs;      // one per seed
  std::vector<double> wall_seconds;       // per run, as recorded in results.json (training only)
};

// Runs this shard's runs under `out` (skipping finished ones) and, when every run of the plan is
// finished there, writes the table. Throws when `out` holds another plan. Returns the rows when the
// table was written, empty otherwise.
std::vector<BenchmarkRowResult> run_benchmark(const BenchmarkPlan& plan, const std::filesystem::path& out, int shard,
                                              int shards, int threads, const util::LineSink& print);

// The table from the run directories of several OUTs (shards): every run of their common plan must
// be present exactly once and finished; written to `out`.
std::vector<BenchmarkRowResult> collect_benchmark(const std::vector<std::filesystem::path>& shard_dirs,
                                                  const std::filesystem::path& out, const util::LineSink& print);

// The table in the paper's layout (methods, then the training-free row), as text.
std::string format_benchmark_table(const std::vector<BenchmarkRowResult>& rows);

}  // namespace avgzsl::training
