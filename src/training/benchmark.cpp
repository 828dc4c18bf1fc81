#include "avgzsl/training/benchmark.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

#include "avgzsl/data/dataset.h"
#include "avgzsl/gzsl/method_registry.h"
#include "avgzsl/io/atomic_file.h"
#include "avgzsl/io/csv_table.h"
#include "avgzsl/training/training_free_baseline.h"
#include "avgzsl/training/training_run.h"
#include "avgzsl/util/option_error.h"

namespace avgzsl::training {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kTrainingFreeLabel = "training-free";

fs::path plan_path(const fs::path& out) { return out / "benchmark.json"; }
fs::path runs_dir(const fs::path& out) { return out / "runs"; }

json read_json(const fs::path& path) {
  try {
    return json::parse(io::read_file(path));
  } catch (const json::exception& e) {
    throw std::runtime_error(path.string() + ": not valid JSON (" + e.what() + ")");
  }
}

// A finished run's numbers from its results.json; nullopt when the run has not finished.
std::optional<std::pair<ProtocolSummary, double>> finished_run(const fs::path& run_dir) {
  const fs::path path = run_dir / "results.json";
  if (!fs::exists(path)) return std::nullopt;
  const json r = read_json(path);
  if (!r.contains("test")) return std::nullopt;  // a --stage 1 run: not what a benchmark makes
  try {
    ProtocolSummary s;
    s.best_epoch = r.at("best_epoch").get<int>();
    auto scores = [](const json& j) {
      metrics::GzslScores g;
      g.seen = j.at("S").get<double>() / 100;
      g.unseen = j.at("U").get<double>() / 100;
      g.hm = j.at("HM").get<double>() / 100;
      g.zsl = j.at("ZSL").get<double>() / 100;
      g.beta = j.at("beta").get<float>();
      return g;
    };
    s.validation = scores(r.at("validation"));
    s.test = scores(r.at("test"));
    return std::make_pair(s, r.value("wall_seconds", 0.0));
  } catch (const json::exception& e) {
    throw std::runtime_error(path.string() + ": not a result of avgzsl train (" + e.what() + ")");
  }
}

// Rows in the plan's method order, then the training-free row.
std::vector<BenchmarkRowResult> table_rows(const BenchmarkPlan& plan, const std::map<std::string, fs::path>& run_dirs,
                                           const util::LineSink& print) {
  std::vector<BenchmarkRowResult> rows;
  for (const std::string& method : plan.methods) {
    BenchmarkRowResult row;
    row.label = method;
    for (const BenchmarkRun& run : benchmark_runs(plan)) {
      if (run.method != method) continue;
      const auto done = finished_run(run_dirs.at(run.name()));
      row.runs.push_back(done->first);
      row.wall_seconds.push_back(done->second);
    }
    rows.push_back(std::move(row));
  }
  try {
    const data::Dataset dataset = data::load_dataset(plan.data);
    rows.push_back({kTrainingFreeLabel, {evaluate_training_free(dataset)}, {}});
  } catch (const std::runtime_error& e) {
    if (print) print(std::string("no training-free row: ") + e.what());
  }
  return rows;
}

struct Columns {
  std::vector<double> s, u, hm, zsl, beta, epoch;
};

Columns columns_of(const BenchmarkRowResult& row) {
  Columns c;
  for (const auto& r : row.runs) {
    c.s.push_back(100 * r.test.seen);
    c.u.push_back(100 * r.test.unseen);
    c.hm.push_back(100 * r.test.hm);
    c.zsl.push_back(100 * r.test.zsl);
    c.beta.push_back(r.validation.beta);
    if (r.best_epoch >= 0) c.epoch.push_back(r.best_epoch);
  }
  return c;
}

std::string markdown_table(const std::vector<BenchmarkRowResult>& rows, const BenchmarkPlan& plan) {
  std::string out = fmt::format("# Benchmark on {}\n\n{} seed(s) from {}; test split, percent; mean ± sample std over "
                                "seeds; beta chosen on validation; wall time per run (train + test).\n\n",
                                plan.data, plan.seeds, plan.base_seed);
  out += "| method | runs | S | U | HM | ZSL | beta | best epoch | wall s |\n|---|---|---|---|---|---|---|---|---|\n";
  const auto pm = format_mean_std;
  for (const auto& row : rows) {
    const Columns c = columns_of(row);
    out += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n", row.label, row.runs.size(), pm(c.s, 2),
                       pm(c.u, 2), pm(c.hm, 2), pm(c.zsl, 2), pm(c.beta, 2), pm(c.epoch, 1), pm(row.wall_seconds, 0));
  }
  return out;
}

