// Split plans of an extract job: from a folder of class lists (and video lists) or automatic.
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <map>

#include "avgzsl/extraction/split_plan.h"
#include "error_text.h"
#include "temp_dir.h"

namespace avgzsl::extraction {
namespace split_plan_test {
namespace fs = std::filesystem;
using avgzsl::testing::TempDir;

std::vector<std::pair<std::string, std::string>> videos_of(const std::string& label, int n) {
  std::vector<std::pair<std::string, std::string>> v;
  for (int i = 0; i < n; ++i) v.emplace_back(label + "_" + std::to_string(i), label);
  return v;
}

TEST(SplitPlan, AutomaticPlanCoversTheProtocol) {
  std::vector<std::string> classes;
  for (int c = 0; c < 10; ++c) classes.push_back("class" + std::to_string(c));
  const extraction::SplitPlan plan = extraction::automatic_split_plan(classes);
  EXPECT_EQ(plan.class_splits.at("stage_1_train").size(), 6u);
  EXPECT_EQ(plan.class_splits.at("stage_1_val_unseen").size(), 2u);
  EXPECT_EQ(plan.class_splits.at("stage_2_test_unseen").size(), 2u);
  EXPECT_EQ(plan.class_splits.at("stage_2_train").size(), 8u);
  const std::string train_class = plan.class_splits.at("stage_1_train").front();
  std::map<std::string, int> counts;
  for (const auto& [id, split] : plan.assign(videos_of(train_class, 30))) ++counts[split];
  EXPECT_EQ(counts["stage_1_train"], 24);
  EXPECT_EQ(counts["stage_1_val_seen"], 3);
  EXPECT_EQ(counts["stage_2_test_seen"], 3);
  EXPECT_EQ(plan.assign(videos_of(train_class, 30)), plan.assign(videos_of(train_class, 30)));  // deterministic
  EXPECT_THROW(extraction::automatic_split_plan({"a", "b"}), std::invalid_argument);
}

TEST(SplitPlan, FolderWithVideoListsFollowsTheLists) {
  TempDir tmp;
  testing::write_text_file(tmp / "s/stage_1_train.txt", "A\nB\n");
  testing::write_text_file(tmp / "s/stage_1_val_unseen.txt", "C\n");
  testing::write_text_file(tmp / "s/stage_2_test_unseen.txt", "D\n");
  testing::write_text_file(tmp / "s/stage_1_train.csv", "filename,label\nA_1,A\nB_1.mp4,B\n");
  testing::write_text_file(tmp / "s/stage_2_test_unseen.csv", "filename,label\nD_1,D\n");
  const extraction::SplitPlan plan = extraction::read_split_plan(tmp / "s", {"A", "B", "C", "D"});
  EXPECT_EQ(plan.class_splits.at("stage_2_train"), (std::vector<std::string>{"A", "B", "C"}));
  const auto assigned = plan.assign({{"A_1", "A"}, {"B_1", "B"}, {"D_1", "D"}, {"A_2", "A"}});
  EXPECT_EQ(assigned.at("B_1"), "stage_1_train");
  EXPECT_EQ(assigned.at("D_1"), "stage_2_test_unseen");
  EXPECT_EQ(assigned.count("A_2"), 0u);  // listed nowhere: left out, as the reference does
  EXPECT_NE(testing::error_message([&] { extraction::read_split_plan(tmp / "s", {"A", "B", "C"}); }).find("stage_2_test_unseen.txt: line 1: class 'D'"),
            std::string::npos);
  fs::remove(tmp / "s/stage_1_val_unseen.txt");
  EXPECT_NE(testing::error_message([&] { extraction::read_split_plan(tmp / "s", {"A", "B", "C", "D"}); }).find("stage_1_val_unseen.txt: missing"),
            std::string::npos);
}

TEST(SplitPlan, AFolderIsReadAndNoFolderMeansTheAutomaticPlan) {
  TempDir tmp;
  std::vector<std::string> classes;
  for (int c = 0; c < 5; ++c) classes.push_back("c" + std::to_string(c));
  EXPECT_EQ(split_plan_for({}, classes).class_splits, automatic_split_plan(classes).class_splits);
  testing::write_text_file(tmp / "s/stage_1_train.txt", "c0\nc1\n");
  testing::write_text_file(tmp / "s/stage_1_val_unseen.txt", "c2\n");
  testing::write_text_file(tmp / "s/stage_2_test_unseen.txt", "c3\n");
  EXPECT_EQ(split_plan_for(tmp / "s", classes).class_splits.at("stage_2_test_unseen"), (std::vector<std::string>{"c3"}));
}

}  // namespace split_plan_test
}  // namespace avgzsl::extraction
