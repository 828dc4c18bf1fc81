#include "avgzsl/report/run_report.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "avgzsl/io/atomic_file.h"
#include "avgzsl/io/csv_table.h"
#include "avgzsl/metrics/gzsl_evaluation.h"
#include "avgzsl/report/figure_files.h"
#include "avgzsl/report/html_page.h"
#include "avgzsl/training/stage_training.h"
#include "avgzsl/training/training_free_baseline.h"

namespace avgzsl::report {
namespace fs = std::filesystem;
namespace {

// The three scores' colours everywhere on the page, and seen/unseen.
const plot::Color& seen_color() { return plot::qualitative_palette()[1]; }    // indigo
const plot::Color& unseen_color() { return plot::qualitative_palette()[0]; }  // rose
const plot::Color& hm_color() { return plot::qualitative_palette()[3]; }      // green

std::string percent(double fraction) { return fmt::format("{:.2f}", 100 * fraction); }

std::vector<std::string> result_cells(const std::string& label, const training::ProtocolSummary& s, bool with_epoch) {
  return {label,
          percent(s.test.seen),
          percent(s.test.unseen),
          percent(s.test.hm),
          percent(s.test.zsl),
          fmt::format("{:.2f}", s.validation.beta),
          with_epoch ? std::to_string(s.best_epoch) : "-"};  // 0-based, as `evaluate` prints it
}

// validation_metrics.csv, one row per epoch of both stages.
struct EpochCurve {
  std::vector<double> epoch, seen, unseen, hm, lr;
};

std::map<int, EpochCurve> read_epoch_curves(const fs::path& csv) {
  const io::CsvTable table = io::read_csv(csv);
  const std::string source = csv.string();
  const size_t stage = table.column("stage", source), epoch = table.column("epoch", source),
               lr = table.column("lr", source), s = table.column("val_S", source), u = table.column("val_U", source),
               hm = table.column("val_HM", source);
  std::map<int, EpochCurve> curves;
  for (size_t r = 0; r < table.rows.size(); ++r) {
    const auto& row = table.rows[r];
    try {
      EpochCurve& c = curves[std::stoi(row[stage])];
      c.epoch.push_back(std::stod(row[epoch]) + 1);  // shown 1-based, as the log prints them
      c.lr.push_back(std::stod(row[lr]));
      c.seen.push_back(std::stod(row[s]));
      c.unseen.push_back(std::stod(row[u]));
      c.hm.push_back(std::stod(row[hm]));
    } catch (const std::logic_error&) {
      throw std::runtime_error(fmt::format("{}: row {} holds a value that is not a number", source, r + 2));
    }
  }
  return curves;
}

plot::Series line(const std::string& label, std::vector<double> x, std::vector<double> y, const plot::Color& color,
                  plot::Marker marker) {
  plot::Series s;
  s.label = label;
  s.x = std::move(x);
  s.y = std::move(y);
  s.color = color;
  s.marker = marker;
  s.marker_size = 3.5;
  s.line = true;
  return s;
}

plot::Figure curves_figure(const std::map<int, EpochCurve>& curves, int best_epoch) {
  plot::Figure f;
  f.height = 200;
  for (const auto& [stage, c] : curves) {
    plot::Panel p;
    p.title = stage == 1 ? "stage 1: train, validate" : "stage 2: train + val";
    p.x_label = "epoch";
    p.y_label = "validation accuracy (%)";
    p.series = {line("S", c.epoch, c.seen, seen_color(), plot::Marker::circle),
                line("U", c.epoch, c.unseen, unseen_color(), plot::Marker::square),
                line("HM", c.epoch, c.hm, hm_color(), plot::Marker::diamond)};
    if (stage == 1) p.vertical_lines.push_back({static_cast<double>(best_epoch + 1), "best", plot::Color{0x44, 0x44, 0x44}, true});
    p.legend = true;
    f.panels.push_back(std::move(p));
  }
  plot::Panel lr;
  lr.title = "learning rate";
  lr.x_label = "epoch";
  lr.y_label = "learning rate";
  lr.log_y = true;
  const plot::Marker markers[] = {plot::Marker::circle, plot::Marker::square};
  for (const auto& [stage, c] : curves) {
    plot::Series s = line("stage " + std::to_string(stage), c.epoch, c.lr, plot::qualitative_palette()[stage == 1 ? 4 : 6],
                          markers[stage == 1 ? 0 : 1]);
    // Both stages usually share the schedule: stage 1 wide and solid under stage 2 dashed, so both show.
    s.dashed = stage == 2;
    s.line_width = stage == 1 ? 3 : 1.25;
    lr.series.push_back(std::move(s));
  }
  lr.legend = true;
  f.panels.push_back(std::move(lr));
  return f;
}

plot::Figure beta_sweep_figure(const metrics::CalibratedStacking& validation, float chosen) {
  std::vector<double> beta, seen, unseen, hm;
  for (float b : metrics::reference_beta_grid()) {
    const metrics::GzslScores s = validation.evaluate(b);
    beta.push_back(b);
    seen.push_back(100 * s.seen);
    unseen.push_back(100 * s.unseen);
    hm.push_back(100 * s.hm);
  }
  plot::Panel p;
  p.title = "calibrated stacking on validation (stage-1 model)";
  p.x_label = "beta (added to seen-class distances)";
  p.y_label = "validation accuracy (%)";
  p.series = {line("S", beta, seen, seen_color(), plot::Marker::none), line("U", beta, unseen, unseen_color(), plot::Marker::none),
              line("HM", beta, hm, hm_color(), plot::Marker::none)};
  p.vertical_lines.push_back({chosen, fmt::format("chosen {:.2f}", chosen), plot::Color{0x44, 0x44, 0x44}, true});
  p.legend = true;
  plot::Figure f;
  f.width = 360;
  f.height = 220;
  f.panels.push_back(std::move(p));
  return f;
}

struct PerClassRow {
  std::string name;
  bool seen = false;
  int64_t videos = 0;
  double gzsl = 0, zsl = 0;  // percent
};

std::vector<PerClassRow> per_class_rows(const data::Dataset& dataset, const metrics::GzslScores& test) {
  std::vector<PerClassRow> rows;
  for (const auto& c : test.classes) {
    if (c.videos == 0) continue;
    rows.push_back({dataset.classes[c.class_id].name, c.seen, c.videos, 100.0 * c.gzsl_correct / c.videos,
                    c.seen ? std::nan("") : 100.0 * c.zsl_correct / c.videos});
  }
  std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.gzsl > b.gzsl; });
  return rows;
}

