#include "avgzsl/training/training_run.h"

#include <chrono>
#include <ctime>
#include <fmt/format.h>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "avgzsl/data/dataset.h"
#include "avgzsl/io/atomic_file.h"
#include "avgzsl/io/csv_table.h"
#include "avgzsl/gzsl/method_checkpoint.h"
#include "avgzsl/gzsl/method_registry.h"
#include "avgzsl/reference/reference_checkpoint.h"
#include "avgzsl/util/option_error.h"

namespace avgzsl::training {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Appends timestamped lines to the run's log and forwards them to the caller's sink.
class RunLog {
 public:
  RunLog(const fs::path& file, LineSink sink) : out_(file, std::ios::app), sink_(std::move(sink)) {
    if (!out_) throw std::runtime_error(file.string() + ": cannot open log for writing");
  }
  void line(const std::string& text) {
    const std::time_t now = std::time(nullptr);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", std::localtime(&now));
    out_ << '[' << stamp << "] " << text << '\n';
    out_.flush();
    if (sink_) sink_(text);
  }

 private:
  std::ofstream out_;
  LineSink sink_;
};

json scores_json(const metrics::GzslScores& s) {
  return {{"S", 100 * s.seen}, {"U", 100 * s.unseen}, {"HM", 100 * s.hm}, {"ZSL", 100 * s.zsl}, {"beta", s.beta}};
}

// One loss column per term of the method (ClipClap: loss_ce, loss_reg, loss_rec).
std::string epoch_csv_header(const EpochRecord& first) {
  std::string terms;
  for (const auto& [name, value] : first.terms) terms += ",loss_" + name;
  return "stage,epoch,lr,loss" + terms + ",val_S,val_U,val_HM,val_ZSL,val_beta,seconds\n";
}

std::string epoch_csv_row(const EpochRecord& r) {
  const auto& v = r.validation;
  std::string terms;
  for (const auto& [name, value] : r.terms) terms += fmt::format(",{:.6f}", value);
  return fmt::format("{},{},{:.6g},{:.6f}{},{:.4f},{:.4f},{:.4f},{:.4f},{:.4f},{:.3f}\n", r.stage, r.epoch,
                     r.learning_rate, r.loss, terms, 100 * v.seen, 100 * v.unseen, 100 * v.hm, 100 * v.zsl, v.beta,
                     r.seconds);
}

std::string epoch_line(const EpochRecord& r, int epochs) {
  const auto& v = r.validation;
  std::string terms;
  for (const auto& [name, value] : r.terms) terms += fmt::format("{}{} {:.4f}", terms.empty() ? " (" : " ", name, value);
  if (!terms.empty()) terms += ")";
  return fmt::format("stage {} epoch {:>2}/{}  loss {:.4f}{}  val S {:.2f} U {:.2f} "
                     "HM {:.2f} ZSL {:.2f} beta {:.2f}  lr {:.3g}  {:.1f}s",
                     r.stage, r.epoch + 1, epochs, r.loss, terms, 100 * v.seen, 100 * v.unseen, 100 * v.hm, 100 * v.zsl,
                     v.beta, r.learning_rate, r.seconds);
}

std::string per_class_csv(const data::Dataset& dataset, const metrics::GzslScores& test) {
  std::string out = "class_id,class,display_name,group,videos,gzsl_correct,gzsl_accuracy,zsl_correct,zsl_accuracy\n";
  for (const auto& c : test.classes) {
    const auto& info = dataset.classes[c.class_id];
    const std::string gzsl = c.videos > 0 ? fmt::format("{:.4f}", 100.0 * c.gzsl_correct / c.videos) : "";
    const std::string zsl_correct = c.seen ? "" : std::to_string(c.zsl_correct);
    const std::string zsl = (!c.seen && c.videos > 0) ? fmt::format("{:.4f}", 100.0 * c.zsl_correct / c.videos) : "";
    out += fmt::format("{},{},{},{},{},{},{},{},{}\n", c.class_id, io::csv_field(info.name), io::csv_field(info.display_name),
                       c.seen ? "seen" : "unseen", c.videos, c.gzsl_correct, gzsl, zsl_correct, zsl);
  }
  return out;
}

std::string summary_line(const ProtocolSummary& s) {
  return fmt::format("test: S {:.2f}  U {:.2f}  HM {:.2f}  ZSL {:.2f}  (beta {:.2f} from validation HM {:.2f}, best epoch {})",
                     100 * s.test.seen, 100 * s.test.unseen, 100 * s.test.hm, 100 * s.test.zsl, s.validation.beta,
                     100 * s.validation.hm, s.best_epoch);
}

json results_json(const data::Dataset& dataset, const TrainConfig& config, const ProtocolSummary& s, bool tested,
                  std::chrono::steady_clock::time_point started) {
  json r = {{"dataset", dataset.name},
            {"method", config.method},
            {"wall_seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()},
            {"units", "S, U, HM, ZSL in percent; beta added to seen-class distances"},
            {"best_epoch", s.best_epoch},
            {"stage1_epochs", config.epochs},
            {"stage2_epochs", s.best_epoch + 1},
            {"validation", scores_json(s.validation)},
            {"config", to_json(config)}};
  if (tested) {
    r["test"] = scores_json(s.test);
    r["test_beta_applied"] = metrics::reference_test_beta(s.validation.beta);
  }
  return r;
}

// Restores a ProtocolSummary's validation part from stage1.json.
ProtocolSummary stage1_summary_from(const json& info) {
  ProtocolSummary s;
  s.best_epoch = info.at("best_epoch").get<int>();
  return s;
}

}  // namespace

TrainingInputs prepare_training(TrainConfig config) {
  if (config.data.empty()) throw util::OptionError("data", "the dataset directory", " is required");
  config.validate();
  data::Dataset dataset = data::load_dataset(config.data);
  config.apply_paper_defaults(dataset.name);
  config.validate();
  const std::vector<std::string> leaks = data::video_leaks(dataset);
  if (!leaks.empty() && !config.allow_leakage) {
    std::string shown;
    for (size_t i = 0; i < std::min<size_t>(leaks.size(), 3); ++i) shown += (i ? "; " : "") + leaks[i];
    throw std::runtime_error(config.data + ": " + std::to_string(leaks.size()) + " videos leak between training and evaluation (" +
                             shown + (leaks.size() > 3 ? "; ..." : "") + "); fix the splits, or pass --allow-leakage to train on them knowingly");
  }
  return {std::move(config), std::move(dataset)};
}

TrainConfig load_run_config(const fs::path& run_dir) {
  if (!fs::is_directory(run_dir)) throw std::runtime_error(run_dir.string() + ": run directory not found");
  const fs::path path = run_dir / "config.json";
  TrainConfig config;
  try {
    apply_json(config, json::parse(io::read_file(path)), path.string());
  } catch (const json::exception& e) {
    throw std::runtime_error(path.string() + ": not valid JSON (" + e.what() + ")");
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(e.what());
  }
  return config;
}

TrainRunResult train_run(TrainConfig config, const fs::path& run_dir, const LineSink& print, bool replace_existing) {
  const auto started = std::chrono::steady_clock::now();  // results.json records this attempt's time
  const bool stage2_only = config.stage == "2";
  if (stage2_only) {
    // The run's own configuration is authoritative; only --threads and --data may differ.
    const fs::path stage1 = run_dir / "stage1.json";
    if (!fs::exists(stage1)) {
      throw std::runtime_error(stage1.string() + ": not found; --stage 2 continues a run made with --stage 1");
    }
    TrainConfig saved = load_run_config(run_dir);
    if (!config.data.empty()) saved.data = config.data;
    saved.threads = config.threads;
    saved.stage = "2";
    config = saved;
  }
  TrainingInputs inputs = prepare_training(std::move(config));
  config = std::move(inputs.config);
  const data::Dataset& dataset = inputs.dataset;
  const data::ProtocolSets sets = data::build_protocol_sets(dataset, config.modality, config.label_source());
  // W_enc's BatchNorm normalises the class texts of a training split over its classes; with one
  // class there is nothing to normalise over (and nothing to choose between).
  for (const auto& [split, set] : {std::pair<const char*, const data::TrainingSet*>{"stage_1_train", &sets.stage1_train},
                                   {"stage_2_train", &sets.stage2_train}}) {
    if (set->classes.size() < 2) {
      throw std::runtime_error(config.data + ": " + split + " has " + std::to_string(set->classes.size()) +
                               " class; training needs at least 2");
    }
  }

  json config_json = to_json(config);
  config_json["stage"] = config.stage == "2" ? "all" : config.stage;
  std::optional<io::StagedDirectory> staged;
  fs::path dir = run_dir;
  // A full run killed during stage 2 left stage 1's best model in its staging folder: when that
  // attempt had this very configuration, stage 1 is not trained again (docs: a killed run
  // restarts the stage it was in).
  bool resumed_after_stage1 = false;
  if (!stage2_only) {
    const fs::path partial = io::StagedDirectory::staging_path(run_dir);
    if (config.stage != "1" && fs::exists(partial / "stage1.json") && fs::exists(partial / "stage1.safetensors") &&
        fs::exists(partial / "config.json") && fs::exists(partial / "validation_metrics.csv")) {
      try {
        resumed_after_stage1 = json::parse(io::read_file(partial / "config.json")) == config_json;
      } catch (const std::exception&) {
        resumed_after_stage1 = false;   // unreadable: start afresh
      }
    }
    staged.emplace(run_dir, replace_existing, resumed_after_stage1);
    dir = staged->path();
  }
  const bool reuse_stage1 = stage2_only || resumed_after_stage1;
  RunLog log(dir / "train.log", print);
  log.line(fmt::format("avgzsl train: dataset '{}' ({} classes), {} threads", dataset.name, dataset.num_classes(),
                       at::get_num_threads()));
  log.line(fmt::format("method: {}", gzsl::method_spec(config.method).summary));
  log.line(fmt::format("config: {}", to_json(config).dump()));
  log.line(fmt::format("stage-1 train {} videos / {} classes, validation {} videos ({} seen + {} unseen classes), "
                       "stage-2 train {} videos / {} classes, test {} videos ({} seen + {} unseen classes)",
                       sets.stage1_train.inputs.size(0), sets.stage1_train.classes.size(), sets.validation.inputs.size(0),
                       sets.validation.seen.size(), sets.validation.unseen.size(), sets.stage2_train.inputs.size(0),
                       sets.stage2_train.classes.size(), sets.test.inputs.size(0), sets.test.seen.size(),
                       sets.test.unseen.size()));
  if (!stage2_only) io::write_file_atomically(dir / "config.json", config_json.dump(2) + "\n");
  if (resumed_after_stage1) log.line("resuming: stage 1 finished in an earlier attempt that was killed; stage 2 starts again");

  std::string metrics_csv;  // the header comes with the first epoch, which names the loss terms
  if (reuse_stage1) {
    // Keep the stage-1 rows of the earlier run.
    std::istringstream previous(io::read_file(dir / "validation_metrics.csv"));
    std::string line;
    if (std::getline(previous, line)) metrics_csv = line + "\n";
    while (std::getline(previous, line)) {
      if (line.rfind("1,", 0) == 0) metrics_csv += line + "\n";
    }
  }
  // Logs an epoch and rewrites the metrics file, so that a killed run keeps what it measured.
  auto epoch_reporter = [&](int epochs) {
    return [&, epochs](const EpochRecord& r) {
      log.line(epoch_line(r, epochs));
      if (metrics_csv.empty()) metrics_csv = epoch_csv_header(r);
      metrics_csv += epoch_csv_row(r);
      io::write_file_atomically(dir / "validation_metrics.csv", metrics_csv);
    };
  };

  TrainRunResult result;
  result.dataset_name = dataset.name;
  result.method = config.method;
  const gzsl::MethodDims dims = method_dims(sets);
  ModelPtr stage1_model;
  if (!reuse_stage1) {
    StageResult stage1 = train_stage(1, sets.stage1_train, sets.validation, sets.class_text, dims, config, config.epochs,
                                     epoch_reporter(config.epochs), "stage 1");
    stage1_model = model_from_state(config, dims, stage1.best_state);
    const metrics::GzslScores& best = stage1.epochs[stage1.best_epoch].validation;
    gzsl::save_method_checkpoint(dir / "stage1", *stage1_model,
                                     {{"stage", 1}, {"best_epoch", stage1.best_epoch}, {"validation", scores_json(best)}});
    result.summary.best_epoch = stage1.best_epoch;
    result.summary.validation = best;
    log.line(fmt::format("stage 1 done: best epoch {} (validation HM {:.2f} at beta {:.2f})", stage1.best_epoch,
                         100 * best.hm, best.beta));
  } else {
    gzsl::MethodCheckpoint ckpt = gzsl::load_method_checkpoint(dir / "stage1");
    stage1_model = ckpt.model;
    result.summary = stage1_summary_from(ckpt.info);
  }

  if (config.stage == "1") {
    io::write_file_atomically(dir / "results.json", results_json(dataset, config, result.summary, false, started).dump(2) + "\n");
    staged->commit();
    return result;
  }

  const int stage2_epochs = result.summary.best_epoch + 1;
  log.line(fmt::format("stage 2: training on train + val for {} epochs", stage2_epochs));
  StageResult stage2 = train_stage(2, sets.stage2_train, sets.validation, sets.class_text, dims, config, stage2_epochs,
                                   epoch_reporter(stage2_epochs), "stage 2");
  gzsl::save_method_checkpoint(dir / "stage2", *stage2.model, {{"stage", 2}, {"epochs", stage2_epochs}});

  result.summary = evaluate_protocol_models(*stage1_model, *stage2.model, sets, result.summary.best_epoch);
  result.tested = true;
  io::write_file_atomically(dir / "test_per_class.csv", per_class_csv(dataset, result.summary.test));
  log.line(summary_line(result.summary));
  io::write_file_atomically(dir / "results.json", results_json(dataset, config, result.summary, true, started).dump(2) + "\n");
  if (staged) staged->commit();
  return result;
}

OpenedRun open_run(const fs::path& run_dir, const data::Dataset& dataset, const std::string& expected_method) {
  if (!fs::is_directory(run_dir)) throw std::runtime_error(run_dir.string() + ": run directory not found");
  OpenedRun run;
  run.config = load_run_config(run_dir);
  if (!expected_method.empty() && run.config.method != expected_method) {
    throw std::runtime_error(run_dir.string() + ": a run of method " + run.config.method + ", not " + expected_method);
  }
  run.sets = data::build_protocol_sets(dataset, run.config.modality, run.config.label_source());
  auto check_method = [&](const gzsl::MethodCheckpoint& ckpt, const char* name) {
    if (ckpt.model->method_name() != run.config.method) {
      throw std::runtime_error((run_dir / name).string() + ": a " + ckpt.model->method_name() +
                               " model, but config.json says method " + run.config.method);
    }
  };
  run.stage1 = gzsl::load_method_checkpoint(run_dir / "stage1");
  check_method(run.stage1, "stage1.json");
  // A --stage 1 run has no stage-2 files at all; a half-present pair is an error of its own.
  if (fs::exists(run_dir / "stage2.json") || fs::exists(run_dir / "stage2.safetensors")) {
    run.stage2 = gzsl::load_method_checkpoint(run_dir / "stage2");
    check_method(*run.stage2, "stage2.json");
  }
  try {
    run.best_epoch = run.stage1.info.at("best_epoch").get<int>();
  } catch (const json::exception&) {
    throw std::runtime_error((run_dir / "stage1.json").string() + ": lacks 'best_epoch'");
  }
  return run;
}

TrainRunResult evaluate_run(const fs::path& run_dir, const data::Dataset& dataset, const std::string& expected_method) {
  OpenedRun run = open_run(run_dir, dataset, expected_method);
  if (!run.stage2) {
    throw std::runtime_error((run_dir / "stage2.json").string() + ": not found (a --stage 1 run has no stage-2 model to test)");
  }
  TrainRunResult result;
  result.dataset_name = dataset.name;
  result.method = run.config.method;
  result.summary = evaluate_protocol_models(*run.stage1.model, *run.stage2->model, run.sets, run.best_epoch);
  result.tested = true;
  return result;
}

void import_reference_run(TrainConfig config, const fs::path& stage1_pt, const fs::path& stage2_pt, const fs::path& run_dir,
                          const LineSink& print, bool replace_existing) {
  // Nothing is trained here: a published model is evaluated on the data as the release gives it.
  config.allow_leakage = true;
  TrainingInputs inputs = prepare_training(std::move(config));
  config = std::move(inputs.config);
  const data::Dataset& dataset = inputs.dataset;
  const data::ProtocolSets sets = data::build_protocol_sets(dataset, config.modality, config.label_source());
  const reference::ReferenceCheckpoint stage1 = reference::read_reference_checkpoint(stage1_pt);
  const reference::ReferenceCheckpoint stage2 = reference::read_reference_checkpoint(stage2_pt);
  // The widths come from the checkpoint (the reference's are 512 and 64); input and text sizes
  // from the dataset and the options, so a model trained on other inputs fails with both shapes.
  for (const auto& [name, tensor] : stage1.state) {
    if (name == "O_enc.fc.0.weight") config.hidden_dim = static_cast<int>(tensor.size(0));
    if (name == "O_proj.fc.4.weight") config.embedding_dim = static_cast<int>(tensor.size(0));
  }
  const gzsl::MethodDims dims = method_dims(sets);
  if (stage1.epoch < 1) throw std::runtime_error(stage1_pt.string() + ": no 'epoch' entry (the best stage-1 epoch + 1)");
  const int best_epoch = static_cast<int>(stage1.epoch - 1);
  std::vector<std::string> ignored;
  ModelPtr stage1_model, stage2_model;
  if (config.method == "clipclap") {
    const gzsl::ClipClapOptions options = clipclap_options(config, dims);
    stage1_model = reference::clipclap_from_reference(stage1, options, stage1_pt.string(), &ignored).ptr();
    stage2_model = reference::clipclap_from_reference(stage2, options, stage2_pt.string(), &ignored).ptr();
  } else {
    // The baselines' original code saves the same dict; their state_dict names are ours.
    stage1_model = model_from_state(config, dims, stage1.state);
    stage2_model = model_from_state(config, dims, stage2.state);
  }

  io::StagedDirectory staged(run_dir, replace_existing);
  RunLog log(staged.path() / "train.log", print);
  log.line(fmt::format("avgzsl import-checkpoint: dataset '{}', modality {}, labels {}", dataset.name,
                       to_string(config.modality), to_string(config.label_source())));
  log.line(fmt::format("stage 1: {} (epoch entry {}: best epoch {})", stage1_pt.string(), stage1.epoch, best_epoch));
  log.line(fmt::format("stage 2: {} (epoch entry {})", stage2_pt.string(), stage2.epoch));
  if (!ignored.empty()) log.line(fmt::format("ignored {} tensors the model does not have, e.g. '{}'", ignored.size(), ignored.front()));
  json config_json = to_json(config);
  config_json["stage"] = "all";
  io::write_file_atomically(staged.path() / "config.json", config_json.dump(2) + "\n");
  gzsl::save_method_checkpoint(staged.path() / "stage1", *stage1_model,
                                   {{"stage", 1}, {"best_epoch", best_epoch}, {"imported_from", fs::absolute(stage1_pt).string()}});
  gzsl::save_method_checkpoint(staged.path() / "stage2", *stage2_model,
                                   {{"stage", 2}, {"epochs", best_epoch + 1}, {"imported_from", fs::absolute(stage2_pt).string()}});
  staged.commit();
}

}  // namespace avgzsl::training
