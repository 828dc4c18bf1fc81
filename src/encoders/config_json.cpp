#include "avgzsl/encoders/config_json.h"
#include "avgzsl/util/input_file.h"

#include <fstream>

namespace avgzsl::encoders {

namespace {

// Upper bounds far above any released model, far below what would exhaust memory before the
// weights are even read (a hidden_size of 1e9 asked LibTorch for 3 TB; 100000 layers for 5 GB).
int64_t largest_sane(const std::string& key) {
  if (key == "num_hidden_layers" || key == "num_attention_heads") return 1024;
  if (key == "vocab_size" || key == "type_vocab_size") return int64_t(1) << 20;
  return 65536;   // widths, positions, image and patch sizes, channels
}

}  // namespace

void require_positive_field(int64_t value, const char* key, const std::string& where) {
  if (value <= 0) throw std::invalid_argument(where + ": field '" + key + "' must be positive, got " + std::to_string(value));
  const int64_t most = largest_sane(key);
  if (value > most) {
    throw std::invalid_argument(where + ": field '" + key + "' is " + std::to_string(value) + ", more than any model has (at most " +
                                std::to_string(most) + " here)");
  }
}

nlohmann::json read_config_file(const std::filesystem::path& path) {
  std::ifstream in = util::open_input_file(path);
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(path.string() + ": not valid JSON (" + e.what() + ")");
  }
}

const nlohmann::json& config_section(const nlohmann::json& j, const std::string& name) {
  static const nlohmann::json empty = nlohmann::json::object();
  for (const std::string& key : {name, name + "_dict"}) {
    const auto it = j.find(key);
    if (it != j.end() && it->is_object()) return *it;
  }
  return empty;
}

}  // namespace avgzsl::encoders
