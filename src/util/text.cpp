#include "avgzsl/util/text.h"

namespace avgzsl::util {

uint64_t stable_hash(const std::string& text) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a 64 offset basis
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace avgzsl::util
