// A one-line progress display for long work: items done, rate, time left.
// It draws on stderr only when stderr is a terminal, so logs and CI output stay quiet.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace avgzsl::util {

class Progress {
 public:
  // `unit`: what is counted ("batches", "videos"); `enabled`: normally stderr_is_terminal().
  Progress(std::string label, int64_t total, std::string unit, bool enabled);
  ~Progress();
  // Sets the count of finished items; `detail` is appended (e.g. "loss 1.234").
  void update(int64_t done, const std::string& detail = "");
  // Clears the line.
  void finish();
  // Whether anything is drawn; lets callers skip building `detail` strings for nothing.
  bool enabled() const { return enabled_; }

 private:
  std::string label_;
  std::string unit_;
  int64_t total_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

bool stderr_is_terminal();

// "1h02m", "3m05s", "12s".
std::string format_duration(double seconds);

}  // namespace avgzsl::util
