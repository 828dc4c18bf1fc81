#include "avgzsl/training/ablation.h"
#include "avgzsl/util/text.h"

#include "avgzsl/gzsl/method_registry.h"
#include "avgzsl/io/atomic_file.h"

#include <fmt/format.h>
#include <map>
#include <nlohmann/json.hpp>
#include "avgzsl/util/option_error.h"

namespace avgzsl::training {

std::vector<AblationVariant> ablation_variants(const TrainConfig& base) {
  std::vector<AblationVariant> out;
  TrainConfig full = base;
  full.modality = data::Modality::kBoth;
  full.labels = data::LabelSource::kBoth;
  full.losses = {true, true, true};
  const gzsl::MethodSpec& spec = gzsl::method_spec(base.method);
  const bool is_clipclap = base.method == "clipclap";
  for (data::Modality m : {data::Modality::kAudio, data::Modality::kVisual, data::Modality::kBoth}) {
    TrainConfig c = full;
    c.modality = m;
    c.labels = data::matching_label_source(m);
    out.push_back({"modality", to_string(m), c,
                   spec.needs_visual_and_audio && m != data::Modality::kBoth ? "it needs both modalities" : ""});
  }
  for (data::LabelSource l : {data::LabelSource::kClip, data::LabelSource::kClap, data::LabelSource::kBoth}) {
    TrainConfig c = full;
    c.labels = l;
    out.push_back({"labels", to_string(l), c, ""});
  }
  const std::pair<const char*, gzsl::LossSwitches> losses[] = {
      {"reg", {false, true, false}}, {"reg+ce", {true, true, false}}, {"reg+ce+rec", {true, true, true}}};
  for (const auto& [name, switches] : losses) {
    TrainConfig c = full;
    c.losses = is_clipclap ? switches : full.losses;
    out.push_back({"losses", name, c, is_clipclap ? "" : "the loss switches are ClipClap's"});
  }
  return out;
}

std::vector<AblationRow> run_ablation(const TrainConfig& base, const data::Dataset& dataset, int seeds,
                                      const util::LineSink& print) {
  if (seeds < 1) throw util::OptionError("seeds", "the number of seeds", " must be at least 1");
  std::vector<AblationRow> rows;
  for (auto& v : ablation_variants(base)) rows.push_back({v, {}});

  // Identical configurations (the full model appears in every family) run once.
  std::map<std::string, std::vector<ProtocolSummary>> done;
  const size_t distinct = [&] {
    std::map<std::string, int> keys;
    for (const auto& r : rows) {
      if (r.variant.not_applicable.empty()) keys[to_json(r.variant.config).dump()] = 1;
    }
    return keys.size();
  }();
  size_t finished = 0;
  for (auto& row : rows) {
    if (!row.variant.not_applicable.empty()) continue;
    const std::string key = to_json(row.variant.config).dump();
    auto it = done.find(key);
    if (it == done.end()) {
      const data::ProtocolSets sets = data::build_protocol_sets(dataset, row.variant.config.modality, row.variant.config.label_source());
      std::vector<ProtocolSummary> runs;
      for (int s = 0; s < seeds; ++s) {
        TrainConfig c = row.variant.config;
        c.seed = base.seed + static_cast<uint64_t>(s);
        ProtocolHooks hooks;
        hooks.show_progress = true;
        const ProtocolRun run = run_protocol(c, sets, hooks);
        runs.push_back(run.summary);
        if (print) {
          print(fmt::format("[{}/{}] {} = {}, seed {}: test HM {:.2f}, ZSL {:.2f}", finished + 1, distinct,
                            row.variant.family, row.variant.variant, c.seed, 100 * run.summary.test.hm,
                            100 * run.summary.test.zsl));
        }
      }
      ++finished;
      it = done.emplace(key, std::move(runs)).first;
    }
    row.runs = it->second;
  }
  return rows;
}

std::string format_ablation_table(const std::vector<AblationRow>& rows) {
  std::vector<ResultRow> table;
  std::string not_applicable;
  for (const auto& r : rows) {
    const std::string label = r.variant.family + ": " + r.variant.variant;
    if (r.variant.not_applicable.empty()) {
      table.push_back({label, r.runs});
    } else {
      not_applicable += fmt::format("{}: not applicable to {} ({})\n", label, r.variant.config.method, r.variant.not_applicable);
    }
  }
  return format_result_table(table) + not_applicable;
}

nlohmann::json ablation_json(const std::vector<AblationRow>& rows) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& row : rows) {
    if (!row.variant.not_applicable.empty()) {
      out.push_back({{"family", row.variant.family}, {"variant", row.variant.variant},
                     {"not_applicable", row.variant.not_applicable}});
      continue;
    }
    nlohmann::json runs = nlohmann::json::array();
    for (const auto& r : row.runs) {
      runs.push_back({{"best_epoch", r.best_epoch}, {"beta", r.validation.beta}, {"S", 100 * r.test.seen},
                      {"U", 100 * r.test.unseen}, {"HM", 100 * r.test.hm}, {"ZSL", 100 * r.test.zsl}});
    }
    out.push_back({{"family", row.variant.family}, {"variant", row.variant.variant}, {"config", to_json(row.variant.config)},
                   {"runs", runs}});
  }
  return out;
}

void write_ablation_json(const std::filesystem::path& path, const std::vector<AblationRow>& rows) {
  io::write_file_atomically(path, ablation_json(rows).dump(2) + "\n");
}

void check_ablation_json_path(const std::filesystem::path& path) {
  io::check_output_file(std::filesystem::absolute(path));
}

}  // namespace avgzsl::training