plot::Figure per_class_figure(const std::vector<PerClassRow>& rows) {
  plot::Panel p;
  p.title = "per-class test accuracy (GZSL, at the test beta), sorted";
  p.y_label = "accuracy (%)";
  size_t seen = 0;
  for (const auto& r : rows) {
    p.bars.push_back({r.name, r.gzsl, 0, r.seen ? seen_color() : unseen_color()});
    seen += r.seen;
  }
  p.x_label = fmt::format("classes ({} seen, {} unseen)", seen, rows.size() - seen);
  p.y_range = std::make_pair(0.0, 100.0);
  plot::Figure f;
  f.width = 504;
  f.height = rows.size() <= 60 ? 260 : 200;
  f.panels.push_back(std::move(p));
  f.legend = {{"seen class", seen_color(), plot::Marker::square, false},
              {"unseen class", unseen_color(), plot::Marker::square, false}};
  f.legend_right = false;
  return f;
}

// Where the test videos' GZSL predictions go, by group of the true and the predicted class.
struct ErrorFlow {
  int64_t seen_correct = 0, seen_to_seen = 0, seen_to_unseen = 0;
  int64_t unseen_correct = 0, unseen_to_unseen = 0, unseen_to_seen = 0;
};

ErrorFlow error_flow(const std::vector<int64_t>& predicted, const torch::Tensor& labels, const std::vector<int64_t>& seen) {
  ErrorFlow f;
  const auto y = labels.accessor<int64_t, 1>();
  auto is_seen = [&](int64_t c) { return std::binary_search(seen.begin(), seen.end(), c); };
  for (size_t i = 0; i < predicted.size(); ++i) {
    const int64_t truth = y[static_cast<int64_t>(i)], guess = predicted[i];
    if (is_seen(truth)) {
      (guess == truth ? f.seen_correct : is_seen(guess) ? f.seen_to_seen : f.seen_to_unseen)++;
    } else {
      (guess == truth ? f.unseen_correct : is_seen(guess) ? f.unseen_to_seen : f.unseen_to_unseen)++;
    }
  }
  return f;
}

