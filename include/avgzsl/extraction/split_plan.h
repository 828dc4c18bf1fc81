// Which class and video sets of the protocol (METHOD §6) extracted videos go to.
//
// From a split folder (`--splits DIR`, the layout of the reference's class-split/<split>/):
//   <class split>.txt   class names, one per line: stage_1_train, stage_1_val_unseen and
//                       stage_2_test_unseen are required; stage_1_val_seen (default: the
//                       stage-1 train classes), stage_2_train (default: stage-1 train + val-unseen)
//                       and stage_2_test_seen (default: stage_2_train) are optional.
//   <video split>.csv   optional video lists (column "filename": the video id, an extension is
//                       ignored). When any is present, a video goes to the set whose list names
//                       it and a video no list names is left out, as in the reference.
// Without video lists (or without a folder at all) the videos of each class, ordered by a hash
// of their id (stable_hash), are divided with about the proportions of UCF's cls_split:
//   stage-1 train classes:       10% stage_2_test_seen, 10% stage_1_val_seen (at least one each
//                                once a class has 3 videos), the rest stage_1_train
//   stage-1 val-unseen classes:  10% stage_2_test_seen (at least one from 2 videos), the rest
//                                stage_1_val_unseen
//   stage-2 test-unseen classes: all stage_2_test_unseen
// Without a folder the classes are split by a hash of their name: 60% stage-1 train, 20%
// val-unseen, 20% test-unseen (UCF: 30/12/9 of 51), at least one class each.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "avgzsl/data/dataset.h"

namespace avgzsl::extraction {

struct SplitPlan {
  std::string source;  // the folder, or "automatic"
  std::map<std::string, std::vector<std::string>> class_splits;  // split -> class names
  std::map<std::string, std::string> listed_videos;              // video id -> video split (CSV mode)

  // The video set of each (id, label); a video the plan leaves out (its class is in no split,
  // or video lists exist and none names it) is absent from the result.
  std::map<std::string, std::string> assign(const std::vector<std::pair<std::string, std::string>>& videos) const;
};

// Throws std::runtime_error naming the file on a missing required list, an empty list, or a
// class that `known_classes` does not hold.
SplitPlan read_split_plan(const std::filesystem::path& folder, const std::vector<std::string>& known_classes);
// Throws std::invalid_argument when there are fewer than 3 classes.
SplitPlan automatic_split_plan(const std::vector<std::string>& classes);
// Throws std::invalid_argument before any extraction when `plan` leaves one of the five video
// splits without a video for `videos` (id, label): an automatic split needs 3 videos in a seen
// class (training, seen validation, seen test) and 2 in an unseen validation class; the message
// names the classes that have fewer and the way out (more videos, or --splits).
void check_every_split_gets_videos(const SplitPlan& plan, const std::vector<std::pair<std::string, std::string>>& videos);

// The plan of an extract job: read from `folder`, or automatic when `folder` is empty.
SplitPlan split_plan_for(const std::filesystem::path& folder, const std::vector<std::string>& classes);

}  // namespace avgzsl::extraction
