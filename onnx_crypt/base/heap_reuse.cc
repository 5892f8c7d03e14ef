#include "onnx_crypt/base/heap_reuse.h"

#include <cstdlib>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace onnx_crypt {

namespace {

bool Apply() {
#if defined(__GLIBC__)
  if (std::getenv("MALLOC_MMAP_THRESHOLD_") != nullptr ||
      std::getenv("MALLOC_TRIM_THRESHOLD_") != nullptr ||
      std::getenv("GLIBC_TUNABLES") != nullptr) {
    return false;
  }
  // glibc's largest allowed mmap threshold on 64-bit (HEAP_MAX_SIZE / 2);
  // larger blocks are still mmapped and go back to the kernel when freed.
  constexpr int kMmapThreshold = 32 << 20;
  constexpr int kTrimThreshold = 1 << 30;
  return mallopt(M_MMAP_THRESHOLD, kMmapThreshold) == 1 &&
         mallopt(M_TRIM_THRESHOLD, kTrimThreshold) == 1;
#else
  return false;
#endif
}

}  // namespace

bool KeepFreedTensorMemory() {
  static const bool applied = Apply();  // once, thread-safe (C++11 statics)
  return applied;
}

}  // namespace onnx_crypt
