// `avgzsl benchmark` on a tiny dataset with a few batches: the plan's runs, shards, resuming,
// collecting shards, and the refusals (another plan in the folder, missing or duplicated runs).
#include <gtest/gtest.h>

#include <set>

#include "avgzsl/data/dataset.h"
#include "avgzsl/gzsl/method_registry.h"
#include "avgzsl/io/atomic_file.h"
#include "avgzsl/training/benchmark.h"
#include "error_text.h"
#include "test_support.h"

namespace avgzsl::training {
namespace benchmark_test {
namespace fs = std::filesystem;

BenchmarkPlan tiny_plan(const fs::path& data, std::vector<std::string> methods, int seeds) {
  BenchmarkPlan p;
  p.data = data.string();
  p.methods = std::move(methods);
  p.seeds = seeds;
  p.base_seed = 7;
  p.epochs = 1;
  p.batches_per_epoch = 2;
  return p;
}

const util::LineSink quiet = [](const std::string&) {};

TEST(Benchmark, MethodListsAndShardsAreParsedStrictly) {
  const std::vector<std::string> all = parse_method_list("all");
  ASSERT_EQ(all.size(), gzsl::all_methods().size());
  EXPECT_EQ(all.front(), "clipclap");
  EXPECT_EQ(parse_method_list(" clipclap "), std::vector<std::string>{"clipclap"});
  EXPECT_NE(testing::typed_error_of([] { parse_method_list("clipclap,nope"); }).find("unknown method 'nope'"), std::string::npos);
  EXPECT_NE(testing::typed_error_of([] { parse_method_list("clipclap,clipclap"); }).find("twice"), std::string::npos);
  EXPECT_EQ(parse_shard("2/8"), std::make_pair(2, 8));
  for (const char* bad : {"0/3", "4/3", "3", "a/b", "1/0", "1/2x"}) {
    EXPECT_NE(testing::typed_error_of([&] { parse_shard(bad); }), "") << bad;
  }
}

TEST(Benchmark, ShardsPartitionThePlanDeterministically) {
  BenchmarkPlan p;
  p.methods = {"clipclap"};
  p.seeds = 11;
  const std::vector<BenchmarkRun> runs = benchmark_runs(p);
  ASSERT_EQ(runs.size(), 11u);
  EXPECT_EQ(runs[3].name(), "clipclap-seed45");
  std::multiset<std::string> seen;
  for (int k = 1; k <= 4; ++k) {
    const auto shard = shard_runs(runs, k, 4);
    EXPECT_GE(shard.size(), 2u);
    EXPECT_LE(shard.size(), 3u);
    for (const auto& r : shard) seen.insert(r.name());
  }
  EXPECT_EQ(seen.size(), runs.size());
  for (const auto& r : runs) EXPECT_EQ(seen.count(r.name()), 1u) << r.name();
}

TEST(Benchmark, RunsEveryRunOnceWritesTheTableAndSkipsFinishedRunsWhenRerun) {
  testing::TempDir tmp;
  data::save_dataset(testing::tiny_dataset(5), tmp / "data");
  const BenchmarkPlan plan = tiny_plan(tmp / "data", {"clipclap"}, 2);
  std::vector<std::string> first_lines;
  const auto rows = run_benchmark(plan, tmp / "bench", 1, 1, 1, [&](const std::string& l) { first_lines.push_back(l); });
  // clipclap, and no training-free row: this dataset's visual features and CLIP text differ in size,
  // which the log says.
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].label, "clipclap");
  ASSERT_EQ(rows[0].runs.size(), 2u);
  EXPECT_NE(first_lines.back().find("no training-free row"), std::string::npos) << first_lines.back();
  for (const char* f : {"benchmark.json", "results.md", "results.csv", "results.json"}) {
    EXPECT_TRUE(fs::exists(tmp / "bench" / f)) << f;
  }
  // Each seed is the run `avgzsl train` makes with that seed.
  const fs::path seed8 = tmp / "bench" / "runs" / "clipclap-seed8";
  ASSERT_TRUE(fs::exists(seed8 / "results.json"));
  TrainConfig alone = benchmark_run_config(plan, {"clipclap", 8}, 1);
  const TrainRunResult direct = train_run(alone, tmp / "direct", quiet);
  EXPECT_EQ(direct.summary.test.hm, rows[0].runs[1].test.hm);

  // A rerun trains nothing: the run directories stay as they were.
  const auto stamp = fs::last_write_time(seed8 / "results.json");
  std::vector<std::string> lines;
  const auto again = run_benchmark(plan, tmp / "bench", 1, 1, 1, [&](const std::string& l) { lines.push_back(l); });
  EXPECT_EQ(fs::last_write_time(seed8 / "results.json"), stamp);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].runs[1].test.hm, rows[0].runs[1].test.hm);
  ASSERT_FALSE(lines.empty());
  EXPECT_NE(lines[0].find("finished earlier"), std::string::npos) << lines[0];

  // The folder belongs to its plan.
  BenchmarkPlan other = plan;
  other.seeds = 3;
  EXPECT_NE(testing::typed_error_of([&] { run_benchmark(other, tmp / "bench", 1, 1, 1, quiet); }).find("another benchmark"),
            std::string::npos);
}

TEST(Benchmark, ShardsInTheirOwnFoldersAreCollectedIntoTheSameTable) {
  testing::TempDir tmp;
  data::save_dataset(testing::tiny_dataset(6), tmp / "data");
  const BenchmarkPlan plan = tiny_plan(tmp / "data", {"clipclap"}, 3);
  EXPECT_TRUE(run_benchmark(plan, tmp / "s1", 1, 2, 1, quiet).empty());  // not all runs yet: no table
  EXPECT_FALSE(fs::exists(tmp / "s1" / "results.md"));
  // One shard alone is refused, naming what is missing.
  const std::string missing = testing::typed_error_of([&] { collect_benchmark({tmp / "s1"}, tmp / "table", quiet); });
  EXPECT_NE(missing.find("clipclap-seed8"), std::string::npos) << missing;
  EXPECT_FALSE(fs::exists(tmp / "table"));
  EXPECT_TRUE(run_benchmark(plan, tmp / "s2", 2, 2, 1, quiet).empty());
  const auto rows = collect_benchmark({tmp / "s1", tmp / "s2"}, tmp / "table", quiet);
  ASSERT_GE(rows.size(), 1u);
  ASSERT_EQ(rows[0].runs.size(), 3u);
  EXPECT_TRUE(fs::exists(tmp / "table" / "results.csv"));
  // The same run finished in two shards' folders is refused by name.
  fs::copy(tmp / "s1" / "runs" / "clipclap-seed7", tmp / "s2" / "runs" / "clipclap-seed7", fs::copy_options::recursive);
  const std::string twice = testing::typed_error_of([&] { collect_benchmark({tmp / "s1", tmp / "s2"}, tmp / "t2", quiet); });
  EXPECT_NE(twice.find("clipclap-seed7 is finished twice"), std::string::npos) << twice;
}

}  // namespace benchmark_test
}  // namespace avgzsl::training
