#include "avgzsl/training/train_config.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "avgzsl/io/atomic_file.h"
#include "avgzsl/util/option_error.h"

namespace avgzsl::training {
using nlohmann::json;

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

void TrainConfig::apply_paper_defaults(const std::string& dataset_name) {
  const std::string name = lower(dataset_name);
  const bool large = name.find("activitynet") != std::string::npos || name.find("vggsound") != std::string::npos;
  if (epochs == 0) epochs = large ? 15 : 20;
  if (lr == 0) lr = large ? 1e-4 : 7e-5;
}

void TrainConfig::validate() const {
  // Keys are the option names (and config-file keys); the CLI shows them as flags.
  auto require = [](bool ok, const char* option, const char* meaning, const std::string& problem) {
    if (!ok) throw util::OptionError(option, meaning, problem);
  };
  require(stage == "1" || stage == "2" || stage == "all", "stage", "the stage", " must be 1, 2 or all, got '" + stage + "'");
  require(epochs >= 0 && epochs <= 10000, "epochs", "the number of epochs", " must be between 1 and 10000 (0: the paper's)");
  require(lr >= 0 && lr < 10, "lr", "the learning rate", " must be positive");
  require(batch_size >= 2 && batch_size <= 65536, "batch-size", "the batch size",
          " must be between 2 (BatchNorm needs two samples) and 65536");
  require(batches_per_epoch >= 1 && batches_per_epoch <= 10000000, "batches-per-epoch", "the number of batches per epoch",
          " must be between 1 and 10000000");
  require(threads >= 0 && threads <= 1024, "threads", "the thread count", " must be between 0 (all cores) and 1024");
  require(weight_decay >= 0, "weight-decay", "the weight decay", " must be non-negative");
  require(plateau_patience >= 0 && plateau_patience <= 10000, "plateau-patience", "the plateau patience",
          " must be between 0 and 10000");
  require(plateau_factor > 0 && plateau_factor < 1, "plateau-factor", "the plateau factor", " must be in (0, 1)");
  require(hidden_dim > 0 && hidden_dim <= 65536, "hidden-dim", "the hidden width", " must be between 1 and 65536");
  require(embedding_dim > 0 && embedding_dim <= 65536, "embedding-dim", "the embedding size", " must be between 1 and 65536");
  require(dropout >= 0 && dropout < 1, "dropout", "the dropout", " must be in [0, 1)");
  require(losses.cross_entropy || losses.regression || losses.reconstruction, "losses", "the loss list", " must name at least one loss");
}

gzsl::LossSwitches parse_losses(const std::string& text) {
  gzsl::LossSwitches s{false, false, false};
  std::stringstream in(text);
  std::string item;
  bool any = false;
  while (std::getline(in, item, ',')) {
    item.erase(std::remove_if(item.begin(), item.end(), [](unsigned char c) { return std::isspace(c); }), item.end());
    if (item == "ce") s.cross_entropy = true;
    else if (item == "reg") s.regression = true;
    else if (item == "rec") s.reconstruction = true;
    else throw std::invalid_argument("unknown loss '" + item + "' in --losses (expected a subset of ce,reg,rec)");
    any = true;
  }
  if (!any) throw util::OptionError("losses", "the loss list", " must name at least one of ce, reg, rec");
  return s;
}

std::string to_string(const gzsl::LossSwitches& losses) {
  std::string out;
  auto add = [&](bool on, const char* name) {
    if (!on) return;
    if (!out.empty()) out += ",";
    out += name;
  };
  add(losses.cross_entropy, "ce");
  add(losses.regression, "reg");
  add(losses.reconstruction, "rec");
  return out;
}

json to_json(const TrainConfig& c) {
  return json{{"data", c.data},
              {"stage", c.stage},
              {"epochs", c.epochs},
              {"lr", c.lr},
              {"batch-size", c.batch_size},
              {"batches-per-epoch", c.batches_per_epoch},
              {"seed", c.seed},
              {"threads", c.threads},
              {"modality", to_string(c.modality)},
              {"labels", to_string(c.label_source())},
              {"losses", to_string(c.losses)},
              {"weight-decay", c.weight_decay},
              {"plateau-patience", c.plateau_patience},
              {"plateau-factor", c.plateau_factor},
              {"hidden-dim", c.hidden_dim},
              {"embedding-dim", c.embedding_dim},
              {"dropout", c.dropout},
              {"allow-leakage", c.allow_leakage}};
}

void apply_json(TrainConfig& c, const json& j, const std::string& source) {
  if (!j.is_object()) throw std::invalid_argument(source + ": a config must be a JSON object");
  for (const auto& [key, value] : j.items()) {
    try {
      if (key == "data") c.data = value.get<std::string>();
      else if (key == "stage") c.stage = value.is_number() ? std::to_string(value.get<int>()) : value.get<std::string>();
      else if (key == "epochs") c.epochs = value.get<int>();
      else if (key == "lr") c.lr = value.get<double>();
      else if (key == "batch-size") c.batch_size = value.get<int>();
      else if (key == "batches-per-epoch") c.batches_per_epoch = value.get<int>();
      else if (key == "seed") c.seed = value.get<uint64_t>();
      else if (key == "threads") c.threads = value.get<int>();
      else if (key == "modality") c.modality = data::parse_modality(value.get<std::string>());
      else if (key == "labels") c.labels = data::parse_label_source(value.get<std::string>());
      else if (key == "losses") c.losses = parse_losses(value.get<std::string>());
      else if (key == "weight-decay") c.weight_decay = value.get<double>();
      else if (key == "plateau-patience") c.plateau_patience = value.get<int>();
      else if (key == "plateau-factor") c.plateau_factor = value.get<double>();
      else if (key == "hidden-dim") c.hidden_dim = value.get<int>();
      else if (key == "embedding-dim") c.embedding_dim = value.get<int>();
      else if (key == "dropout") c.dropout = value.get<double>();
      else if (key == "allow-leakage") c.allow_leakage = value.get<bool>();
      else throw std::invalid_argument("unknown key '" + key + "'");
    } catch (const json::exception&) {
      throw std::invalid_argument(source + ": key '" + key + "' has the wrong type (" + value.dump() + ")");
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(source + ": " + e.what());
    }
  }
}

void apply_json_file(TrainConfig& config, const std::filesystem::path& path) {
  nlohmann::json file;
  try {
    file = nlohmann::json::parse(io::read_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(path.string() + ": not valid JSON (" + e.what() + ")");
  }
  apply_json(config, file, path.string());
}

}  // namespace avgzsl::training
