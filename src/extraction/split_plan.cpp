#include "avgzsl/extraction/split_plan.h"
#include "avgzsl/util/input_file.h"
#include "avgzsl/util/text.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <stdexcept>

#include "avgzsl/io/csv_table.h"
#include "avgzsl/extraction/video_list.h"

namespace avgzsl::extraction {
namespace fs = std::filesystem;

namespace {

std::vector<std::string> read_class_list(const fs::path& file, const std::set<std::string>& known) {
  std::ifstream in = util::open_input_file(file);
  std::vector<std::string> names;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (util::first_invalid_utf8(line) != std::string::npos || line.find('\0') != std::string::npos) {
      throw std::runtime_error(file.string() + ": line " + std::to_string(number) + ": not UTF-8 text (a binary file?)");
    }
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (line.empty()) continue;
    if (!known.count(line)) {
      throw std::runtime_error(file.string() + ": line " + std::to_string(number) + ": class '" + line +
                               "' has no videos in the list");
    }
    names.push_back(line);
  }
  if (names.empty()) throw std::runtime_error(file.string() + ": the class list is empty");
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

std::vector<std::string> sorted_union(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  std::sort(a.begin(), a.end());
  a.erase(std::unique(a.begin(), a.end()), a.end());
  return a;
}

bool contains(const std::vector<std::string>& sorted, const std::string& name) {
  return std::binary_search(sorted.begin(), sorted.end(), name);
}

}  // namespace

SplitPlan read_split_plan(const fs::path& folder, const std::vector<std::string>& known_classes) {
  if (!fs::is_directory(folder)) throw std::runtime_error(folder.string() + ": no such split folder");
  const std::set<std::string> known(known_classes.begin(), known_classes.end());
  SplitPlan plan;
  plan.source = folder.string();
  for (const char* required : {"stage_1_train", "stage_1_val_unseen", "stage_2_test_unseen"}) {
    const fs::path file = folder / (std::string(required) + ".txt");
    if (!fs::exists(file)) throw std::runtime_error(file.string() + ": missing (a split folder needs it)");
    plan.class_splits[required] = read_class_list(file, known);
  }
  auto optional_list = [&](const std::string& name, const std::vector<std::string>& fallback) {
    const fs::path file = folder / (name + ".txt");
    plan.class_splits[name] = fs::exists(file) ? read_class_list(file, known) : fallback;
  };
  optional_list("stage_1_val_seen", plan.class_splits["stage_1_train"]);
  optional_list("stage_2_train", sorted_union(plan.class_splits["stage_1_train"], plan.class_splits["stage_1_val_unseen"]));
  optional_list("stage_2_test_seen", plan.class_splits["stage_2_train"]);
  for (const char* split : data::kVideoSplitNames) {
    const fs::path file = folder / (std::string(split) + ".csv");
    if (!fs::exists(file)) continue;
    const io::CsvTable table = io::read_csv(file);
    const size_t column = table.column("filename", file.string());
    for (const auto& row : table.rows) {
      const std::string id = fs::path(row[column]).stem().string();
      const auto [it, inserted] = plan.listed_videos.emplace(id, split);
      if (!inserted && it->second != split) {
        throw std::runtime_error(file.string() + ": video '" + id + "' is also listed in " + it->second + ".csv");
      }
    }
  }
  return plan;
}

SplitPlan automatic_split_plan(const std::vector<std::string>& classes) {
  if (classes.size() < 3) {
    throw std::invalid_argument("an automatic split needs at least 3 classes, the list has " +
                                std::to_string(classes.size()) + "; give --splits DIR");
  }
  std::vector<std::string> order = classes;
  std::sort(order.begin(), order.end(), [](const std::string& a, const std::string& b) {
    return std::make_pair(util::stable_hash("class:" + a), a) < std::make_pair(util::stable_hash("class:" + b), b);
  });
  const size_t n = order.size();
  const size_t unseen_test = std::max<size_t>(1, n / 5);
  const size_t unseen_val = std::max<size_t>(1, n / 5);
  const size_t train = n - unseen_test - unseen_val;
  SplitPlan plan;
  plan.source = "automatic";
  auto sorted_slice = [&](size_t begin, size_t end) {
    std::vector<std::string> s(order.begin() + begin, order.begin() + end);
    std::sort(s.begin(), s.end());
    return s;
  };
  plan.class_splits["stage_1_train"] = plan.class_splits["stage_1_val_seen"] = sorted_slice(0, train);
  plan.class_splits["stage_1_val_unseen"] = sorted_slice(train, train + unseen_val);
  plan.class_splits["stage_2_test_unseen"] = sorted_slice(train + unseen_val, n);
  plan.class_splits["stage_2_train"] = plan.class_splits["stage_2_test_seen"] = sorted_slice(0, train + unseen_val);
  return plan;
}

std::map<std::string, std::string> SplitPlan::assign(const std::vector<std::pair<std::string, std::string>>& videos) const {
  std::map<std::string, std::string> out;
  if (!listed_videos.empty()) {
    for (const auto& [id, label] : videos) {
      const auto it = listed_videos.find(id);
      if (it != listed_videos.end()) out[id] = it->second;
    }
    return out;
  }
  std::map<std::string, std::vector<std::pair<uint64_t, std::string>>> by_class;  // label -> (hash, id)
  for (const auto& [id, label] : videos) by_class[label].emplace_back(util::stable_hash("video:" + id), id);
  for (auto& [label, members] : by_class) {
    std::sort(members.begin(), members.end());
    const int64_t n = static_cast<int64_t>(members.size());
    const int64_t tenth = std::max<int64_t>(1, (n + 5) / 10);
    std::vector<std::pair<int64_t, const char*>> parts;  // (count, split), in hash order
    if (contains(class_splits.at("stage_2_test_unseen"), label)) {
      parts = {{n, "stage_2_test_unseen"}};
    } else if (contains(class_splits.at("stage_1_val_unseen"), label)) {
      const int64_t test = n >= 2 ? tenth : 0;
      parts = {{test, "stage_2_test_seen"}, {n - test, "stage_1_val_unseen"}};
    } else if (contains(class_splits.at("stage_1_train"), label)) {
      const int64_t held = n >= 3 ? tenth : 0;
      parts = {{held, "stage_2_test_seen"}, {held, "stage_1_val_seen"}, {n - 2 * held, "stage_1_train"}};
    }
    size_t next = 0;
    for (const auto& [count, split] : parts) {
      for (int64_t k = 0; k < count; ++k) out[members[next++].second] = split;
    }
  }
  return out;
}

void check_every_split_gets_videos(const SplitPlan& plan, const std::vector<std::pair<std::string, std::string>>& videos) {
  std::map<std::string, int64_t> per_split;
  for (const auto& [id, split] : plan.assign(videos)) ++per_split[split];
  std::vector<std::string> empty;
  for (const char* split : data::kVideoSplitNames) {
    if (!per_split.count(split)) empty.push_back(split);
  }
  if (empty.empty()) return;
  std::string message = "the split plan (" + plan.source + ") leaves no video in " + empty.front();
  for (size_t i = 1; i < empty.size(); ++i) message += ", " + empty[i];
  if (plan.listed_videos.empty()) {
    std::map<std::string, int64_t> per_class;
    for (const auto& [id, label] : videos) ++per_class[label];
    std::string small;
    int shown = 0;
    for (const auto& [label, count] : per_class) {
      const bool seen = contains(plan.class_splits.at("stage_1_train"), label);
      const bool unseen_val = contains(plan.class_splits.at("stage_1_val_unseen"), label);
      if ((seen && count < 3) || (unseen_val && count < 2)) {
        if (shown++ < 8) small += std::string(small.empty() ? "" : ", ") + "'" + label + "' (" + std::to_string(count) + ")";
      }
    }
    message += ": a seen class needs at least 3 videos (training, seen validation, seen test) and an unseen "
               "validation class 2";
    if (!small.empty()) message += "; classes with fewer: " + small + (shown > 8 ? ", ..." : "");
  }
  throw std::invalid_argument(message + "; add videos or give --splits DIR with your own split");
}

SplitPlan split_plan_for(const std::filesystem::path& folder, const std::vector<std::string>& classes) {
  return folder.empty() ? automatic_split_plan(classes) : read_split_plan(folder, classes);
}

}  // namespace avgzsl::extraction
