#include "avgzsl/data/class_names.h"
#include "avgzsl/util/input_file.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include "avgzsl/util/option_error.h"
#include "avgzsl/util/text.h"

namespace avgzsl::data {

namespace {

std::string trimmed(const std::string& s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

// What is wrong with a list of names ("" when nothing).
std::string list_problem(const std::vector<std::string>& names) {
  std::set<std::string> seen;
  for (const std::string& name : names) {
    if (!seen.insert(name).second) return "class '" + name + "' is given twice";
  }
  return names.empty() ? "no class names" : "";
}

}  // namespace

std::vector<std::string> checked_names(std::vector<std::string> names, const std::string& where) {
  const std::string problem = list_problem(names);
  if (!problem.empty()) throw std::invalid_argument(where + ": " + problem);
  return names;
}

std::vector<std::string> parse_class_list(const std::string& comma_separated) {
  if (util::first_invalid_utf8(comma_separated) != std::string::npos) {
    throw util::OptionError("classes", "the class list", ": is not UTF-8 text");
  }
  std::vector<std::string> names;
  size_t start = 0;
  while (start <= comma_separated.size()) {
    const size_t comma = std::min(comma_separated.find(',', start), comma_separated.size());
    const std::string name = trimmed(comma_separated.substr(start, comma - start));
    if (name.empty()) {
      throw util::OptionError("classes", "the class list", ": an empty class name (two commas in a row, or a trailing comma)");
    }
    names.push_back(name);
    start = comma + 1;
  }
  const std::string problem = list_problem(names);
  if (!problem.empty()) throw util::OptionError("classes", "the class list", ": " + problem);
  return names;
}

std::vector<std::string> read_class_file(const std::filesystem::path& file) {
  std::ifstream in = util::open_input_file(file);
  std::ostringstream whole;
  whole << in.rdbuf();
  std::string text = whole.str();
  if (text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);   // the byte-order mark Windows editors write
  const std::string problem = util::binary_text_problem(text);
  if (!problem.empty()) throw std::invalid_argument(file.string() + ": " + problem);
  std::istringstream lines(text);
  std::vector<std::string> names;
  for (std::string line; std::getline(lines, line);) {
    const std::string name = trimmed(line);
    if (!name.empty() && name[0] != '#') names.push_back(name);
  }
  return checked_names(std::move(names), file.string());
}

}  // namespace avgzsl::data
