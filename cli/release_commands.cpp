// `import-clipclap`, `export` and `import-checkpoint`: the reference implementation's feature
// release and trained models, in and out.
#include <fmt/format.h>

#include <chrono>
#include <memory>
#include <optional>

#include "avgzsl/reference/clipclap_release.h"
#include "avgzsl/data/dataset.h"
#include "avgzsl/training/training_run.h"
#include "avgzsl/util/progress.h"
#include "avgzsl/util/threads.h"
#include "commands.h"
#include "print_line.h"
#include "training_options.h"

namespace avgzsl::cli {

namespace {

std::string layouts_text() {
  std::string s;
  for (const std::string& l : reference::clipclap_release_layouts()) s += (s.empty() ? "" : "|") + l;
  return s;
}

void print_dataset_summary(const data::Dataset& d) {
  fmt::print("{}: {} classes; features visual {} audio {}; class text CLIP {} CLAP {}\n", d.name, d.num_classes(),
             d.visual_dim, d.audio_dim, d.clip_dim, d.clap_dim);
  for (const char* split : data::kClassSplitNames) {
    const auto it = d.video_splits.find(split);
    const std::string videos = it == d.video_splits.end() ? "" : fmt::format(", {:>6} videos", it->second.size());
    fmt::print("  {:<20} {:>4} classes{}\n", split, d.class_split(split).size(), videos);
  }
}

}  // namespace

void add_import_clipclap_command(CLI::App& app) {
  struct Args {
    reference::ClipClapImportOptions options;
    std::string text_rows = "reference";
    std::string out;
    bool force = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* c = app.add_subcommand("import-clipclap", "read the reference's feature release (METHOD §9) into a native dataset");
  c->add_option("--root", args->options.root, "release root of one dataset (holds class-split/ and features/)")->required();
  c->add_option("--dataset", args->options.dataset, layouts_text() + " (picks the release's file names)")->required();
  c->add_option("--split", args->options.split, "class split folder: cls_split (default) or main_split");
  c->add_option("--features", args->options.features, "folder under features/ (default cls_features_non_averaged)");
  c->add_option("--class-text", args->text_rows,
                "which embedding row each class gets: reference (default; the reference's rule, reproduces its numbers) "
                "or by-name (each class its own display name's embedding)");
  c->add_option("--out", args->out, "native dataset directory to create")->required();
  c->add_flag("--force", args->force, "replace an existing directory");
  c->callback([args] {
    args->options.text_rows = reference::parse_class_text_rows(args->text_rows);
    data::check_dataset_destination(args->out, args->force);
    const auto start = std::chrono::steady_clock::now();
    std::optional<util::Progress> bar;
    const reference::ClipClapImport imported = reference::import_clipclap_release(args->options, [&](int64_t done, int64_t total) {
      if (!bar) bar.emplace("import", total, "class files", util::stderr_is_terminal());
      bar->update(done);
    });
    if (bar) bar->finish();
    data::save_dataset(imported.dataset, args->out, args->force);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    print_dataset_summary(imported.dataset);
    for (const std::string& note : imported.notes) print_line("note: " + note);
    // The reference trains on such a release as it is; its users should know what leaks.
    const std::vector<std::string> leaks = data::video_leaks(imported.dataset);
    if (!leaks.empty()) {
      print_line(fmt::format("note: {} videos leak between training and evaluation splits (train refuses this dataset "
                             "unless --allow-leakage):", leaks.size()));
      for (const std::string& leak : leaks) print_line("  " + leak);
    }
    fmt::print("read {:.1f} MB in {:.1f} s; wrote {}\n", imported.bytes_read / 1e6, seconds, args->out);
  });
}

void add_export_command(CLI::App& app) {
  struct Args {
    std::string format = "clipclap";
    std::string data;
    std::string layout;
    std::string split = "cls_split";
    std::string text_rows = "reference";
    std::string out;
    bool force = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* c = app.add_subcommand("export", "write a native dataset in another codebase's layout");
  c->add_option("--format", args->format, "clipclap: the reference's feature release layout (METHOD §9)")->check(CLI::IsMember({"clipclap"}));
  c->add_option("--data", args->data, "native dataset directory")->required();
  c->add_option("--layout", args->layout, layouts_text() + ": the release file names to use (default: the dataset's name)");
  c->add_option("--split", args->split, "class split folder name (default cls_split)");
  c->add_option("--class-text", args->text_rows,
                "how class-text vectors are keyed: reference (default; the reference's row rule reads back each class's "
                "own vector, and an imported release is written back as it was) or by-name (each under its own display name)");
  c->add_option("--out", args->out, "release root to create")->required();
  c->add_flag("--force", args->force, "replace an existing directory");
  c->callback([args] {
    const data::Dataset d = data::load_dataset(args->data);
    const std::string layout = args->layout.empty() ? d.name : args->layout;
    const reference::ClassTextRows rows = reference::parse_class_text_rows(args->text_rows);
    const int64_t moved = reference::export_clipclap_release(d, args->out, layout, args->split, "cls_features_non_averaged", args->force, rows);
    if (moved > 0) {
      print_line(fmt::format("note: {} of {} class-text vectors are stored under another class's display name, so that "
                             "the reference's row rule gives each class its own (--class-text by-name keys them by name)",
                             moved, d.num_classes()));
    }
    fmt::print("wrote {} in the ClipClap release layout ({} file names) to {}\n", d.name, layout, args->out);
  });
}

void add_import_checkpoint_command(CLI::App& app) {
  struct Args {
    TrainingOptions options;
    std::string stage1, stage2, out;
    bool force = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* c = app.add_subcommand(
      "import-checkpoint", "turn the reference's trained models (torch.save files) into a run that `avgzsl evaluate` scores");
  args->options.add_to(c, /*with_stage=*/false);
  c->add_option("--stage1", args->stage1, "stage-1 best model, e.g. ClipClap_model_score.pt")->required();
  c->add_option("--stage2", args->stage2, "stage-2 model, e.g. checkpoints/ClipClap_model_score_ckpt_<E>.pt")->required();
  c->add_option("--out", args->out, "run directory to create")->required();
  c->add_flag("--force", args->force, "replace an existing run directory");
  c->callback([args] {
    const training::TrainConfig config = args->options.resolve();
    util::configure_threads(config.threads);
    training::import_reference_run(config, args->stage1, args->stage2, args->out, print_line, args->force);
    fmt::print("run directory: {}  (score it with: avgzsl evaluate --run {})\n", args->out, args->out);
  });
}

}  // namespace avgzsl::cli
