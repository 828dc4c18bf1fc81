#include "avgzsl/prediction/zero_shot_prediction.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <optional>
#include <set>
#include <stdexcept>

#include "avgzsl/data/class_names.h"
#include "avgzsl/data/protocol_sets.h"
#include "avgzsl/metrics/gzsl_evaluation.h"
#include "avgzsl/gzsl/method_checkpoint.h"
#include "avgzsl/gzsl/training_free.h"
#include "avgzsl/encoders/class_text.h"
#include "avgzsl/encoders/clap/clap_encoder.h"
#include "avgzsl/encoders/clip/clip_encoder.h"
#include "avgzsl/training/training_run.h"
#include "avgzsl/util/progress.h"
#include "avgzsl/util/option_error.h"

namespace avgzsl::prediction {
namespace fs = std::filesystem;

namespace {

// A trained run, with what it expects as inputs.
struct TrainedRun {
  std::shared_ptr<gzsl::Method> model;
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
  run.model = gzsl::load_method_checkpoint(run.checkpoint).model;
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
  if (o.top_k < 1) throw util::OptionError("top-k", "the number of classes shown per video", " must be at least 1");
  encoders::check_frames_per_video(o.frames);
  const std::vector<std::string> classes = data::checked_names(o.classes, "class list");
  if (classes.size() < 2) throw std::invalid_argument("give at least two classes to choose from");
  const encoders::PromptTemplates clip_templates = encoders::resolve_prompt_templates(o.templates, "clip");
  const encoders::PromptTemplates clap_templates = encoders::resolve_audio_prompt_templates(o.templates, o.audio_templates);

  std::optional<TrainedRun> run;
  if (!o.run_dir.empty()) run = load_trained_run(o.run_dir);
  const bool need_clap = run ? (uses_audio(run->modality) || uses_clap(run->labels)) : !o.clap_dir.empty();
  if (need_clap && o.clap_dir.empty()) {
    throw std::invalid_argument(o.run_dir.string() + ": this run uses audio features or CLAP class text; give --clap MODEL");
  }
  const encoders::LoadedVideoEncoders loaded(o.clip_dir, need_clap ? o.clap_dir : fs::path(), o.frames, o.pixels, o.device);
  const encoders::VideoEncoders& encoders = loaded.view();
  encoders::ClipEncoder& clip = loaded.clip();
  encoders::ClapEncoder* const clap = loaded.clap();

  torch::Tensor clip_text, clap_text;  // [K, E] unit rows
  if (!run || uses_clip(run->labels)) {
    clip_text = encoders::ensemble_class_embeddings(classes, clip_templates,
                                          [&](const std::vector<std::string>& t) { return clip.encode_texts(t); });
  }
  if (clap && (!run || uses_clap(run->labels))) {
    clap_text = encoders::ensemble_class_embeddings(classes, clap_templates,
                                          [&](const std::vector<std::string>& t) { return clap->encode_texts(t); });
  }
  torch::Tensor class_text;  // run mode: the model's class texts [K, text]
  if (run) {
    std::vector<torch::Tensor> parts;
    if (uses_clip(run->labels)) parts.push_back(clip_text);
    if (uses_clap(run->labels)) parts.push_back(clap_text);
    const torch::Tensor text = torch::cat(parts, 1);
    const gzsl::MethodDims& dims = run->model->dims();
    const int64_t input_dim = (uses_visual(run->modality) ? clip.embedding_dim() : 0) +
                              (uses_audio(run->modality) ? clap->embedding_dim() : 0);
    if (text.size(1) != dims.text || input_dim != dims.input()) {
      throw std::runtime_error(fmt::format(
          "{}: the model takes {}-d inputs and {}-d class text ({} / {}), but these encoders give {}-d and {}-d; "
          "give the CLIP and CLAP models whose features it was trained on",
          run->checkpoint.string(), dims.input(), dims.text, to_string(run->modality), to_string(run->labels),
          input_dim, text.size(1)));
    }
    class_text = text;
  }

  PredictionReport report;
  report.mode = run ? "run" : "training-free";
  const bool visual_in = run ? uses_visual(run->modality) : true;
  const bool audio_in = run ? uses_audio(run->modality) : clap != nullptr;
  report.modalities = visual_in && audio_in ? "visual+audio" : visual_in ? "visual" : "audio";

  // At most 16 videos, and about 64 frames, decoded and held at a time.
  const size_t kVideosPerBatch = static_cast<size_t>(std::clamp(64 / o.frames, 1, 16));
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
        scores = -run->model->distances(torch::cat(parts, 1), class_text);
      } else {
        scores = gzsl::training_free_probabilities(features.visual, clip_text,
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
