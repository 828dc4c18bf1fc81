#include "avgzsl/pipelines/ablation.h"

#include <fmt/format.h>
#include <map>
#include <nlohmann/json.hpp>

namespace avgzsl::pipelines {

std::vector<AblationVariant> ablation_variants(const TrainConfig& base) {
  std::vector<AblationVariant> out;
  TrainConfig full = base;
  full.modality = Modality::kBoth;
  full.labels = LabelSource::kBoth;
  full.losses = {true, true, true};
  for (Modality m : {Modality::kAudio, Modality::kVisual, Modality::kBoth}) {
    TrainConfig c = full;
    c.modality = m;
    c.labels = matching_label_source(m);
    out.push_back({"modality", to_string(m), c});
  }
  for (LabelSource l : {LabelSource::kClip, LabelSource::kClap, LabelSource::kBoth}) {
    TrainConfig c = full;
    c.labels = l;
    out.push_back({"labels", to_string(l), c});
  }
  const std::pair<const char*, models::LossSwitches> losses[] = {
      {"reg", {false, true, false}}, {"reg+ce", {true, true, false}}, {"reg+ce+rec", {true, true, true}}};
  for (const auto& [name, switches] : losses) {
    TrainConfig c = full;
    c.losses = switches;
    out.push_back({"losses", name, c});
  }
  return out;
}

std::vector<AblationRow> run_ablation(const TrainConfig& base, const Dataset& dataset, int seeds,
                                      const std::function<void(const std::string&)>& print) {
  if (seeds < 1) throw std::invalid_argument("--seeds must be at least 1");
  std::vector<AblationRow> rows;
  for (auto& v : ablation_variants(base)) rows.push_back({v, {}});

  // Identical configurations (the full model appears in every family) run once.
  std::map<std::string, std::vector<ProtocolSummary>> done;
  const size_t distinct = [&] {
    std::map<std::string, int> keys;
    for (const auto& r : rows) keys[to_json(r.variant.config).dump()] = 1;
    return keys.size();
  }();
  size_t finished = 0;
  for (auto& row : rows) {
    const std::string key = to_json(row.variant.config).dump();
    auto it = done.find(key);
    if (it == done.end()) {
      const ProtocolSets sets = build_protocol_sets(dataset, row.variant.config.modality, row.variant.config.label_source());
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
  for (const auto& r : rows) table.push_back({r.variant.family + ": " + r.variant.variant, r.runs});
  return format_result_table(table);
}

}  // namespace avgzsl::pipelines
