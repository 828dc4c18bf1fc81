#include "avgzsl/util/allocator.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace avgzsl::util {

void keep_freed_tensor_memory() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);
#endif
}

}  // namespace avgzsl::util
