// `avgzsl tsne`: the paper's qualitative figure from a run. One t-SNE map per panel, over the same
// videos: (a) the input audio features, (b) the input visual features, (c) the learned embeddings
// of the videos (theta_o, crosses) together with the class-text embeddings (theta_w, large
// diamonds); one colour per class. A panel whose input the run does not use is left out, as is (c)
// for a method without one joint space (gzsl::Method::joint_embeddings).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "avgzsl/data/dataset.h"
#include "avgzsl/plot/figure.h"
#include "avgzsl/training/training_run.h"
#include "avgzsl/util/text.h"

namespace avgzsl::report {

struct TsneFigureOptions {
  // test-unseen | test (the stage-2 model) | val-unseen | val (the stage-1 model, as the beta search)
  std::string split = "test-unseen";
  // Class names separated by commas, shown in that order; a name that holds commas itself
  // (VGGSound's "alligators, crocodiles hissing") is recognised whole. Empty: the split's first
  // max_classes classes by id.
  std::string classes;
  int max_classes = 9;               // the palette's size: more classes reuse colours with other markers
  int per_class = 50;                // videos per class at most, drawn with `seed`
  double perplexity = 30;
  uint64_t seed = 0;
  bool show_progress = false;        // a terminal progress line per t-SNE
};

// Throws util::OptionError for values no run could satisfy (unknown split, per_class < 1, ...).
void check_tsne_options(const TsneFigureOptions& options);

struct TsneFigure {
  plot::Figure figure;
  std::vector<std::string> notes;    // what was left out and why, for the user
  int64_t videos = 0;
  int64_t classes = 0;
};

// `run` opened on `dataset`. Throws std::runtime_error naming the run for a test split of a run
// without a stage-2 model, std::invalid_argument for unknown class names or classes without
// videos in the split, or too few points for the perplexity.
TsneFigure make_tsne_figure(training::OpenedRun& run, const std::string& run_name, const data::Dataset& dataset,
                            const TsneFigureOptions& options);

}  // namespace avgzsl::report