std::string csv_table(const std::vector<BenchmarkRowResult>& rows) {
  std::string out = "method,runs,S_mean,S_std,U_mean,U_std,HM_mean,HM_std,ZSL_mean,ZSL_std,beta_mean,beta_std,"
                    "best_epoch_mean,best_epoch_std,wall_seconds_mean\n";
  for (const auto& row : rows) {
    const Columns c = columns_of(row);
    auto pair = [](const std::vector<double>& v) {
      const MeanStd m = mean_and_sample_std(v);
      return v.empty() ? std::string(",") : fmt::format("{:.4f},{:.4f}", m.mean, m.std);
    };
    out += fmt::format("{},{},{},{},{},{},{},{},{}\n", io::csv_field(row.label), row.runs.size(), pair(c.s), pair(c.u),
                       pair(c.hm), pair(c.zsl), pair(c.beta), pair(c.epoch),
                       row.wall_seconds.empty() ? "" : fmt::format("{:.4f}", mean_and_sample_std(row.wall_seconds).mean));
  }
  return out;
}

json json_table(const std::vector<BenchmarkRowResult>& rows, const BenchmarkPlan& plan) {
  json table = json::array();
  for (const auto& row : rows) {
    json runs = json::array();
    for (size_t i = 0; i < row.runs.size(); ++i) {
      const ProtocolSummary& r = row.runs[i];
      json entry = {{"S", 100 * r.test.seen}, {"U", 100 * r.test.unseen}, {"HM", 100 * r.test.hm},
                    {"ZSL", 100 * r.test.zsl}, {"beta", r.validation.beta}, {"best_epoch", r.best_epoch}};
      if (i < row.wall_seconds.size()) entry["wall_seconds"] = row.wall_seconds[i];
      runs.push_back(entry);
    }
    table.push_back({{"method", row.label}, {"runs", runs}});
  }
  return {{"plan", to_json(plan)}, {"units", "S, U, HM, ZSL in percent (test); beta from validation"}, {"rows", table}};
}

void write_table(const fs::path& out, const BenchmarkPlan& plan, const std::vector<BenchmarkRowResult>& rows) {
  io::write_file_atomically(out / "results.md", markdown_table(rows, plan));
  io::write_file_atomically(out / "results.csv", csv_table(rows));
  io::write_file_atomically(out / "results.json", json_table(rows, plan).dump(2) + "\n");
}

// The plan without what may differ between shards and attempts.
bool same_plan(const BenchmarkPlan& a, const BenchmarkPlan& b) { return to_json(a) == to_json(b); }

}  // namespace

json to_json(const BenchmarkPlan& p) {
  return {{"data", p.data},           {"methods", p.methods}, {"seeds", p.seeds}, {"seed", p.base_seed},
          {"epochs", p.epochs},       {"batches-per-epoch", p.batches_per_epoch}};
}

BenchmarkPlan plan_from_json(const json& j, const std::string& source) {
  BenchmarkPlan p;
  try {
    p.data = j.at("data").get<std::string>();
    p.methods = j.at("methods").get<std::vector<std::string>>();
    p.seeds = j.at("seeds").get<int>();
    p.base_seed = j.at("seed").get<uint64_t>();
    p.epochs = j.at("epochs").get<int>();
    p.batches_per_epoch = j.at("batches-per-epoch").get<int>();
  } catch (const json::exception& e) {
    throw std::runtime_error(source + ": not a benchmark plan (" + e.what() + ")");
  }
  for (const auto& m : p.methods) gzsl::method_spec(m);  // throws on an unknown name
  return p;
}

std::vector<std::string> parse_method_list(const std::string& text) {
  std::vector<std::string> out;
  if (text == "all") {
    for (const auto& spec : gzsl::all_methods()) out.push_back(spec.name);
    return out;
  }
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    item.erase(std::remove_if(item.begin(), item.end(), [](unsigned char c) { return std::isspace(c); }), item.end());
    gzsl::method_spec(item);  // throws on an unknown name
    if (std::find(out.begin(), out.end(), item) != out.end()) {
      throw std::invalid_argument("method '" + item + "' is listed twice in --methods");
    }
    out.push_back(item);
  }
  if (out.empty()) throw util::OptionError("methods", "the method list", " must name at least one method (or all)");
  return out;
}

