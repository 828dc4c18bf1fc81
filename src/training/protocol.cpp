#include "avgzsl/training/protocol.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

namespace avgzsl::training {

ProtocolScoring score_protocol_models(gzsl::Method& stage1_model, gzsl::Method& stage2_model,
                                      const data::ProtocolSets& sets, int best_epoch) {
  const data::EvaluationSet& val = sets.validation;
  const data::EvaluationSet& test = sets.test;
  ProtocolScoring s{
      metrics::CalibratedStacking(split_distances(stage1_model, val, sets.class_text), val.labels, val.seen, val.unseen),
      metrics::CalibratedStacking(split_distances(stage2_model, test, sets.class_text), test.labels, test.seen, test.unseen)};
  s.summary.best_epoch = best_epoch;
  s.summary.validation = s.validation.search(metrics::reference_beta_grid());
  s.test_beta = metrics::reference_test_beta(s.summary.validation.beta);
  s.summary.test = s.test.evaluate(s.test_beta);
  return s;
}

ProtocolSummary evaluate_protocol_models(gzsl::Method& stage1_model, gzsl::Method& stage2_model,
                                         const data::ProtocolSets& sets, int best_epoch) {
  return score_protocol_models(stage1_model, stage2_model, sets, best_epoch).summary;
}

ProtocolRun run_protocol(const TrainConfig& config, const data::ProtocolSets& sets, const ProtocolHooks& hooks) {
  ProtocolRun run;
  const gzsl::MethodDims dims = method_dims(sets);
  run.stage1 = train_stage(1, sets.stage1_train, sets.validation, sets.class_text, dims, config, config.epochs,
                           hooks.on_epoch, hooks.show_progress ? "stage 1" : "");
  run.stage1.model = model_from_state(config, dims, run.stage1.best_state);
  run.stage2 = train_stage(2, sets.stage2_train, sets.validation, sets.class_text, dims, config, run.stage1.best_epoch + 1,
                           hooks.on_epoch, hooks.show_progress ? "stage 2" : "");
  run.summary = evaluate_protocol_models(*run.stage1.model, *run.stage2.model, sets, run.stage1.best_epoch);
  return run;
}

MeanStd mean_and_sample_std(const std::vector<double>& values) {
  MeanStd m;
  if (values.empty()) return m;
  for (double v : values) m.mean += v;
  m.mean /= static_cast<double>(values.size());
  if (values.size() < 2) return m;
  double var = 0;
  for (double v : values) var += (v - m.mean) * (v - m.mean);
  m.std = std::sqrt(var / static_cast<double>(values.size() - 1));
  return m;
}

std::string format_mean_std(const std::vector<double>& values, int decimals) {
  if (values.empty()) return "-";
  const MeanStd m = mean_and_sample_std(values);
  if (values.size() == 1) return fmt::format("{:.{}f}", m.mean, decimals);
  return fmt::format("{:.{}f} ± {:.{}f}", m.mean, decimals, m.std, decimals);
}

namespace {

// Display width in columns (the ± sign is two bytes in UTF-8).
size_t display_width(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::string pad_left(const std::string& s, size_t width) {
  const size_t w = display_width(s);
  return (w < width ? std::string(width - w, ' ') : "") + s;
}

}  // namespace

std::string format_result_table(const std::vector<ResultRow>& rows) {
  const std::vector<std::string> header = {"S", "U", "HM", "ZSL", "beta", "best epoch"};
  std::vector<std::vector<std::string>> cells;
  size_t label_width = 3;
  for (const auto& row : rows) {
    std::vector<double> s, u, hm, zsl, beta, epoch;
    for (const auto& r : row.runs) {
      s.push_back(100 * r.test.seen);
      u.push_back(100 * r.test.unseen);
      hm.push_back(100 * r.test.hm);
      zsl.push_back(100 * r.test.zsl);
      beta.push_back(r.validation.beta);
      epoch.push_back(r.best_epoch);
    }
    // A run without training (the training-free baseline) has no epoch.
    const bool trained = std::all_of(epoch.begin(), epoch.end(), [](double e) { return e >= 0; });
    cells.push_back({format_mean_std(s, 2), format_mean_std(u, 2), format_mean_std(hm, 2), format_mean_std(zsl, 2),
                     format_mean_std(beta, 2),
                     trained ? format_mean_std(epoch, row.runs.size() > 1 ? 1 : 0) : "-"});
    label_width = std::max(label_width, display_width(row.label));
  }
  std::vector<size_t> widths(header.size());
  for (size_t c = 0; c < header.size(); ++c) {
    widths[c] = header[c].size();
    for (const auto& r : cells) widths[c] = std::max(widths[c], display_width(r[c]));
  }
  std::string out = fmt::format("{:<{}}", "run", label_width);
  for (size_t c = 0; c < header.size(); ++c) out += "  " + pad_left(header[c], widths[c]);
  out += "\n";
  for (size_t r = 0; r < rows.size(); ++r) {
    out += fmt::format("{:<{}}", rows[r].label, label_width + (rows[r].label.size() - display_width(rows[r].label)));
    for (size_t c = 0; c < header.size(); ++c) out += "  " + pad_left(cells[r][c], widths[c]);
    out += "\n";
  }
  return out;
}

}  // namespace avgzsl::training
