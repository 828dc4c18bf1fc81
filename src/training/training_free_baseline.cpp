#include "avgzsl/training/training_free_baseline.h"

#include <torch/torch.h>

#include <algorithm>
#include <stdexcept>

#include "avgzsl/data/protocol_sets.h"
#include "avgzsl/gzsl/training_free.h"
#include "avgzsl/metrics/gzsl_evaluation.h"

namespace avgzsl::training {

ProtocolSummary evaluate_training_free(const data::Dataset& dataset) {
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
    return (-gzsl::training_free_log_probabilities(visual, clip_text, audio, clap_text)).contiguous();
  };
  ProtocolSummary summary;
  summary.best_epoch = -1;  // nothing trained
  summary.validation = metrics::CalibratedStacking(distances(sets.validation), sets.validation.labels,
                                                   sets.validation.seen, sets.validation.unseen)
                           .search(metrics::reference_beta_grid());
  summary.test = metrics::CalibratedStacking(distances(sets.test), sets.test.labels, sets.test.seen, sets.test.unseen)
                     .evaluate(metrics::reference_test_beta(summary.validation.beta));
  return summary;
}

}  // namespace avgzsl::training