plot::Figure error_flow_figure(const ErrorFlow& e) {
  plot::Panel p;
  p.title = "test predictions by group (GZSL, at the test beta)";
  p.y_label = "videos";
  p.x_label = "true class → predicted class";
  p.bars = {{"seen: right", static_cast<double>(e.seen_correct), 0, seen_color()},
            {"seen → other seen", static_cast<double>(e.seen_to_seen), 0, seen_color()},
            {"seen → unseen", static_cast<double>(e.seen_to_unseen), 0, unseen_color()},
            {"unseen: right", static_cast<double>(e.unseen_correct), 0, unseen_color()},
            {"unseen → other unseen", static_cast<double>(e.unseen_to_unseen), 0, unseen_color()},
            {"unseen → seen", static_cast<double>(e.unseen_to_seen), 0, seen_color()}};
  plot::Figure f;
  f.width = 360;
  f.height = 240;
  f.panels.push_back(std::move(p));
  f.legend = {{"predicted seen", seen_color(), plot::Marker::square, false},
              {"predicted unseen", unseen_color(), plot::Marker::square, false}};
  f.legend_right = false;
  return f;
}

std::string share(int64_t part, int64_t whole) {
  return whole == 0 ? "-" : fmt::format("{:.1f}%", 100.0 * static_cast<double>(part) / static_cast<double>(whole));
}

}  // namespace

namespace {

std::string name_of(const fs::path& run_dir) {
  return run_dir.filename().empty() ? run_dir.parent_path().filename().string() : run_dir.filename().string();
}

}  // namespace

TsneFigure write_tsne_figure(const fs::path& run_dir, const fs::path& out, const TsneFigureOptions& options) {
  plot::format_of(out);
  io::check_output_file(fs::absolute(out));
  check_tsne_options(options);
  const data::Dataset dataset = data::load_dataset(training::load_run_config(run_dir).data);
  training::OpenedRun run = training::open_run(run_dir, dataset);
  TsneFigure figure = make_tsne_figure(run, name_of(run_dir), dataset, options);
  plot::save(figure.figure, out);
  return figure;
}

