// Learning-rate reduction when a metric stops improving, with the semantics and defaults of
// PyTorch's ReduceLROnPlateau (threshold 1e-4 relative, cooldown 0, min_lr 0, eps 1e-8).
// Hand-written: LibTorch 1.13 has no such scheduler for its C++ optimisers.
#pragma once

#include <torch/optim/optimizer.h>

namespace avgzsl::nn {

struct PlateauOptions {
  bool maximize = true;     // "max": a larger metric is better
  double factor = 0.1;      // new lr = lr * factor
  int patience = 3;         // epochs without improvement tolerated before reducing
  double threshold = 1e-4;  // relative improvement that counts
  int cooldown = 0;         // epochs to wait after a reduction
  double min_lr = 0.0;
  double eps = 1e-8;        // reductions smaller than this are skipped
};

class PlateauScheduler {
 public:
  PlateauScheduler(torch::optim::Optimizer& optimizer, PlateauOptions options);
  // Call once per epoch with the validation metric; returns true when the lr was reduced.
  bool step(double metric);
  double learning_rate() const;

 private:
  bool is_better(double metric) const;

  torch::optim::Optimizer& optimizer_;
  PlateauOptions options_;
  double best_;
  int bad_epochs_ = 0;
  int cooldown_counter_ = 0;
};

}  // namespace avgzsl::nn
