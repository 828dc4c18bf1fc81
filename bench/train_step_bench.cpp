// One training step at the paper's sizes (batch 64, x 1536, t 1536, 30 training classes)
// against a plain large matrix product measured in the same run, both as GFLOP/s.
//
//   ./build/bench/avgzsl_bench --benchmark_filter='Matmul|TrainStep'
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "avgzsl/data/class_balanced_sampler.h"
#include "avgzsl/data/synthetic.h"
#include "avgzsl/nn/fused_adam.h"
#include "avgzsl/training/stage_training.h"

using namespace avgzsl;  // data::, training::, ... as the library spells them

namespace {

using avgzsl::data::TrainingSet;
using avgzsl::training::TrainStep;

constexpr int64_t kBatch = 64, kInput = 1536, kText = 1536, kHidden = 512, kEmbed = 64, kTrainClasses = 30;

// Multiply-accumulates of one step, counted by layer (x2 for FLOPs). Backward costs two products
// per Linear except the input gradient of the first layers (O_enc, W_enc), which is not needed.
double train_step_flops() {
  const double B = kBatch, K = kTrainClasses;
  const double enc = kInput * kHidden, txt = kText * kHidden;
  const double proj2 = kHidden * kHidden + kHidden * kEmbed;  // O_proj and D_o each
  const double proj1 = kHidden * kEmbed;                      // W_proj and D_w each
  const double forward = B * (enc + txt + 2 * proj2 + 2 * proj1) + K * (txt + proj1) + B * K * kEmbed;
  const double backward = 2 * forward - (B * enc + B * txt + K * txt);
  const double refresh = B * (enc + txt + proj2 + proj1);  // the reference's extra embedding pass
  return 2 * (forward + backward + refresh);
}

void BM_Matmul(benchmark::State& state) {
  const int64_t n = state.range(0);
  torch::NoGradGuard no_grad;
  const torch::Tensor a = torch::randn({n, n}), b = torch::randn({n, n});
  torch::Tensor c = torch::empty({n, n});
  for (auto _ : state) {
    torch::mm_out(c, a, b);
    benchmark::DoNotOptimize(c.data_ptr());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * n * n * n, benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
}
BENCHMARK(BM_Matmul)->Arg(1024)->Arg(2048)->Unit(benchmark::kMillisecond)->UseRealTime();

// The same matrix shapes as the step's biggest layer, as one plain product: the best the step's
// products could do at this size.
void BM_MatmulBatch64(benchmark::State& state) {
  torch::NoGradGuard no_grad;
  const torch::Tensor a = torch::randn({kBatch, kInput}), w = torch::randn({kHidden, kInput});
  for (auto _ : state) benchmark::DoNotOptimize(torch::mm(a, w.t()).data_ptr());
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * kBatch * kInput * kHidden, benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
}
BENCHMARK(BM_MatmulBatch64)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_TrainStep(benchmark::State& state) {
  torch::manual_seed(0);
  data::TrainingSet train;
  train.inputs = torch::randn({3000, kInput});
  train.labels = torch::randint(0, kTrainClasses, {3000}, torch::kInt64);
  for (int64_t c = 0; c < kTrainClasses; ++c) train.classes.push_back(c);
  const torch::Tensor class_text = torch::randn({51, kText});
  avgzsl::gzsl::ClipClapOptions options;
  avgzsl::gzsl::ClipClap model(options);
  model->train();
  avgzsl::nn::FusedAdam adam(model->parameters(), torch::optim::AdamOptions(7e-5).weight_decay(1e-5));
  avgzsl::data::ClassBalancedSampler sampler(train.labels, 0);
  training::TrainStep step(*model, adam, train, class_text, sampler);
  std::vector<int64_t> batch(kBatch);
  int64_t next = 0;
  for (auto _ : state) {
    for (auto& i : batch) i = (next++ * 7919) % 3000;
    benchmark::DoNotOptimize(step.run(batch).total);
  }
  state.counters["GFLOP/s"] = benchmark::Counter(train_step_flops(), benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
}
BENCHMARK(BM_TrainStep)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(3.0);

}  // namespace

namespace {

// The same step on the synthetic benchmark's stage-1 training set, as `avgzsl train` runs it
// (real labels and class texts, after one epoch of training). Flushing denormals made no
// difference here, so we do not.
void BM_TrainStepSyntheticData(benchmark::State& state) {
  static const avgzsl::data::Dataset dataset = avgzsl::data::make_synthetic_dataset({});
  static const avgzsl::data::ProtocolSets sets = avgzsl::data::build_protocol_sets(dataset, avgzsl::data::Modality::kBoth, avgzsl::data::LabelSource::kBoth);
  torch::manual_seed(0);
  avgzsl::gzsl::ClipClapOptions options;
  avgzsl::gzsl::ClipClap model(options);
  model->train();
  avgzsl::nn::FusedAdam adam(model->parameters(), torch::optim::AdamOptions(7e-5).weight_decay(1e-5));
  avgzsl::data::ClassBalancedSampler sampler(sets.stage1_train.labels, 0);
  training::TrainStep step(*model, adam, sets.stage1_train, sets.class_text, sampler);
  for (int warmup = 0; warmup < 300; ++warmup) step.run(sampler.next_batch(kBatch));  // one epoch in
  for (auto _ : state) benchmark::DoNotOptimize(step.run(sampler.next_batch(kBatch)).total);
  state.counters["GFLOP/s"] = benchmark::Counter(train_step_flops(), benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
}
BENCHMARK(BM_TrainStepSyntheticData)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(3.0);

}  // namespace
