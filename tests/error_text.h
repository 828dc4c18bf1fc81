// What a call throws, as "<type>: <message>" ("" when nothing is thrown): lets a test assert both
// the kind of error (the caller's mistake or a file's) and its one-line message. Torch-free.
#pragma once

#include <stdexcept>
#include <string>

namespace avgzsl::testing {

template <class F>
std::string typed_error_of(F&& call) {
  try {
    call();
  } catch (const std::runtime_error& e) {
    return std::string("runtime_error: ") + e.what();
  } catch (const std::invalid_argument& e) {
    return std::string("invalid_argument: ") + e.what();
  }
  return "";
}

// What a call throws, as its message alone ("" when nothing is thrown).
template <class F>
std::string error_message(F&& call) {
  try {
    call();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace avgzsl::testing
