// Class-name lists given by a user (`predict --classes`, `--classes-file`, `embed-classes --names`).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace avgzsl::data {

// A comma-separated list, or a file with one name per line ('#' starts a comment line). Trims
// spaces; throws std::invalid_argument on an empty or duplicated name, naming it.
std::vector<std::string> parse_class_list(const std::string& comma_separated);
std::vector<std::string> read_class_file(const std::filesystem::path& file);
// `names` unchanged when non-empty and free of duplicates; else std::invalid_argument naming `where`.
std::vector<std::string> checked_names(std::vector<std::string> names, const std::string& where);

}  // namespace avgzsl::data
