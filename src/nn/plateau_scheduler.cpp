#include "avgzsl/nn/plateau_scheduler.h"

#include <algorithm>
#include <limits>

namespace avgzsl::nn {

PlateauScheduler::PlateauScheduler(torch::optim::Optimizer& optimizer, PlateauOptions options)
    : optimizer_(optimizer),
      options_(options),
      best_(options.maximize ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity()) {}

bool PlateauScheduler::is_better(double metric) const {
  return options_.maximize ? metric > best_ * (1.0 + options_.threshold) : metric < best_ * (1.0 - options_.threshold);
}

bool PlateauScheduler::step(double metric) {
  if (is_better(metric)) {
    best_ = metric;
    bad_epochs_ = 0;
  } else {
    ++bad_epochs_;
  }
  if (cooldown_counter_ > 0) {
    --cooldown_counter_;
    bad_epochs_ = 0;
  }
  if (bad_epochs_ <= options_.patience) return false;
  bool reduced = false;
  for (auto& group : optimizer_.param_groups()) {
    const double old_lr = group.options().get_lr();
    const double new_lr = std::max(old_lr * options_.factor, options_.min_lr);
    if (old_lr - new_lr > options_.eps) {
      group.options().set_lr(new_lr);
      reduced = true;
    }
  }
  cooldown_counter_ = options_.cooldown;
  bad_epochs_ = 0;
  return reduced;
}

double PlateauScheduler::learning_rate() const { return optimizer_.param_groups().front().options().get_lr(); }

}  // namespace avgzsl::nn
