#include "avgzsl/encoders/config_json.h"

#include <fstream>

namespace avgzsl::encoders {

void require_positive_field(int64_t value, const char* key, const std::string& where) {
  if (value <= 0) throw std::invalid_argument(where + ": field '" + key + "' must be positive, got " + std::to_string(value));
}

nlohmann::json read_config_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path.string() + ": cannot be opened");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(path.string() + ": not valid JSON (" + e.what() + ")");
  }
}

}  // namespace avgzsl::encoders
