#include "avgzsl/data/synthetic.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <random>
#include <stdexcept>

namespace avgzsl::data {

namespace {

constexpr int kStage1Train = 30;
constexpr int kValUnseen = 12;
constexpr int kTestUnseen = 9;
constexpr int kClasses = kStage1Train + kValUnseen + kTestUnseen;  // 51, as UCF-GZSL

// Noise levels at difficulty 1 (chosen so that the full model is far from both chance and 100%).
constexpr double kWithinClass = 0.9;   // per-video deviation from the class latent
constexpr double kClutter = 0.6;       // per-video clutter along class-independent directions
constexpr double kTextNoise = 0.35;    // class-text deviation from its latent
constexpr double kTextLeak = 0.3;      // how much the other modality's latent reaches a text
constexpr double kStrong = 1.0;        // signal strength of a class's informative modality
constexpr double kWeak = 0.2;          // ... of its uninformative one
constexpr int64_t kClutterDim = 24;

// Gaussian draws from a fixed engine and Box-Muller, so that the data depend only on the seed
// (std::normal_distribution differs between standard libraries).
class Gaussian {
 public:
  explicit Gaussian(uint64_t seed) : rng_(seed) {}
  double next() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double u1 = (static_cast<double>(rng_() >> 11) + 1.0) * 0x1.0p-53;  // (0, 1]
    const double u2 = static_cast<double>(rng_() >> 11) * 0x1.0p-53;          // [0, 1)
    const double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = r * std::sin(2 * M_PI * u2);
    has_spare_ = true;
    return r * std::cos(2 * M_PI * u2);
  }
  torch::Tensor matrix(int64_t rows, int64_t cols, double scale = 1.0) {
    torch::Tensor t = torch::empty({rows, cols}, torch::kFloat32);
    float* p = t.data_ptr<float>();
    for (int64_t i = 0; i < rows * cols; ++i) p[i] = static_cast<float>(scale * next());
    return t;
  }
  uint64_t below(uint64_t n) { return rng_() % n; }  // bias irrelevant for tiny n

 private:
  std::mt19937_64 rng_;
  bool has_spare_ = false;
  double spare_ = 0;
};

torch::Tensor row_normalize(const torch::Tensor& x) { return x / x.norm(2, 1, true).clamp_min(1e-12); }

}  // namespace

