#include "avgzsl/report/tsne_figure.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <map>
#include <random>
#include <sstream>
#include <set>

#include "avgzsl/projection/tsne.h"
#include "avgzsl/util/option_error.h"
#include "avgzsl/util/progress.h"

namespace avgzsl::report {
namespace {

const std::vector<std::string>& tsne_splits() {
  static const std::vector<std::string> splits = {"test-unseen", "test", "val-unseen", "val"};
  return splits;
}

// Up to `k` of `items`, chosen by a seeded Fisher-Yates shuffle written out here because
// std::shuffle's use of the generator differs between standard libraries, and the figure must be
// the same everywhere for a seed. Returned in their original order.
std::vector<int64_t> sample_in_order(std::vector<int64_t> items, int k, uint64_t seed) {
  if (static_cast<int64_t>(items.size()) <= k) return items;
  std::mt19937_64 rng(seed);
  for (size_t i = items.size() - 1; i > 0; --i) std::swap(items[i], items[rng() % (i + 1)]);
  items.resize(k);
  std::sort(items.begin(), items.end());
  return items;
}

std::string trimmed(const std::string& s) {
  const size_t first = s.find_first_not_of(" \t");
  return first == std::string::npos ? "" : s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

// The ids of a comma-separated list of class names. At each position the longest run of
// comma-separated pieces that names a class wins, so names with commas need no quoting.
std::vector<int64_t> parse_class_list(const std::string& text, const data::Dataset& dataset) {
  std::vector<std::string> pieces;
  std::stringstream in(text);
  for (std::string piece; std::getline(in, piece, ',');) pieces.push_back(piece);
  std::map<std::string, int64_t> by_name;
  for (size_t c = 0; c < dataset.classes.size(); ++c) by_name.emplace(dataset.classes[c].name, static_cast<int64_t>(c));
  std::vector<int64_t> ids;
  for (size_t i = 0; i < pieces.size();) {
    size_t taken = 0;
    for (size_t j = pieces.size(); j > i && taken == 0; --j) {
      std::string name = pieces[i];
      for (size_t k = i + 1; k < j; ++k) name += "," + pieces[k];
      const auto found = by_name.find(trimmed(name));
      if (found != by_name.end()) {
        ids.push_back(found->second);
        taken = j - i;
      }
    }
    if (taken == 0) {
      if (trimmed(pieces[i]).empty()) throw std::invalid_argument("an empty class name in '" + text + "'");
      throw std::invalid_argument("unknown class '" + trimmed(pieces[i]) + "' (not a class of dataset " + dataset.name + ")");
    }
    i += taken;
  }
  return ids;
}

// Which classes the figure shows: named ones (each must have videos in the split), or the split's
// first `max_classes` classes by id.
std::vector<int64_t> chosen_classes(const data::Dataset& dataset, const std::vector<int64_t>& candidates,
                                    const TsneFigureOptions& options) {
  if (trimmed(options.classes).empty()) {
    return {candidates.begin(), candidates.begin() + std::min<size_t>(candidates.size(), options.max_classes)};
  }
  std::vector<int64_t> out;
  for (const int64_t id : parse_class_list(options.classes, dataset)) {
    const std::string& name = dataset.classes[id].name;
    if (std::find(candidates.begin(), candidates.end(), id) == candidates.end()) {
      throw std::invalid_argument("class '" + name + "' has no videos in split " + options.split);
    }
    if (std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
  }
  return out;
}

// Tol's grey is for fills; legend symbols that stand for "any class" need more contrast.
constexpr plot::Color kLegendGrey{0x44, 0x44, 0x44};

// Class k's look: the palette's colours first, then the same colours with the next marker.
plot::Color class_color(size_t k) { return plot::qualitative_palette()[k % plot::qualitative_palette().size()]; }
plot::Marker class_marker(size_t k) {
  static const plot::Marker markers[] = {plot::Marker::circle, plot::Marker::square, plot::Marker::triangle,
                                         plot::Marker::plus};
  return markers[(k / plot::qualitative_palette().size()) % 4];
}

torch::Tensor run_tsne(const torch::Tensor& points, const TsneFigureOptions& options, const std::string& what) {
  if (options.perplexity >= static_cast<double>(points.size(0))) {
    throw std::invalid_argument(fmt::format("--perplexity {} must be below the number of points of the {} ({})",
                                            options.perplexity, what, points.size(0)));
  }
  projection::TsneOptions t;
  t.perplexity = options.perplexity;
  t.seed = options.seed;
  util::Progress progress("t-SNE of the " + what, t.iterations, "iterations", options.show_progress);
  t.on_iteration = [&](int done, int) { progress.update(done); };
  try {
    torch::Tensor embedding = projection::tsne(points, t).embedding;
    progress.finish();
    return embedding;
  } catch (const std::invalid_argument& e) {
    // e.g. features that are all equal (videos without audio stored as zeros)
    throw std::invalid_argument("t-SNE of the " + what + ": " + e.what());
  }
}

plot::Panel map_panel(const std::string& title) {
  plot::Panel p;
  p.title = title;
  p.x_label = "t-SNE 1";
  p.y_label = "t-SNE 2";
  p.show_tick_labels = false;  // t-SNE coordinates have no unit and no meaning of their own
  return p;
}

}  // namespace

void check_tsne_options(const TsneFigureOptions& o) {
  const auto& splits = tsne_splits();
  if (std::find(splits.begin(), splits.end(), o.split) == splits.end()) {
    throw util::OptionError("split", "the t-SNE split", " must be one of test-unseen, test, val-unseen, val, got '" + o.split + "'");
  }
  if (o.per_class < 1) {
    throw util::OptionError("per-class", "the number of videos per class", " must be at least 1, got " + std::to_string(o.per_class));
  }
  if (o.max_classes < 1) {
    throw util::OptionError("max-classes", "the number of classes", " must be at least 1, got " + std::to_string(o.max_classes));
  }
  if (!(o.perplexity > 0)) {
    throw util::OptionError("perplexity", "the perplexity", " must be positive, got " + fmt::format("{}", o.perplexity));
  }
}

TsneFigure make_tsne_figure(training::OpenedRun& run, const std::string& run_name, const data::Dataset& dataset,
                            const TsneFigureOptions& options) {
  check_tsne_options(options);
  const bool on_test = options.split.rfind("test", 0) == 0;
  const bool unseen_only = options.split.find("unseen") != std::string::npos;
  if (on_test && !run.stage2) {
    throw std::runtime_error(run_name + ": no stage-2 model (a --stage 1 run), so no test split to draw; use --split val-unseen");
  }
  gzsl::Method& model = on_test ? *run.stage2->model : *run.stage1.model;
  const data::EvaluationSet& set = on_test ? run.sets.test : run.sets.validation;

  // Classes of the split that have videos in it, by id.
  std::set<int64_t> with_videos;
  const auto labels = set.labels.accessor<int64_t, 1>();
  for (int64_t i = 0; i < labels.size(0); ++i) with_videos.insert(labels[i]);
  std::vector<int64_t> candidates;
  for (const auto* group : {&set.seen, &set.unseen}) {
    if (unseen_only && group == &set.seen) continue;
    for (int64_t c : *group) {
      if (with_videos.count(c)) candidates.push_back(c);
    }
  }
  std::sort(candidates.begin(), candidates.end());
  const std::vector<int64_t> classes = chosen_classes(dataset, candidates, options);

  // Per class, up to per_class of its videos, each class with a seed of its own.
  std::vector<int64_t> rows, row_class;
  for (size_t k = 0; k < classes.size(); ++k) {
    std::vector<int64_t> members;
    for (int64_t i = 0; i < labels.size(0); ++i) {
      if (labels[i] == classes[k]) members.push_back(i);
    }
    for (int64_t i : sample_in_order(members, options.per_class, options.seed + 7919 * (k + 1))) {
      rows.push_back(i);
      row_class.push_back(static_cast<int64_t>(k));
    }
  }
  TsneFigure out;
  out.videos = static_cast<int64_t>(rows.size());
  out.classes = static_cast<int64_t>(classes.size());
  const torch::Tensor x = set.inputs.index_select(0, torch::tensor(rows, torch::kInt64));
  const int64_t visual_dim = run.sets.visual_dim, audio_dim = run.sets.audio_dim;

  // Scatter series of one map, one per class; rows [0, n) of `map` are the videos.
  auto class_series = [&](const torch::Tensor& map, plot::Marker video_marker, bool by_class_marker) {
    std::vector<plot::Series> series(classes.size());
    const auto m = map.accessor<double, 2>();
    for (size_t k = 0; k < classes.size(); ++k) {
      series[k].color = class_color(k);
      series[k].marker = by_class_marker ? class_marker(k) : video_marker;
      series[k].marker_size = 3.5;
      series[k].marker_opacity = 0.75;
    }
    for (size_t i = 0; i < rows.size(); ++i) {
      series[row_class[i]].x.push_back(m[i][0]);
      series[row_class[i]].y.push_back(m[i][1]);
    }
    return series;
  };

  char letter = 'a';
  auto next_title = [&](const std::string& what) { return std::string("(") + letter++ + ") " + what; };
  if (audio_dim > 0) {
    plot::Panel p = map_panel(next_title("audio features"));
    p.series = class_series(run_tsne(x.narrow(1, visual_dim, audio_dim), options, "audio features"), plot::Marker::circle, true);
    out.figure.panels.push_back(std::move(p));
  } else {
    out.notes.push_back("no audio panel: the run uses no audio features");
  }
  if (visual_dim > 0) {
    plot::Panel p = map_panel(next_title("visual features"));
    p.series = class_series(run_tsne(x.narrow(1, 0, visual_dim), options, "visual features"), plot::Marker::circle, true);
    out.figure.panels.push_back(std::move(p));
  } else {
    out.notes.push_back("no visual panel: the run uses no visual features");
  }

  std::optional<gzsl::JointEmbeddings> joint;
  {
    torch::NoGradGuard no_grad;
    model.eval();
    joint = model.joint_embeddings(x, run.sets.class_text.index_select(0, torch::tensor(classes, torch::kInt64)));
  }
  if (joint) {
    const int64_t n = static_cast<int64_t>(rows.size());
    const torch::Tensor map = run_tsne(torch::cat({joint->videos, joint->classes}, 0), options, "learned embeddings");
    plot::Panel p = map_panel(next_title("learned embeddings"));
    p.series = class_series(map, plot::Marker::cross, false);
    const auto m = map.accessor<double, 2>();
    for (size_t k = 0; k < classes.size(); ++k) {
      plot::Series text;
      text.color = class_color(k);
      text.marker = plot::Marker::diamond;
      text.marker_size = 9;
      text.x = {m[n + static_cast<int64_t>(k)][0]};
      text.y = {m[n + static_cast<int64_t>(k)][1]};
      p.series.push_back(std::move(text));
    }
    out.figure.panels.push_back(std::move(p));
  } else {
    out.notes.push_back("no embedding panel: method " + run.config.method +
                        " compares videos with classes in more than one space");
  }

  for (size_t k = 0; k < classes.size(); ++k) {
    out.figure.legend.push_back({dataset.classes[classes[k]].name, class_color(k), class_marker(k), false});
  }
  if (joint) {
    out.figure.legend.push_back({"video embedding", kLegendGrey, plot::Marker::cross, false});
    out.figure.legend.push_back({"class-text embedding", kLegendGrey, plot::Marker::diamond, false});
  }
  out.figure.width = 150.0 * out.figure.panels.size() + 130;
  out.figure.height = 190;
  out.figure.title = fmt::format("t-SNE, {} split of {} ({} classes, {} videos, perplexity {})", options.split,
                                 dataset.name, classes.size(), rows.size(), options.perplexity);
  return out;
}

}  // namespace avgzsl::report
