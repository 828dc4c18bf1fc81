// Reading Hugging Face `config.json` files: the shared rules of every model config reader (CLIP,
// HTSAT, BERT/RoBERTa). An absent or null field keeps its default (transformers' own defaults);
// a present one must have the right type; errors are one line naming the source and the field.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace avgzsl::encoders {

// Reads `key` from `j` when present, checking its type; keeps `value` (the default) otherwise.
// Throws std::invalid_argument("<where>: field '<key>' has the wrong type (...)").
template <typename T>
void read_config_field(const nlohmann::json& j, const char* key, T& value, const std::string& where) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;
  try {
    value = it->template get<T>();
  } catch (const nlohmann::json::exception&) {
    throw std::invalid_argument(where + ": field '" + key + "' has the wrong type (" + it->dump() + ")");
  }
}

// The object `j[name]`, or `j[name + "_dict"]` (configs written by old transformers versions),
// or an empty object when neither is one.
const nlohmann::json& config_section(const nlohmann::json& j, const std::string& name);

// Throws std::invalid_argument("<where>: field '<key>' must be positive, got N"), or when N is
// beyond any real model (1024 layers or heads, 2^20 vocabulary entries, 65536 for other sizes).
void require_positive_field(int64_t value, const char* key, const std::string& where);

// Parses a JSON file; std::runtime_error naming the file when it cannot be read or parsed.
nlohmann::json read_config_file(const std::filesystem::path& path);

// Calls `parse(json, source)` on the file's JSON and turns its std::invalid_argument (a bad
// field) into std::runtime_error: a broken file is a file error, whoever reads it.
template <typename Parse>
auto parse_config_file(const std::filesystem::path& path, Parse&& parse) {
  const nlohmann::json j = read_config_file(path);
  try {
    return parse(j, path.string());
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(e.what());
  }
}

}  // namespace avgzsl::encoders
