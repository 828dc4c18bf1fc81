#include "training_options.h"

#include <memory>


namespace avgzsl::cli {

namespace {

// Binds an option to a value that is recorded under `key` only when the user gave it.
template <typename T>
std::function<void(nlohmann::json&)> bind(CLI::App* command, const std::string& key, const std::string& help) {
  auto value = std::make_shared<T>();
  CLI::Option* option = command->add_option("--" + key, *value, help);
  return [option, value, key](nlohmann::json& out) {
    if (option->count() > 0) out[key] = *value;
  };
}

}  // namespace

void TrainingOptions::add_to(CLI::App* c, bool with_stage) {
  c->add_option("--config", config_file_, "JSON file with the same keys as these options (command line wins)");
  collectors_.push_back(bind<std::string>(c, "data", "dataset directory in the native format"));
  collectors_.push_back(bind<std::string>(c, "method",
                                          "clipclap (default), cjme, avgzslnet, avca, hyper-multiple, ale, sje or devise"));
  auto settings = std::make_shared<std::vector<std::string>>();
  c->add_option("--set", *settings,
                "KEY=VALUE: one of the method's own hyper-parameters, under its original name (e.g. margin=0.5); "
                "repeatable; not for clipclap, whose are --hidden-dim, --embedding-dim, --dropout, --losses");
  collectors_.push_back([settings](nlohmann::json& out) {
    for (const std::string& setting : *settings) {
      const size_t eq = setting.find('=');
      if (eq == std::string::npos || eq == 0) {
        throw std::invalid_argument("--set '" + setting + "': expected KEY=VALUE");
      }
      const std::string value = setting.substr(eq + 1);
      // Numbers and booleans as JSON, anything else as text.
      nlohmann::json parsed = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
      if (parsed.is_discarded() || !(parsed.is_number() || parsed.is_boolean())) parsed = value;
      out["method-options"][setting.substr(0, eq)] = parsed;
    }
  });
  if (with_stage) collectors_.push_back(bind<std::string>(c, "stage", "1, 2 or all (default all)"));
  collectors_.push_back(bind<int>(c, "epochs", "stage-1 epochs (default: the method's paper setting; ClipClap UCF 20, "
                                              "ActivityNet/VGGSound 15)"));
  collectors_.push_back(bind<double>(c, "lr", "Adam learning rate (default: the method's paper setting; ClipClap UCF "
                                              "7e-5, others 1e-4)"));
  collectors_.push_back(bind<int>(c, "batch-size", "videos per batch (default: the method's; ClipClap 64)"));
  collectors_.push_back(bind<int>(c, "batches-per-epoch", "batches per epoch (default: the method's; ClipClap 300)"));
  collectors_.push_back(bind<uint64_t>(c, "seed", "random seed (default 42)"));
  collectors_.push_back(bind<int>(c, "threads", "LibTorch threads, 0 = all cores (default 0)"));
  collectors_.push_back(bind<std::string>(c, "modality", "audio, visual or both (default both)"));
  collectors_.push_back(bind<std::string>(c, "labels", "clip, clap or both (default: matches the modality)"));
  collectors_.push_back(bind<std::string>(c, "losses", "subset of ce,reg,rec (default ce,reg,rec)"));
  collectors_.push_back(bind<double>(c, "weight-decay", "Adam weight decay (default: the method's; ClipClap 1e-5)"));
  collectors_.push_back(bind<int>(c, "plateau-patience", "epochs without HM gain before the lr drops (default 3)"));
  collectors_.push_back(bind<double>(c, "plateau-factor", "lr multiplier on a plateau (default 0.1)"));
  collectors_.push_back(bind<int>(c, "hidden-dim", "hidden width of the model (default 512)"));
  collectors_.push_back(bind<int>(c, "embedding-dim", "joint embedding size (default 64)"));
  collectors_.push_back(bind<double>(c, "dropout", "dropout of every block (default 0.1)"));
  auto allow = std::make_shared<bool>(false);
  c->add_flag("--allow-leakage", *allow, "train although videos are in both a training and an evaluation split");
  collectors_.push_back([allow](nlohmann::json& out) {
    if (*allow) out["allow-leakage"] = true;
  });
}

training::TrainConfig TrainingOptions::resolve() const {
  training::TrainConfig config;
  if (!config_file_.empty()) training::apply_json_file(config, config_file_);
  nlohmann::json given = nlohmann::json::object();
  for (const auto& collect : collectors_) collect(given);
  // --set adds to the config file's method options instead of replacing them.
  if (given.contains("method-options")) {
    nlohmann::json merged = config.method_options;
    merged.update(given["method-options"]);
    given["method-options"] = merged;
  }
  training::apply_json(config, given, "command line");
  return config;
}

}  // namespace avgzsl::cli
