#include "avgzsl/prediction/zero_shot_prediction.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <optional>
#include <set>
#include <stdexcept>

#include "avgzsl/data/protocol_sets.h"
#include "avgzsl/metrics/gzsl_evaluation.h"
#include "avgzsl/gzsl/clipclap_checkpoint.h"
#include "avgzsl/encoders/class_text.h"
#include "avgzsl/encoders/clap/clap_encoder.h"
#include "avgzsl/encoders/clip/clip_encoder.h"
#include "avgzsl/training/training_run.h"
#include "avgzsl/util/progress.h"

namespace avgzsl::prediction {
namespace fs = std::filesystem;

namespace {

torch::Tensor unit_rows(const torch::Tensor& x) { return x / x.norm(2, -1, true).clamp_min(1e-12); }

// log of the fused probabilities [N, K]: log(mean over present modalities of softmax(100 cos)).
torch::Tensor training_free_log_probabilities(const torch::Tensor& visual, const torch::Tensor& clip_text,
                                              const torch::Tensor& audio, const torch::Tensor& clap_text) {
  const bool with_visual = visual.defined(), with_audio = audio.defined();
  if (!with_visual && !with_audio) throw std::invalid_argument("training-free scoring needs visual or audio features");
  if (with_visual) TORCH_CHECK(clip_text.defined() && visual.size(1) == clip_text.size(1), "visual features ", visual.sizes(), " vs CLIP class text");
  if (with_audio) TORCH_CHECK(clap_text.defined() && audio.size(1) == clap_text.size(1), "audio features ", audio.sizes(), " vs CLAP class text");
  auto log_probs = [](const torch::Tensor& x, const torch::Tensor& text) {
    return torch::log_softmax(kTrainingFreeLogitScale * torch::matmul(unit_rows(x.to(torch::kFloat32)),
                                                                        unit_rows(text.to(torch::kFloat32)).t()),
                              1);
  };
  if (!with_audio) return log_probs(visual, clip_text);
  torch::Tensor audio_lp = log_probs(audio, clap_text);
  if (!with_visual) return audio_lp;
  const torch::Tensor visual_lp = log_probs(visual, clip_text);
  // A zero audio row is a video without audio: its frames alone score it (the mean of two
  // copies of the visual distribution is that distribution).
  const torch::Tensor has_audio = (audio.abs().sum(1, true) > 0);
  audio_lp = torch::where(has_audio, audio_lp, visual_lp);
  return torch::logsumexp(torch::stack({visual_lp, audio_lp}), 0) - std::log(2.0);
}

}  // namespace

torch::Tensor training_free_probabilities(const torch::Tensor& visual, const torch::Tensor& clip_text,
                                          const torch::Tensor& audio, const torch::Tensor& clap_text) {
  return training_free_log_probabilities(visual, clip_text, audio, clap_text).exp();
}

training::ProtocolSummary evaluate_training_free(const data::Dataset& dataset) {
  const bool with_visual = dataset.visual_dim > 0, with_audio = dataset.audio_dim > 0;
  if (with_visual && dataset.clip_dim != dataset.visual_dim) {
    throw std::runtime_error("dataset '" + dataset.name + "': training-free scoring compares visual features (" +
                             std::to_string(dataset.visual_dim) + "-d) with CLIP class text, which it " +
                             (dataset.clip_dim ? "has in " + std::to_string(dataset.clip_dim) + " dimensions" : "lacks"));
  }
  if (with_audio && dataset.clap_dim != dataset.audio_dim) {
    throw std::runtime_error("dataset '" + dataset.name + "': training-free scoring compares audio features (" +
                             std::to_string(dataset.audio_dim) + "-d) with CLAP class text, which it " +
                             (dataset.clap_dim ? "has in " + std::to_string(dataset.clap_dim) + " dimensions" : "lacks"));
  }
  const data::Modality modality = with_visual && with_audio ? data::Modality::kBoth : with_visual ? data::Modality::kVisual : data::Modality::kAudio;
  const data::ProtocolSets sets = data::build_protocol_sets(dataset, modality, data::matching_label_source(modality));

  auto distances = [&](const data::EvaluationSet& set) {
    std::vector<int64_t> columns = set.seen;
    columns.insert(columns.end(), set.unseen.begin(), set.unseen.end());
    std::sort(columns.begin(), columns.end());
    const torch::Tensor text = sets.class_text.index_select(0, torch::tensor(columns, torch::kInt64));
    // [v | a] and [t_clip | t_clap], in the order build_protocol_sets concatenates them.
    const int64_t dv = with_visual ? dataset.visual_dim : 0;
    const torch::Tensor visual = with_visual ? set.inputs.narrow(1, 0, dv) : torch::Tensor();
    const torch::Tensor clip_text = with_visual ? text.narrow(1, 0, dv) : torch::Tensor();
    const torch::Tensor audio = with_audio ? set.inputs.narrow(1, dv, dataset.audio_dim) : torch::Tensor();
    const torch::Tensor clap_text = with_audio ? text.narrow(1, dv, dataset.audio_dim) : torch::Tensor();
    torch::NoGradGuard no_grad;
    return (-training_free_log_probabilities(visual, clip_text, audio, clap_text)).contiguous();
  };
  training::ProtocolSummary summary;
  summary.best_epoch = -1;  // nothing trained
  summary.validation = metrics::CalibratedStacking(distances(sets.validation), sets.validation.labels,
                                                   sets.validation.seen, sets.validation.unseen)
                           .search(metrics::reference_beta_grid());
  summary.test = metrics::CalibratedStacking(distances(sets.test), sets.test.labels, sets.test.seen, sets.test.unseen)
                     .evaluate(metrics::reference_test_beta(summary.validation.beta));
  return summary;
}

namespace {

std::string trimmed(const std::string& s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

std::vector<std::string> checked_names(std::vector<std::string> names, const std::string& where) {
  std::set<std::string> seen;
  for (const std::string& name : names) {
    if (!seen.insert(name).second) throw std::invalid_argument(where + ": class '" + name + "' is given twice");
  }
  if (names.empty()) throw std::invalid_argument(where + ": no class names");
  return names;
}

}  // namespace

std::vector<std::string> parse_class_list(const std::string& comma_separated) {
  std::vector<std::string> names;
  size_t start = 0;
  while (start <= comma_separated.size()) {
    const size_t comma = std::min(comma_separated.find(',', start), comma_separated.size());
    const std::string name = trimmed(comma_separated.substr(start, comma - start));
    if (name.empty()) throw std::invalid_argument("--classes: an empty class name (two commas in a row, or a trailing comma)");
    names.push_back(name);
    start = comma + 1;
  }
  return checked_names(std::move(names), "--classes");
}

std::vector<std::string> read_class_file(const fs::path& file) {
  std::ifstream in(file);
  if (!in) throw std::invalid_argument(file.string() + ": cannot open the class list");
  std::vector<std::string> names;
  for (std::string line; std::getline(in, line);) {
    const std::string name = trimmed(line);
    if (!name.empty() && name[0] != '#') names.push_back(name);
  }
  return checked_names(std::move(names), file.string());
}

namespace {

// A trained run, with what it expects as inputs.
struct TrainedRun {
  gzsl::ClipClap model{nullptr};
  data::Modality modality = data::Modality::kBoth;
  data::LabelSource labels = data::LabelSource::kBoth;
  fs::path checkpoint;
};

TrainedRun load_trained_run(const fs::path& run_dir) {
  if (!fs::is_directory(run_dir)) throw std::runtime_error(run_dir.string() + ": run directory not found");
  const training::TrainConfig config = training::load_run_config(run_dir);
  TrainedRun run;
  run.modality = config.modality;
  run.labels = config.label_source();
  // The stage-2 model is the one the protocol tests; a run stopped after stage 1 has only that.
  run.checkpoint = fs::exists(run_dir / "stage2.safetensors") ? run_dir / "stage2" : run_dir / "stage1";
  run.model = gzsl::load_clipclap_checkpoint(run.checkpoint).model;
  run.model->eval();
  return run;
}

bool uses_visual(data::Modality m) { return m != data::Modality::kAudio; }
bool uses_audio(data::Modality m) { return m != data::Modality::kVisual; }
bool uses_clip(data::LabelSource l) { return l != data::LabelSource::kClap; }
bool uses_clap(data::LabelSource l) { return l != data::LabelSource::kClip; }

std::vector<ClassScore> top_scores(const torch::Tensor& row, const std::vector<std::string>& names, int top_k) {
  const int64_t k = std::min<int64_t>(top_k, row.size(0));
  // Stable order for equal scores: the class listed first wins.
  const torch::Tensor order = std::get<1>(row.sort(/*stable=*/true, /*dim=*/0, /*descending=*/true));
  std::vector<ClassScore> out;
  for (int64_t i = 0; i < k; ++i) {
    const int64_t c = order[i].item<int64_t>();
    out.push_back({names[c], row[c].item<double>()});
  }
  return out;
}

}  // namespace

PredictionReport predict_videos(const PredictOptions& o) {
  if (o.videos.empty()) throw std::invalid_argument("no videos given");
  if (o.top_k < 1) throw std::invalid_argument("--top-k must be at least 1");
  if (o.frames < 1) throw std::invalid_argument("--frames must be at least 1");
  const std::vector<std::string> classes = checked_names(o.classes, "class list");
  if (classes.size() < 2) throw std::invalid_argument("give at least two classes to choose from");
  const encoders::PromptTemplates clip_templates = encoders::resolve_prompt_templates(o.templates, "clip");
  const encoders::PromptTemplates clap_templates = encoders::resolve_audio_prompt_templates(o.templates, o.audio_templates);

  std::optional<TrainedRun> run;
  if (!o.run_dir.empty()) run = load_trained_run(o.run_dir);
  const bool need_clap = run ? (uses_audio(run->modality) || uses_clap(run->labels)) : !o.clap_dir.empty();
  if (need_clap && o.clap_dir.empty()) {
    throw std::invalid_argument(o.run_dir.string() + ": this run uses audio features or CLAP class text; give --clap MODEL");
  }
  encoders::ClipEncoder clip(o.clip_dir, o.device);
  std::optional<encoders::ClapEncoder> clap;
  if (need_clap) clap.emplace(o.clap_dir, o.device);
  const encoders::VideoEncoders encoders{&clip, clap ? &*clap : nullptr, o.frames, o.pixels};

  torch::Tensor clip_text, clap_text;  // [K, E] unit rows
  if (!run || uses_clip(run->labels)) {
    clip_text = encoders::ensemble_class_embeddings(classes, clip_templates,
                                          [&](const std::vector<std::string>& t) { return clip.encode_texts(t); });
  }
  if (clap && (!run || uses_clap(run->labels))) {
    clap_text = encoders::ensemble_class_embeddings(classes, clap_templates,
                                          [&](const std::vector<std::string>& t) { return clap->encode_texts(t); });
  }
  torch::Tensor class_embeddings;  // run mode: theta_w [K, 64]
  if (run) {
    std::vector<torch::Tensor> parts;
    if (uses_clip(run->labels)) parts.push_back(clip_text);
    if (uses_clap(run->labels)) parts.push_back(clap_text);
    const torch::Tensor text = torch::cat(parts, 1);
    const auto& options = run->model->options();
    const int64_t input_dim = (uses_visual(run->modality) ? clip.embedding_dim() : 0) +
                              (uses_audio(run->modality) ? clap->embedding_dim() : 0);
    if (text.size(1) != options.text_dim || input_dim != options.input_dim) {
      throw std::runtime_error(fmt::format(
          "{}: the model takes {}-d inputs and {}-d class text ({} / {}), but these encoders give {}-d and {}-d; "
          "give the CLIP and CLAP models whose features it was trained on",
          run->checkpoint.string(), options.input_dim, options.text_dim, to_string(run->modality), to_string(run->labels),
          input_dim, text.size(1)));
    }
    torch::NoGradGuard no_grad;
    class_embeddings = run->model->embed_classes(text);
  }

  PredictionReport report;
  report.mode = run ? "run" : "training-free";
  const bool visual_in = run ? uses_visual(run->modality) : true;
  const bool audio_in = run ? uses_audio(run->modality) : clap.has_value();
  report.modalities = visual_in && audio_in ? "visual+audio" : visual_in ? "visual" : "audio";

  constexpr size_t kVideosPerBatch = 16;
  util::Progress progress("predict", static_cast<int64_t>(o.videos.size()), "videos",
                          util::stderr_is_terminal() && o.videos.size() > kVideosPerBatch);
  for (size_t start = 0; start < o.videos.size(); start += kVideosPerBatch) {
    const size_t end = std::min(o.videos.size(), start + kVideosPerBatch);
    std::vector<encoders::DecodedVideo> decoded;
    for (size_t i = start; i < end; ++i) decoded.push_back(encoders::decode_for_encoders(o.videos[i], encoders));
    std::vector<const encoders::DecodedVideo*> usable;
    for (const encoders::DecodedVideo& d : decoded) {
      if (d.error.empty()) usable.push_back(&d);
    }
    const encoders::VideoFeatures features = encoders::encode_videos(usable, encoders);
    torch::Tensor scores;  // [n, K], higher is better
    if (!usable.empty()) {
      torch::NoGradGuard no_grad;
      if (run) {
        std::vector<torch::Tensor> parts;
        if (visual_in) parts.push_back(features.visual);
        if (audio_in) parts.push_back(features.audio);
        scores = -metrics::embedding_distances(run->model->embed_videos(torch::cat(parts, 1)), class_embeddings);
      } else {
        scores = training_free_probabilities(features.visual, clip_text,
                                             audio_in ? features.audio : torch::Tensor(), clap_text);
      }
    }
    int64_t row = 0;
    for (size_t i = start; i < end; ++i) {
      const encoders::DecodedVideo& d = decoded[i - start];
      VideoPrediction p;
      p.video = o.videos[i];
      p.has_audio = d.has_audio;
      p.error = d.error;
      if (d.error.empty()) p.top = top_scores(scores[row++], classes, o.top_k);
      report.videos.push_back(std::move(p));
    }
    progress.update(static_cast<int64_t>(end));
  }
  progress.finish();
  return report;
}

}  // namespace avgzsl::prediction
