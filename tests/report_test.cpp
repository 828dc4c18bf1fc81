// `avgzsl report` and `avgzsl tsne` as a library: the files a run's report writes, that they hold
// what they claim (the page's numbers are evaluate's, the SVGs have one point per video), and
// the refusals (bad options, unknown classes, a run without a test split, unwritable output) that
// leave nothing half-written behind.
#include <gtest/gtest.h>

#include <pugixml.hpp>

#include <fmt/format.h>
#include <fstream>

#include "avgzsl/io/atomic_file.h"
#include "avgzsl/report/table_report.h"
#include "avgzsl/training/ablation.h"
#include "avgzsl/training/benchmark.h"
#include "avgzsl/training/training_run.h"
#include "error_text.h"
#include "test_support.h"

namespace avgzsl {
namespace report_test {
namespace fs = std::filesystem;

const auto quiet = [](const std::string&) {};

training::TrainConfig tiny_config(const fs::path& data) {
  training::TrainConfig c = testing::tiny_train_config(data);
  c.threads = 1;
  return c;
}

report::TsneFigureOptions small_tsne() {
  report::TsneFigureOptions o;
  o.per_class = 8;
  o.max_classes = 4;
  o.perplexity = 5;
  return o;
}

size_t count_class(const pugi::xml_node& root, const char* cls) {
  return root.select_nodes(fmt::format("//*[@class='{}']", cls).c_str()).size();
}

std::vector<std::string> legend_texts(const pugi::xml_document& svg) {
  std::vector<std::string> out;
  for (const auto& entry : svg.select_nodes("//*[@class='legend-entry']")) {
    std::string text;
    for (const auto& t : entry.node().select_nodes(".//*[local-name()='text']")) text += t.node().text().get();
    out.push_back(text);
  }
  return out;
}

class RunReport : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir;
    data::save_dataset(testing::tiny_dataset(7), *dir_ / "data");
    trained_ = new training::TrainRunResult(training::train_run(tiny_config(*dir_ / "data"), *dir_ / "run", quiet));
  }
  static void TearDownTestSuite() {
    delete trained_;
    delete dir_;
  }
  static fs::path dir() { return dir_->path(); }
  static const training::TrainRunResult& trained() { return *trained_; }

 private:
  static testing::TempDir* dir_;
  static training::TrainRunResult* trained_;
};
testing::TempDir* RunReport::dir_ = nullptr;
training::TrainRunResult* RunReport::trained_ = nullptr;

