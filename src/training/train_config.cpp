#include "avgzsl/training/train_config.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "avgzsl/gzsl/method_registry.h"
#include "avgzsl/io/atomic_file.h"
#include "avgzsl/util/option_error.h"

namespace avgzsl::training {
using nlohmann::json;


void TrainConfig::apply_paper_defaults(const std::string& dataset_name) {
  const gzsl::MethodSpec& spec = gzsl::method_spec(method);
  const gzsl::MethodDefaults d = spec.defaults(gzsl::dataset_family(dataset_name));
  if (epochs == 0) epochs = d.epochs;
  if (lr == 0) lr = d.lr;
  if (batch_size == 0) batch_size = d.batch_size;
  if (batches_per_epoch == 0) batches_per_epoch = d.batches_per_epoch;
  if (weight_decay < 0) weight_decay = d.weight_decay;
  if (method != "clipclap") {
    const TrainConfig plain;
    auto refuse = [&](bool differs, const char* option) {
      if (differs) {
        throw std::invalid_argument(std::string("--") + option + " is an option of clipclap; " + method +
                                    " takes its own with --set KEY=VALUE");
      }
    };
    refuse(hidden_dim != plain.hidden_dim, "hidden-dim");
    refuse(embedding_dim != plain.embedding_dim, "embedding-dim");
    refuse(dropout != plain.dropout, "dropout");
    refuse(to_string(losses) != to_string(plain.losses), "losses");
  }
  if (spec.needs_visual_and_audio && modality != data::Modality::kBoth) {
    throw std::invalid_argument("method " + method + " needs both modalities (one branch each); got --modality " +
                                data::to_string(modality));
  }
  method_options = gzsl::merge_method_options(spec, d.options, method_options);
}

void TrainConfig::validate() const {
  // Keys are the option names (and config-file keys); the CLI shows them as flags.
  auto require = [](bool ok, const char* option, const char* meaning, const std::string& problem) {
    if (!ok) throw util::OptionError(option, meaning, problem);
  };
  require(stage == "1" || stage == "2" || stage == "all", "stage", "the stage", " must be 1, 2 or all, got '" + stage + "'");
  require(!method.empty(), "method", "the method", " must not be empty");
  require(method_options.is_object(), "method-options", "the method's options", " must be a JSON object");
  require(epochs >= 0 && epochs <= 10000, "epochs", "the number of epochs", " must be between 1 and 10000 (0: the paper's)");
  require(lr >= 0 && lr < 10, "lr", "the learning rate", " must be positive");
  require(batch_size == 0 || (batch_size >= 2 && batch_size <= 65536), "batch-size", "the batch size",
          " must be between 2 (BatchNorm needs two samples) and 65536 (0: the method's)");
  require(batches_per_epoch >= 0 && batches_per_epoch <= 10000000, "batches-per-epoch", "the number of batches per epoch",
          " must be between 1 and 10000000 (0: the method's)");
  require(threads >= 0 && threads <= 1024, "threads", "the thread count", " must be between 0 (all cores) and 1024");
  require(weight_decay >= 0 || weight_decay == -1, "weight-decay", "the weight decay", " must be non-negative (-1: the method's)");
  require(plateau_patience >= 0 && plateau_patience <= 10000, "plateau-patience", "the plateau patience",
          " must be between 0 and 10000");
  require(plateau_factor > 0 && plateau_factor < 1, "plateau-factor", "the plateau factor", " must be in (0, 1)");
  require(hidden_dim > 0 && hidden_dim <= 65536, "hidden-dim", "the hidden width", " must be between 1 and 65536");
  require(embedding_dim > 0 && embedding_dim <= 65536, "embedding-dim", "the embedding size", " must be between 1 and 65536");
  require(dropout >= 0 && dropout < 1, "dropout", "the dropout", " must be in [0, 1)");
  require(losses.cross_entropy || losses.regression || losses.reconstruction, "losses", "the loss list", " must name at least one loss");
}

json to_json(const TrainConfig& c) {
  return json{{"data", c.data},
              {"method", c.method},
              {"method-options", c.method_options},
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
      else if (key == "method") c.method = value.get<std::string>();
      else if (key == "method-options") {
        if (!value.is_object()) throw std::invalid_argument("key 'method-options' must be a JSON object");
        c.method_options = value;
      }
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