std::string BenchmarkRun::name() const { return fmt::format("{}-seed{}", method, seed); }

std::vector<BenchmarkRun> benchmark_runs(const BenchmarkPlan& plan) {
  std::vector<BenchmarkRun> runs;
  for (const auto& method : plan.methods) {
    for (int s = 0; s < plan.seeds; ++s) runs.push_back({method, plan.base_seed + static_cast<uint64_t>(s)});
  }
  return runs;
}

std::pair<int, int> parse_shard(const std::string& text) {
  const size_t slash = text.find('/');
  int k = 0, n = 0;
  try {
    if (slash == std::string::npos) throw std::invalid_argument("no slash");
    size_t used = 0;
    k = std::stoi(text.substr(0, slash), &used);
    if (used != slash) throw std::invalid_argument("trailing text");
    n = std::stoi(text.substr(slash + 1), &used);
    if (used != text.size() - slash - 1) throw std::invalid_argument("trailing text");
  } catch (const std::exception&) {
    throw util::OptionError("shard", "the shard", " must be K/N, e.g. 2/8, got '" + text + "'");
  }
  if (n < 1 || k < 1 || k > n) throw util::OptionError("shard", "the shard", " must be K/N with 1 <= K <= N, got '" + text + "'");
  return {k, n};
}

std::vector<BenchmarkRun> shard_runs(const std::vector<BenchmarkRun>& runs, int shard, int shards) {
  std::vector<BenchmarkRun> out;
  for (size_t i = 0; i < runs.size(); ++i) {
    if (static_cast<int>(i % static_cast<size_t>(shards)) == shard - 1) out.push_back(runs[i]);
  }
  return out;
}

TrainConfig benchmark_run_config(const BenchmarkPlan& plan, const BenchmarkRun& run, int threads) {
  TrainConfig c;
  c.data = plan.data;
  c.method = run.method;
  c.seed = run.seed;
  c.threads = threads;
  c.epochs = plan.epochs;
  c.batches_per_epoch = plan.batches_per_epoch;
  return c;
}

std::vector<BenchmarkRowResult> run_benchmark(const BenchmarkPlan& plan, const fs::path& out, int shard, int shards,
                                              int threads, const util::LineSink& print) {
  if (plan.seeds < 1 || plan.seeds > 1000) throw util::OptionError("seeds", "the number of seeds", " must be between 1 and 1000");
  if (plan.methods.empty()) throw util::OptionError("methods", "the method list", " must name at least one method");
  // Every run's configuration is checked against the dataset before the first one trains, so that
  // a method the data cannot feed fails now, not after hours of other runs.
  const data::Dataset dataset = data::load_dataset(plan.data);
  for (const auto& run : benchmark_runs(plan)) {
    TrainConfig c = benchmark_run_config(plan, run, threads);
    c.validate();
    c.apply_paper_defaults(dataset.name);
    c.validate();
  }
  // Every run uses both modalities and both text halves: the dataset must have them.
  const TrainConfig any = benchmark_run_config(plan, benchmark_runs(plan).front(), threads);
  data::build_protocol_sets(dataset, any.modality, any.label_source());
  if (fs::exists(out) && !fs::is_directory(out)) throw std::runtime_error(out.string() + ": exists and is not a directory");
  if (fs::exists(plan_path(out))) {
    const BenchmarkPlan existing = plan_from_json(read_json(plan_path(out)), plan_path(out).string());
    if (!same_plan(existing, plan)) {
      throw std::runtime_error(plan_path(out).string() + ": this folder holds another benchmark (" +
                               to_json(existing).dump() + "); use another --out");
    }
  } else {
    io::check_output_directory(out);
    fs::create_directories(runs_dir(out));
    io::write_file_atomically(plan_path(out), to_json(plan).dump(2) + "\n");
  }
  fs::create_directories(runs_dir(out));

  const std::vector<BenchmarkRun> mine = shard_runs(benchmark_runs(plan), shard, shards);
  size_t index = 0;
  for (const BenchmarkRun& run : mine) {
    ++index;
    const fs::path dir = runs_dir(out) / run.name();
    if (const auto done = finished_run(dir)) {
      if (print) print(fmt::format("[{}/{}] {}: finished earlier (test HM {:.2f})", index, mine.size(), run.name(),
                                   100 * done->first.test.hm));
      continue;
    }
    if (print) print(fmt::format("[{}/{}] {}: training", index, mine.size(), run.name()));
    const TrainRunResult r = train_run(benchmark_run_config(plan, run, threads), dir, nullptr);
    if (print) {
      print(fmt::format("[{}/{}] {}: test S {:.2f} U {:.2f} HM {:.2f} ZSL {:.2f}", index, mine.size(), run.name(),
                        100 * r.summary.test.seen, 100 * r.summary.test.unseen, 100 * r.summary.test.hm,
                        100 * r.summary.test.zsl));
    }
  }

  std::map<std::string, fs::path> dirs;
  size_t finished = 0;
  for (const BenchmarkRun& run : benchmark_runs(plan)) {
    dirs[run.name()] = runs_dir(out) / run.name();
    if (finished_run(dirs[run.name()])) ++finished;
  }
  if (finished < dirs.size()) {
    if (print) {
      print(fmt::format("{} of {} runs of the plan are finished in {}; the table is written when all are (or run "
                        "`avgzsl benchmark --collect` over the shards' folders)",
                        finished, dirs.size(), out.string()));
    }
    return {};
  }
  std::vector<BenchmarkRowResult> rows = table_rows(plan, dirs, print);
  write_table(out, plan, rows);
  return rows;
}

