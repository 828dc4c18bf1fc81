#include "avgzsl/gzsl/training_free.h"

#include <torch/torch.h>

#include <cmath>
#include <stdexcept>

namespace avgzsl::gzsl {

namespace {

torch::Tensor unit_rows(const torch::Tensor& x) { return x / x.norm(2, -1, true).clamp_min(1e-12); }

}  // namespace

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

torch::Tensor training_free_probabilities(const torch::Tensor& visual, const torch::Tensor& clip_text,
                                          const torch::Tensor& audio, const torch::Tensor& clap_text) {
  return training_free_log_probabilities(visual, clip_text, audio, clap_text).exp();
}

}  // namespace avgzsl::gzsl
