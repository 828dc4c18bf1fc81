// One method's training step at the paper's sizes (batch 64; v 512, a 1024, t 1536; 30
// training classes; the method's UCF options), as `avgzsl train` runs it: shared by the step
// benchmark (method_step_bench.cpp) and the step profiler (step_profile.cpp).
#pragma once

#include <torch/torch.h>

#include <memory>

#include "avgzsl/data/class_balanced_sampler.h"
#include "avgzsl/gzsl/method_registry.h"
#include "avgzsl/nn/fused_adam.h"
#include "avgzsl/training/stage_training.h"
#include "avgzsl/util/threads.h"

namespace avgzsl::bench {

constexpr int64_t kBatch = 64, kVisual = 512, kAudio = 1024, kText = 1536, kTrainClasses = 30, kVideos = 3000;

// `Optimizer`: nn::FusedAdam (what training uses) or torch::optim::Adam (the baseline).
// `torch_threads`: LibTorch's intra-op threads during the steps, 1 as in training
// (util::ScopedTorchThreads); 0 keeps every core.
template <typename Optimizer = nn::FusedAdam>
struct MethodStepSetup {
  explicit MethodStepSetup(const gzsl::MethodSpec& spec, int torch_threads = 1)
      : threads(torch_threads > 0 ? std::make_unique<util::ScopedTorchThreads>(torch_threads) : nullptr) {
    torch::manual_seed(0);
    train.inputs = torch::randn({kVideos, kVisual + kAudio}).abs();
    train.labels = torch::randint(0, kTrainClasses, {kVideos}, torch::kInt64);
    for (int64_t c = 0; c < kTrainClasses; ++c) train.classes.push_back(c);
    class_text = torch::nn::functional::normalize(torch::randn({51, kText}));
    const gzsl::MethodDefaults defaults = spec.defaults("ucf");
    model = spec.make({kVisual, kAudio, kText}, defaults.options);
    model->train();
    optimizer = std::make_unique<Optimizer>(model->trainable_parameters(),
                                            torch::optim::AdamOptions(defaults.lr).weight_decay(defaults.weight_decay));
    sampler = std::make_unique<data::ClassBalancedSampler>(train.labels, 0);
    step = std::make_unique<training::TrainStep>(*model, *optimizer, train, class_text, *sampler);
  }
  double run() { return step->run(sampler->next_batch(kBatch)).total; }

  std::unique_ptr<util::ScopedTorchThreads> threads;
  data::TrainingSet train;
  torch::Tensor class_text;
  std::shared_ptr<gzsl::Method> model;
  std::unique_ptr<Optimizer> optimizer;
  std::unique_ptr<data::ClassBalancedSampler> sampler;
  std::unique_ptr<training::TrainStep> step;
};

}  // namespace avgzsl::bench
