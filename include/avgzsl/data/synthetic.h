// The embedded synthetic benchmark: a test bed with the geometry of UCF-GZSL, NOT a benchmark.
// Numbers on it say that the code works, not how well the method works (docs/synthetic.md).
//
// Generative story (all draws from one seed):
//   every class c has a visual latent z_v(c) and an audio latent z_a(c);
//   CLIP text  t_clip(c) = norm(P_clip z_v(c) + leak * Q_clip z_a(c) + text noise)
//   CLAP text  t_clap(c) = norm(P_clap z_a(c) + leak * Q_clap z_v(c) + text noise)
//   a video of class c: v = norm(M_v (s_v(c) z_v(c) + within-class noise) + clutter)
//                       a = norm(M_a (s_a(c) z_a(c) + within-class noise) + clutter)
// The maps P, Q, M are shared by all classes, so text generalises to unseen classes. A third of
// the classes are mostly visual (s_v high, s_a low), a third mostly audible, a third balanced:
// both modalities together beat either alone, and since CLIP text carries z_v and CLAP text z_a,
// both label embeddings beat either alone.
#pragma once

#include <cstdint>

#include "avgzsl/data/dataset.h"

namespace avgzsl::data {

struct SyntheticOptions {
  uint64_t seed = 0;
  double difficulty = 1.0;     // scales every noise term; 0.5 is easy, 2 is hard
  double videos_scale = 1.0;   // multiplies the number of videos per class (tests use less)
  int64_t visual_dim = 512;    // CLIP ViT-B/32 image embedding
  int64_t audio_dim = 1024;    // WavCaps HTSAT-BERT audio embedding
  int64_t clip_dim = 512;      // CLIP text embedding
  int64_t clap_dim = 1024;     // WavCaps text embedding
  int64_t latent_dim = 16;     // per modality
};

// UCF-GZSL's class geometry: 51 classes; 30 stage-1 train, 12 val-unseen, 9 test-unseen.
Dataset make_synthetic_dataset(const SyntheticOptions& options);

}  // namespace avgzsl::data
