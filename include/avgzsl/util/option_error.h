// A bad value of a named option. what() speaks of what the option means ("the batch size must
// be at least 2 ..."), so that a library user who never typed a flag understands it; the
// command line reports the same problem under its flag ("--batch-size must be at least 2 ...").
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

namespace avgzsl::util {

class OptionError : public std::invalid_argument {
 public:
  // `option`: the long option name and config-file key, e.g. "batch-size"; `meaning`: what it is,
  // e.g. "the batch size"; `problem`: the rest of the sentence, starting with its separator,
  // e.g. " must be at least 2" or ": expected K/N, got 'x'".
  OptionError(std::string option, const std::string& meaning, std::string problem)
      : std::invalid_argument(meaning + problem), option_(std::move(option)), problem_(std::move(problem)) {}

  const std::string& option() const { return option_; }
  const std::string& problem() const { return problem_; }
  // The message under the command-line flag: "--batch-size must be at least 2".
  std::string flag_message() const { return "--" + option_ + problem_; }

 private:
  std::string option_;
  std::string problem_;
};

// Throws OptionError "<meaning> must be between lo and hi, got v" unless lo <= value <= hi.
template <class T>
void check_option_range(const std::string& option, const std::string& meaning, T value, T lo, T hi) {
  if (value < lo || value > hi) {
    throw OptionError(option, meaning,
                      " must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got " + std::to_string(value));
  }
}

}  // namespace avgzsl::util
