#include "avgzsl/encoders/config_json.h"
#include "avgzsl/util/input_file.h"

#include <fstream>

namespace avgzsl::encoders {

void require_positive_field(int64_t value, const char* key, const std::string& where) {
  if (value <= 0) throw std::invalid_argument(where + ": field '" + key + "' must be positive, got " + std::to_string(value));
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