Dataset make_synthetic_dataset(const SyntheticOptions& o) {
  if (o.difficulty < 0 || !(o.videos_scale > 0)) throw std::invalid_argument("synthetic: difficulty must be >= 0 and videos scale > 0");
  if (o.visual_dim <= 0 || o.audio_dim <= 0 || o.clip_dim <= 0 || o.clap_dim <= 0 || o.latent_dim <= 0) {
    throw std::invalid_argument("synthetic: dimensions must be positive");
  }
  Gaussian g(o.seed);
  const int64_t L = o.latent_dim;
  const double d = o.difficulty;

  Dataset ds;
  ds.name = "synthetic-ucf";
  ds.description = fmt::format("avgzsl synthetic test bed (UCF-GZSL geometry), seed {}, difficulty {}, videos scale {}. "
                               "Not a benchmark.", o.seed, o.difficulty, o.videos_scale);
  ds.visual_dim = o.visual_dim;
  ds.audio_dim = o.audio_dim;
  ds.clip_dim = o.clip_dim;
  ds.clap_dim = o.clap_dim;
  for (int c = 0; c < kClasses; ++c) {
    ds.classes.push_back({fmt::format("SynthClass{:02d}", c), fmt::format("synthetic class {:02d}", c)});
  }

  // Shared maps (fixed for all classes).
  const double map_scale = 1.0 / std::sqrt(static_cast<double>(L));
  const torch::Tensor P_clip = g.matrix(L, o.clip_dim, map_scale), Q_clip = g.matrix(L, o.clip_dim, map_scale);
  const torch::Tensor P_clap = g.matrix(L, o.clap_dim, map_scale), Q_clap = g.matrix(L, o.clap_dim, map_scale);
  const torch::Tensor M_v = g.matrix(L, o.visual_dim, map_scale), M_a = g.matrix(L, o.audio_dim, map_scale);
  const double clutter_scale = 1.0 / std::sqrt(static_cast<double>(kClutterDim));
  const torch::Tensor C_v = g.matrix(kClutterDim, o.visual_dim, clutter_scale);
  const torch::Tensor C_a = g.matrix(kClutterDim, o.audio_dim, clutter_scale);

  // Class latents, texts and modality profiles.
  const torch::Tensor z_v = g.matrix(kClasses, L), z_a = g.matrix(kClasses, L);
  ds.clip_text = row_normalize(z_v.matmul(P_clip) + kTextLeak * z_a.matmul(Q_clip) +
                               g.matrix(kClasses, o.clip_dim, d * kTextNoise));
  ds.clap_text = row_normalize(z_a.matmul(P_clap) + kTextLeak * z_v.matmul(Q_clap) +
                               g.matrix(kClasses, o.clap_dim, d * kTextNoise));
  std::vector<double> s_v(kClasses), s_a(kClasses);
  for (int c = 0; c < kClasses; ++c) {
    switch (c % 3) {
      case 0: s_v[c] = kStrong, s_a[c] = kWeak; break;    // mostly visual
      case 1: s_v[c] = kWeak, s_a[c] = kStrong; break;    // mostly audible
      default: s_v[c] = kStrong * 0.7, s_a[c] = kStrong * 0.7; break;  // both help
    }
  }

  // A seeded permutation assigns classes to the splits.
  std::vector<int64_t> order(kClasses);
  for (int c = 0; c < kClasses; ++c) order[c] = c;
  for (int i = kClasses - 1; i > 0; --i) std::swap(order[i], order[g.below(static_cast<uint64_t>(i) + 1)]);
  auto sorted_slice = [&](int from, int count) {
    std::vector<int64_t> v(order.begin() + from, order.begin() + from + count);
    std::sort(v.begin(), v.end());
    return v;
  };
  const auto s1_train = sorted_slice(0, kStage1Train);
  const auto val_unseen = sorted_slice(kStage1Train, kValUnseen);
  const auto test_unseen = sorted_slice(kStage1Train + kValUnseen, kTestUnseen);
  std::vector<int64_t> s2_train = s1_train;
  s2_train.insert(s2_train.end(), val_unseen.begin(), val_unseen.end());
  std::sort(s2_train.begin(), s2_train.end());
  ds.class_splits = {{"stage_1_train", s1_train},       {"stage_1_val_seen", s1_train},
                     {"stage_1_val_unseen", val_unseen}, {"stage_2_train", s2_train},
                     {"stage_2_test_seen", s2_train},    {"stage_2_test_unseen", test_unseen}};

  // Videos per class (ranges around UCF-GZSL's sizes), scaled.
  struct Plan {
    const char* split;
    const std::vector<int64_t>* classes;
    int low, high;
  };
  const Plan plans[] = {{"stage_1_train", &s1_train, 80, 120},
                        {"stage_1_val_seen", &s1_train, 15, 25},
                        {"stage_1_val_unseen", &val_unseen, 30, 50},
                        {"stage_2_test_seen", &s2_train, 15, 25},
                        {"stage_2_test_unseen", &test_unseen, 30, 50}};
  for (const Plan& plan : plans) {
    std::vector<int64_t> labels;
    for (int64_t c : *plan.classes) {
      const int base = plan.low + static_cast<int>(g.below(static_cast<uint64_t>(plan.high - plan.low + 1)));
      const int n = std::max(2, static_cast<int>(std::lround(base * o.videos_scale)));
      labels.insert(labels.end(), n, c);
    }
    const auto N = static_cast<int64_t>(labels.size());
    torch::Tensor y = torch::tensor(labels, torch::kInt64);
    torch::Tensor sv = torch::empty({N, 1}), sa = torch::empty({N, 1});
    for (int64_t i = 0; i < N; ++i) {
      sv[i][0] = s_v[labels[i]];
      sa[i][0] = s_a[labels[i]];
    }
    const torch::Tensor latent_v = sv * z_v.index_select(0, y) + g.matrix(N, L, d * kWithinClass);
    const torch::Tensor latent_a = sa * z_a.index_select(0, y) + g.matrix(N, L, d * kWithinClass);
    VideoSplit v;
    v.visual = row_normalize(latent_v.matmul(M_v) + g.matrix(N, kClutterDim, d * kClutter).matmul(C_v)).contiguous();
    v.audio = row_normalize(latent_a.matmul(M_a) + g.matrix(N, kClutterDim, d * kClutter).matmul(C_a)).contiguous();
    v.labels = y;
    for (int64_t i = 0; i < N; ++i) v.video_ids.push_back(fmt::format("{}_{:05d}_{}", plan.split, i, ds.classes[labels[i]].name));
    ds.video_splits[plan.split] = std::move(v);
  }
  validate_dataset(ds, "synthetic dataset");
  return ds;
}

}  // namespace avgzsl::data