WrittenReport write_run_report(const fs::path& run_dir, const fs::path& out_html, const RunReportOptions& options,
                               const util::LineSink& print) {
  io::check_output_file(fs::absolute(out_html));
  if (options.include_tsne) check_tsne_options(options.tsne);
  const training::TrainConfig config = training::load_run_config(run_dir);
  const data::Dataset dataset = data::load_dataset(config.data);
  training::OpenedRun run = training::open_run(run_dir, dataset);
  if (!run.stage2) {
    throw std::runtime_error(run_dir.string() + ": no stage-2 model (a --stage 1 run), so no test split to report");
  }
  const std::string run_name = name_of(run_dir);
  std::vector<NamedFigure> figures;
  std::vector<std::string> notes;
  HtmlPage page(fmt::format("avgzsl run {}: {} on {}", run_name, run.config.method, dataset.name));

  // Numbers, recomputed from the checkpoints exactly as `avgzsl evaluate` does.
  print("scoring the checkpoints");
  const training::ProtocolScoring scoring =
      training::score_protocol_models(*run.stage1.model, *run.stage2->model, run.sets, run.best_epoch);
  const metrics::CalibratedStacking& validation = scoring.validation;
  const metrics::CalibratedStacking& test = scoring.test;
  const training::ProtocolSummary& summary = scoring.summary;
  const float test_beta = scoring.test_beta;

  page.heading("Result (test split)");
  std::vector<std::vector<std::string>> result_rows = {result_cells(run.config.method, summary, true)};
  std::string baseline_note;
  try {
    result_rows.push_back(result_cells("training-free", training::evaluate_training_free(dataset), false));
  } catch (const std::runtime_error& e) {
    baseline_note = std::string("No training-free row: ") + e.what();
  }
  page.table({"", "S (%)", "U (%)", "HM (%)", "ZSL (%)", "beta", "best epoch (from 0)"}, result_rows);
  page.paragraph("S, U: mean per-class accuracy over seen and unseen test classes, calibrated stacking at the test beta " +
                 fmt::format("{:.4f}", test_beta) + " (from validation); HM their harmonic mean; ZSL: unseen classes only. "
                 "The training-free row scores CLIP/CLAP cosine similarities without training.");
  if (!baseline_note.empty()) page.paragraph(baseline_note);

  page.heading("Training curves");
  if (fs::exists(run_dir / "validation_metrics.csv")) {
    figures.push_back({"curves", curves_figure(read_epoch_curves(run_dir / "validation_metrics.csv"), run.best_epoch)});
    page.figure(plot::render_inline_svg(figures.back().figure),
                "Validation S, U and HM after each epoch, and the learning rate (ReduceLROnPlateau on validation HM). "
                "Stage 2 trains on the validation videos too, so its validation numbers are not held out.");
  } else {
    page.paragraph("This run has no validation_metrics.csv (imported from another implementation's checkpoints): no curves.");
  }

  page.heading("Calibration: the beta sweep");
  figures.push_back({"beta_sweep", beta_sweep_figure(validation, summary.validation.beta)});
  page.figure(plot::render_inline_svg(figures.back().figure),
              "S, U and HM of the stage-1 model on the validation split for each beta of the search grid "
              "(76 values from 0 to 5); the dashed line marks the beta with the best HM, which the test uses.");

  page.heading("Per-class test accuracy");
  const std::vector<PerClassRow> classes = per_class_rows(dataset, summary.test);
  figures.push_back({"per_class", per_class_figure(classes)});
  page.figure(plot::render_inline_svg(figures.back().figure), "GZSL accuracy of each test class, best first.");
  page.begin_details(fmt::format("the {} classes as a table", classes.size()));
  std::vector<std::vector<std::string>> class_rows;
  for (const auto& c : classes) {
    class_rows.push_back({c.name, c.seen ? "seen" : "unseen", std::to_string(c.videos), fmt::format("{:.2f}", c.gzsl),
                          c.seen ? "-" : fmt::format("{:.2f}", c.zsl)});
  }
  page.table({"class", "group", "videos", "GZSL (%)", "ZSL (%)"}, class_rows, 2);
  page.end_details();

  page.heading("Where the errors go");
  const ErrorFlow flow = error_flow(test.predicted_classes(test_beta), run.sets.test.labels, run.sets.test.seen);
  figures.push_back({"errors", error_flow_figure(flow)});
  const int64_t seen_total = flow.seen_correct + flow.seen_to_seen + flow.seen_to_unseen;
  const int64_t unseen_total = flow.unseen_correct + flow.unseen_to_unseen + flow.unseen_to_seen;
  page.table({"true class", "videos", "right", "wrong, same group", "wrong, other group"},
             {{"seen", std::to_string(seen_total), fmt::format("{} ({})", flow.seen_correct, share(flow.seen_correct, seen_total)),
               fmt::format("{} ({})", flow.seen_to_seen, share(flow.seen_to_seen, seen_total)),
               fmt::format("{} ({}) to unseen", flow.seen_to_unseen, share(flow.seen_to_unseen, seen_total))},
              {"unseen", std::to_string(unseen_total),
               fmt::format("{} ({})", flow.unseen_correct, share(flow.unseen_correct, unseen_total)),
               fmt::format("{} ({})", flow.unseen_to_unseen, share(flow.unseen_to_unseen, unseen_total)),
               fmt::format("{} ({}) to seen", flow.unseen_to_seen, share(flow.unseen_to_seen, unseen_total))}});
  page.figure(plot::render_inline_svg(figures.back().figure),
              "Test videos counted by their true class's group and where the GZSL prediction lands (video counts, "
              "not the per-class means of the table above).");

  if (options.include_tsne) {
    page.heading("t-SNE");
    print("t-SNE of the " + options.tsne.split + " split");
    const TsneFigure tsne = make_tsne_figure(run, run_name, dataset, options.tsne);
    figures.push_back({"tsne", tsne.figure});
    std::string caption = fmt::format("{} videos of {} classes of the {} split; one t-SNE map per panel, perplexity {}, seed {}.",
                                      tsne.videos, tsne.classes, options.tsne.split, options.tsne.perplexity, options.tsne.seed);
    for (const auto& note : tsne.notes) caption += " " + note + ".";
    notes = tsne.notes;
    page.figure(plot::render_inline_svg(tsne.figure), caption);
  }

  page.heading("Configuration");
  page.preformatted(io::read_file(run_dir / "config.json"));

  WrittenReport written;
  written.notes = notes;
  if (!baseline_note.empty()) written.notes.push_back(baseline_note);
  written.figures = write_figure_folder(figures, figure_folder_of(out_html));
  io::write_file_atomically(out_html, page.str());
  written.html = out_html;
  return written;
}

}  // namespace avgzsl::report