std::vector<BenchmarkRowResult> collect_benchmark(const std::vector<fs::path>& shard_dirs, const fs::path& out,
                                                  const util::LineSink& print) {
  if (shard_dirs.empty()) throw std::invalid_argument("--collect needs at least one benchmark folder");
  std::optional<BenchmarkPlan> plan;
  fs::path plan_source;
  std::map<std::string, fs::path> found;
  for (const fs::path& shard : shard_dirs) {
    if (!fs::exists(plan_path(shard))) {
      throw std::runtime_error(plan_path(shard).string() + ": not found; is " + shard.string() + " a benchmark folder?");
    }
    const BenchmarkPlan p = plan_from_json(read_json(plan_path(shard)), plan_path(shard).string());
    if (!plan) {
      plan = p;
      plan_source = plan_path(shard);
    } else if (!same_plan(*plan, p)) {
      throw std::runtime_error(plan_path(shard).string() + ": another plan than " + plan_source.string());
    }
    if (!fs::is_directory(runs_dir(shard))) continue;
    for (const auto& entry : fs::directory_iterator(runs_dir(shard))) {
      if (!entry.is_directory() || !finished_run(entry.path())) continue;  // unfinished attempts do not count
      const std::string name = entry.path().filename().string();
      const auto [it, inserted] = found.emplace(name, entry.path());
      if (!inserted && fs::canonical(it->second) != fs::canonical(entry.path())) {
        throw std::runtime_error("run " + name + " is finished twice: in " + it->second.string() + " and " +
                                 entry.path().string());
      }
    }
  }
  std::map<std::string, fs::path> dirs;
  std::vector<std::string> missing;
  for (const BenchmarkRun& run : benchmark_runs(*plan)) {
    const auto it = found.find(run.name());
    if (it == found.end()) {
      missing.push_back(run.name());
    } else {
      dirs[run.name()] = it->second;
    }
  }
  for (const auto& [name, path] : found) {
    if (!dirs.count(name)) throw std::runtime_error(path.string() + ": a run the plan of " + plan_source.string() + " does not have");
  }
  if (!missing.empty()) {
    std::string list;
    for (size_t i = 0; i < missing.size(); ++i) list += (i ? ", " : "") + missing[i];
    throw std::runtime_error(fmt::format("{} of {} runs are missing or unfinished: {}", missing.size(),
                                         benchmark_runs(*plan).size(), list));
  }
  io::check_output_directory(out);
  fs::create_directories(out);
  std::vector<BenchmarkRowResult> rows = table_rows(*plan, dirs, print);
  write_table(out, *plan, rows);
  return rows;
}

std::string format_benchmark_table(const std::vector<BenchmarkRowResult>& rows) {
  std::vector<ResultRow> table;
  for (const auto& row : rows) table.push_back({row.label, row.runs});
  return format_result_table(table);
}

}  // namespace avgzsl::training
