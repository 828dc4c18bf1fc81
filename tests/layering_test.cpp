// The layering of docs/architecture.md, enforced: every `#include "avgzsl/<folder>/..."` in
// src/, include/avgzsl/ and cli/ must point to the including file's own folder or to a lower
// layer, and cli/ (a thin layer of verbs) includes no io/ header. Torch-free: it reads text.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "temp_dir.h"

namespace avgzsl {
namespace {

namespace fs = std::filesystem;

// Folder -> layer; a folder may include its own folder and lower layers only.
const std::map<std::string, int>& layers() {
  static const std::map<std::string, int> table = {
      {"util", 0},       {"io", 1},         {"media", 1},      {"preprocessing", 1}, {"nn", 2},         {"plot", 2},       {"projection", 2},
      {"encoders", 3},   {"gzsl", 3},       {"data", 3},       {"metrics", 3},       {"reference", 4},
      {"extraction", 4}, {"training", 5},   {"prediction", 6}, {"inspection", 6},    {"report", 6},     {"cli", 7}};
  return table;
}

struct Violation {
  std::string where;  // file:line
  std::string what;
};

// The layer folder of a file under `root`: src/<folder>/..., include/avgzsl/<folder>/..., cli/...
std::string folder_of(const fs::path& root, const fs::path& file) {
  const fs::path rel = fs::relative(file, root);
  auto it = rel.begin();
  const std::string top = (it++)->string();
  if (top == "cli") return "cli";
  if (top == "src") return it == rel.end() ? "" : it->string();
  if (top == "include" && it != rel.end() && (it++)->string() == "avgzsl" && it != rel.end()) return it->string();
  return "";
}

std::vector<Violation> check_layering(const fs::path& root) {
  static const std::regex include_line(R"re(^\s*#\s*include\s+"avgzsl/([a-z_]+)/)re");
  std::vector<Violation> out;
  for (const char* top : {"src", "include", "cli"}) {
    if (!fs::exists(root / top)) continue;
    for (const auto& entry : fs::recursive_directory_iterator(root / top)) {
      const std::string ext = entry.path().extension().string();
      if (!entry.is_regular_file() || (ext != ".h" && ext != ".cpp")) continue;
      const std::string from = folder_of(root, entry.path());
      const auto from_layer = layers().find(from);
      std::ifstream in(entry.path());
      std::string line;
      for (int number = 1; std::getline(in, line); ++number) {
        std::smatch m;
        if (!std::regex_search(line, m, include_line)) continue;
        const std::string where = fs::relative(entry.path(), root).string() + ":" + std::to_string(number);
        const std::string to = m[1];
        const auto to_layer = layers().find(to);
        if (from_layer == layers().end()) {
          out.push_back({where, "folder '" + from + "' is not in the layer table (docs/architecture.md)"});
        } else if (to_layer == layers().end()) {
          out.push_back({where, "includes folder '" + to + "', which is not in the layer table"});
        } else if (from == "cli" && to == "io") {
          out.push_back({where, "cli/ includes an io/ header; the library should do that work"});
        } else if (to != from && to_layer->second >= from_layer->second) {
          out.push_back({where, from + "/ (layer " + std::to_string(from_layer->second) + ") includes " + to + "/ (layer " +
                                    std::to_string(to_layer->second) + ")"});
        }
      }
    }
  }
  return out;
}

TEST(Layering, EveryIncludeGoesDownTheLayers) {
  const std::vector<Violation> violations = check_layering(AVGZSL_SOURCE_DIR);
  for (const Violation& v : violations) ADD_FAILURE() << v.where << ": " << v.what;
  EXPECT_TRUE(violations.empty());
}

// The check itself fails, naming file and line, on a planted upward include, an unknown folder
// and a cli/ file that includes io/.
TEST(Layering, PlantedViolationsAreReported) {
  testing::TempDir tmp;
  const fs::path root = tmp.path();
  fs::create_directories(root / "src/io");
  fs::create_directories(root / "include/avgzsl/encoders");
  fs::create_directories(root / "cli");
  fs::create_directories(root / "src/misc");
  std::ofstream(root / "src/io/reader.cpp") << "#include \"avgzsl/io/reader.h\"\n\n#include \"avgzsl/training/train_config.h\"\n";
  std::ofstream(root / "include/avgzsl/encoders/x.h") << "#include \"avgzsl/util/progress.h\"\n#include \"avgzsl/data/dataset.h\"\n";
  std::ofstream(root / "cli/verb.cpp") << "#include \"avgzsl/training/training_run.h\"\n#include \"avgzsl/io/atomic_file.h\"\n";
  std::ofstream(root / "src/misc/y.cpp") << "#include \"avgzsl/util/progress.h\"\n";
  std::map<std::string, std::string> got;
  for (const Violation& v : check_layering(root)) got[v.where] = v.what;
  const std::map<std::string, std::string> want = {
      {"src/io/reader.cpp:3", "io/ (layer 1) includes training/ (layer 5)"},
      {"include/avgzsl/encoders/x.h:2", "encoders/ (layer 3) includes data/ (layer 3)"},
      {"cli/verb.cpp:2", "cli/ includes an io/ header; the library should do that work"},
      {"src/misc/y.cpp:1", "folder 'misc' is not in the layer table (docs/architecture.md)"}};
  EXPECT_EQ(got, want);
}

}  // namespace
}  // namespace avgzsl