TEST_F(RunReport, WritesOneSelfContainedPageAndEveryFigureBesideIt) {
  report::RunReportOptions options;
  options.tsne = small_tsne();
  const report::WrittenReport written = report::write_run_report(dir() / "run", dir() / "out" / "report.html", options, quiet);
  EXPECT_EQ(written.html, dir() / "out" / "report.html");
  const std::string html = io::read_file(written.html);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  // Self-contained: no script, no stylesheet or image fetched, no address but the SVG namespace.
  for (const char* external : {"<script", "<link", "src=", "<img", "url("}) EXPECT_EQ(html.find(external), std::string::npos) << external;
  std::string without_namespace = html;
  for (size_t at; (at = without_namespace.find("http://www.w3.org/")) != std::string::npos;) without_namespace.erase(at, 18);
  EXPECT_EQ(without_namespace.find("http"), std::string::npos);
  // Five figures inline, the same five beside the page as SVG and PNG.
  size_t inline_svgs = 0;
  for (size_t at = 0; (at = html.find("<svg", at)) != std::string::npos; ++at) ++inline_svgs;
  EXPECT_EQ(inline_svgs, 5u);
  ASSERT_EQ(written.figures.size(), 10u);
  for (const char* name : {"curves", "beta_sweep", "per_class", "errors", "tsne"}) {
    for (const char* ext : {".svg", ".png"}) {
      const fs::path f = dir() / "out" / "report_files" / (std::string(name) + ext);
      EXPECT_TRUE(fs::is_regular_file(f)) << f;
    }
    pugi::xml_document svg;
    EXPECT_TRUE(svg.load_file((dir() / "out" / "report_files" / (std::string(name) + ".svg")).c_str())) << name;
  }
  EXPECT_EQ(io::read_file(dir() / "out" / "report_files" / "tsne.png").substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  // The page's numbers are evaluate's: the run's HM to two decimals in the result table.
  EXPECT_NE(html.find(fmt::format("<td class=\"num\">{:.2f}</td>", 100 * trained().summary.test.hm)), std::string::npos);
  // One bar per test class with videos; the error flow counts every test video once.
  pugi::xml_document per_class;
  per_class.load_file((dir() / "out" / "report_files" / "per_class.svg").c_str());
  size_t classes_with_videos = 0;
  for (const auto& c : trained().summary.test.classes) classes_with_videos += c.videos > 0;
  EXPECT_EQ(count_class(per_class, "bar"), classes_with_videos);
  EXPECT_NE(html.find("Where the errors go"), std::string::npos);
  EXPECT_NE(html.find("&quot;method&quot;: &quot;clipclap&quot;"), std::string::npos);  // the resolved config
}

TEST_F(RunReport, TsneFigureHasOnePointPerVideoAndTheClassTextsAsDiamonds) {
  report::TsneFigureOptions o = small_tsne();
  const report::TsneFigure f = report::write_tsne_figure(dir() / "run", dir() / "tsne.svg", o);
  EXPECT_EQ(f.classes, 4);
  EXPECT_GT(f.videos, 4 * 3);
  EXPECT_LE(f.videos, 4 * 8);
  pugi::xml_document svg;
  ASSERT_TRUE(svg.load_file((dir() / "tsne.svg").c_str()));
  EXPECT_EQ(count_class(svg, "panel"), 3u);  // audio, visual, learned embeddings
  // Panels (a) and (b): one point per video each; (c): the videos and one diamond per class.
  EXPECT_EQ(count_class(svg, "point"), static_cast<size_t>(3 * f.videos + f.classes));
  const std::vector<std::string> legend = legend_texts(svg);
  ASSERT_EQ(legend.size(), 4u + 2u);
  // Without --classes: the split's first classes by id, named as the dataset names them.
  const data::Dataset dataset = data::load_dataset(dir() / "data");
  const training::OpenedRun run = training::open_run(dir() / "run", dataset);
  EXPECT_EQ(legend[0], dataset.classes[run.sets.test.unseen[0]].name);
  EXPECT_EQ(legend[3], dataset.classes[run.sets.test.unseen[3]].name);
  EXPECT_EQ(legend[4], "video embedding");
  // Deterministic for a seed; another seed draws another figure.
  // (Files compared as booleans: a failure should not print two whole SVGs.)
  report::write_tsne_figure(dir() / "run", dir() / "again.svg", o);
  EXPECT_TRUE(io::read_file(dir() / "tsne.svg") == io::read_file(dir() / "again.svg"));
  // The seed draws the videos of a class that has more than --per-class.
  o.per_class = 2;
  report::write_tsne_figure(dir() / "run", dir() / "seed0.svg", o);
  o.seed = 1;
  report::write_tsne_figure(dir() / "run", dir() / "seed1.svg", o);
  EXPECT_FALSE(io::read_file(dir() / "seed0.svg") == io::read_file(dir() / "seed1.svg"));
  // PDF and PNG from the same figure.
  o.seed = 0;
  report::write_tsne_figure(dir() / "run", dir() / "tsne.pdf", o);
  const std::string pdf = io::read_file(dir() / "tsne.pdf");
  EXPECT_EQ(pdf.rfind("%PDF-", 0), 0u);
  EXPECT_NE(pdf.find("%%EOF", pdf.size() - 8), std::string::npos);
}

TEST_F(RunReport, NamedClassesAreShownAndUnknownOnesRefused) {
  const data::Dataset dataset = data::load_dataset(dir() / "data");
  training::OpenedRun run = training::open_run(dir() / "run", dataset);
  report::TsneFigureOptions o = small_tsne();
  const int64_t first = run.sets.test.unseen.front(), second = run.sets.test.unseen.back();
  o.classes = dataset.classes[second].name + ", " + dataset.classes[first].name;
  const report::TsneFigure f = report::make_tsne_figure(run, "run", dataset, o);
  ASSERT_EQ(f.figure.legend.size(), 4u);
  EXPECT_EQ(f.figure.legend[0].label, dataset.classes[second].name);  // in the order asked for
  // A name with commas in it (as VGGSound has) is taken whole, beside the list's separators.
  data::Dataset renamed = dataset;
  renamed.classes[first].name = "alligators, crocodiles hissing";
  o.classes = "alligators, crocodiles hissing," + dataset.classes[second].name;
  const report::TsneFigure with_commas = report::make_tsne_figure(run, "run", renamed, o);
  ASSERT_EQ(with_commas.classes, 2);
  EXPECT_EQ(with_commas.figure.legend[0].label, "alligators, crocodiles hissing");
  o.classes = "alligators, " + dataset.classes[second].name;
  EXPECT_EQ(testing::typed_error_of([&] { report::make_tsne_figure(run, "run", renamed, o); }),
            "invalid_argument: unknown class 'alligators' (not a class of dataset " + dataset.name + ")");
  o.classes = "NoSuchClass";
  EXPECT_EQ(testing::typed_error_of([&] { report::make_tsne_figure(run, "run", dataset, o); }),
            "invalid_argument: unknown class 'NoSuchClass' (not a class of dataset " + dataset.name + ")");
  // A seen class has no videos in test-unseen.
  o.classes = dataset.classes[run.sets.test.seen.front()].name;
  EXPECT_NE(testing::typed_error_of([&] { report::make_tsne_figure(run, "run", dataset, o); })
                .find("has no videos in split test-unseen"),
            std::string::npos);
  o.classes = "";
  o.perplexity = 500;
  EXPECT_NE(testing::typed_error_of([&] { report::make_tsne_figure(run, "run", dataset, o); })
                .find("--perplexity 500 must be below the number of points"),
            std::string::npos);
  // Features that are all equal (videos without audio stored as zeros) have nothing to map.
  o.perplexity = 5;
  run.sets.test.inputs.narrow(1, run.sets.visual_dim, run.sets.audio_dim).zero_();
  EXPECT_EQ(testing::typed_error_of([&] { report::make_tsne_figure(run, "run", dataset, o); }),
            "invalid_argument: t-SNE of the audio features: t-SNE: the points are all identical, nothing to embed");
}

TEST_F(RunReport, BadOptionsAndOutputsAreRefusedBeforeAnythingIsWritten) {
  report::TsneFigureOptions o = small_tsne();
  o.per_class = 0;
  EXPECT_EQ(testing::typed_error_of([&] { report::write_tsne_figure(dir() / "run", dir() / "x.png", o); }),
            "invalid_argument: the number of videos per class must be at least 1, got 0");
  o = small_tsne();
  o.split = "train";
  EXPECT_NE(testing::typed_error_of([&] { report::write_tsne_figure(dir() / "run", dir() / "x.png", o); })
                .find("must be one of test-unseen, test, val-unseen, val"),
            std::string::npos);
  EXPECT_NE(testing::typed_error_of([&] { report::write_tsne_figure(dir() / "run", dir() / "x.jpg", small_tsne()); })
                .find("x.jpg"),
            std::string::npos);
  // An output folder that cannot exist (under a regular file).
  io::write_file_atomically(dir() / "a_file", "x");
  EXPECT_NE(testing::typed_error_of([&] {
              report::write_run_report(dir() / "run", dir() / "a_file" / "report.html", {}, quiet);
            }).find((dir() / "a_file").string()),
            std::string::npos);
  // A failure late in the work (the t-SNE comes after every other figure) leaves no page and no folder.
  report::RunReportOptions late;
  late.tsne = small_tsne();
  late.tsne.classes = "NoSuchClass";
  EXPECT_THROW(report::write_run_report(dir() / "run", dir() / "late" / "report.html", late, quiet), std::invalid_argument);
  EXPECT_FALSE(fs::exists(dir() / "late" / "report.html"));
  EXPECT_FALSE(fs::exists(dir() / "late" / "report_files"));
  EXPECT_FALSE(fs::exists(dir() / "x.png"));
}

TEST(RunReportRefusals, ARunWithoutATestSplitAndAOneModalityRun) {
  testing::TempDir tmp;
  data::save_dataset(testing::tiny_dataset(8), tmp / "data");
  training::TrainConfig c = tiny_config(tmp / "data");
  c.stage = "1";
  training::train_run(c, tmp / "stage1", quiet);
  EXPECT_EQ(testing::typed_error_of([&] { report::write_run_report(tmp / "stage1", tmp / "r.html", {}, quiet); }),
            "runtime_error: " + (tmp / "stage1").string() + ": no stage-2 model (a --stage 1 run), so no test split to report");
  report::TsneFigureOptions o = small_tsne();
  EXPECT_NE(testing::typed_error_of([&] { report::write_tsne_figure(tmp / "stage1", tmp / "t.svg", o); })
                .find("no stage-2 model (a --stage 1 run), so no test split to draw; use --split val-unseen"),
            std::string::npos);
  // Its validation split can be drawn with the stage-1 model.
  o.split = "val-unseen";
  EXPECT_EQ(report::write_tsne_figure(tmp / "stage1", tmp / "t.svg", o).figure.panels.size(), 3u);
  EXPECT_FALSE(fs::exists(tmp / "r.html"));

  // An audio-only run has no visual panel, and says so.
  training::TrainConfig audio = tiny_config(tmp / "data");
  audio.modality = data::Modality::kAudio;
  training::train_run(audio, tmp / "audio", quiet);
  const report::TsneFigure f = report::write_tsne_figure(tmp / "audio", tmp / "audio.svg", small_tsne());
  ASSERT_EQ(f.figure.panels.size(), 2u);
  EXPECT_EQ(f.figure.panels[0].title, "(a) audio features");
  EXPECT_EQ(f.figure.panels[1].title, "(b) learned embeddings");
  ASSERT_EQ(f.notes.size(), 1u);
  EXPECT_EQ(f.notes[0], "no visual panel: the run uses no visual features");
}

TEST(TableReports, AblationAndBenchmarkTablesWithHmBarsAndErrorBars) {
  testing::TempDir tmp;
  data::save_dataset(testing::tiny_dataset(9), tmp / "data");
  // The benchmark's own writer: two methods, two seeds.
  training::BenchmarkPlan plan;
  plan.data = (tmp / "data").string();
  plan.methods = {"clipclap", "devise"};
  plan.seeds = 2;
  plan.epochs = 1;
  plan.batches_per_epoch = 3;
  const auto rows = training::run_benchmark(plan, tmp / "bench", 1, 1, 1, quiet);
  // Two methods; the tiny dataset's class texts do not match its features' widths, so the table
  // has no training-free row.
  ASSERT_EQ(rows.size(), 2u);
  report::write_benchmark_report(tmp / "bench", tmp / "bench.html", quiet);
  pugi::xml_document svg;
  ASSERT_TRUE(svg.load_file((tmp / "bench_files" / "hm.svg").c_str()));
  EXPECT_EQ(count_class(svg, "bar"), 2u);
  // An error bar wherever the seeds disagree (a zero spread draws none).
  size_t spread = 0;
  for (const auto& row : rows) spread += row.runs[0].test.hm != row.runs[1].test.hm;
  EXPECT_EQ(count_class(svg, "error-bar"), spread);
  const std::string html = io::read_file(tmp / "bench.html");
  EXPECT_NE(html.find(training::format_mean_std({100 * rows[0].runs[0].test.hm, 100 * rows[0].runs[1].test.hm}, 2)),
            std::string::npos);
  EXPECT_TRUE(fs::is_regular_file(tmp / "bench_files" / "hm.png"));

  // The ablation's own writer, with a row that does not apply.
  training::TrainConfig base = tiny_config(tmp / "data");
  base.method = "devise";
  base.epochs = 1;
  base.batches_per_epoch = 2;
  base.batch_size = 0;
  base.weight_decay = -1;
  std::vector<training::AblationRow> ablation;
  for (const auto& v : training::ablation_variants(base)) {
    if (ablation.size() == 3) break;
    ablation.push_back({v, {}});
  }
  for (auto& row : ablation) {
    if (!row.variant.not_applicable.empty()) continue;
    row.runs = {rows[1].runs[0], rows[1].runs[1]};
  }
  training::write_ablation_json(tmp / "ablation.json", ablation);
  report::write_ablation_report(tmp / "ablation.json", tmp / "ablation.html", quiet);
  const std::string page = io::read_file(tmp / "ablation.html");
  size_t applicable = 0;
  for (const auto& row : ablation) {
    applicable += row.variant.not_applicable.empty();
    if (!row.variant.not_applicable.empty()) EXPECT_NE(page.find("not applicable"), std::string::npos);
  }
  pugi::xml_document chart;
  ASSERT_TRUE(chart.load_file((tmp / "ablation_files" / "hm.svg").c_str()));
  EXPECT_EQ(count_class(chart, "bar"), applicable);

  // Not a table of either kind.
  io::write_file_atomically(tmp / "bad.json", "{\"rows\": 3}");
  EXPECT_NE(testing::typed_error_of([&] { report::write_ablation_report(tmp / "bad.json", tmp / "x.html", quiet); })
                .find("bad.json: not a table of `ablate --json`"),
            std::string::npos);
  EXPECT_NE(testing::typed_error_of([&] { report::write_benchmark_report(tmp / "data", tmp / "x.html", quiet); })
                .find("results.json: not found"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(tmp / "x.html"));
}

}  // namespace report_test
}  // namespace avgzsl
