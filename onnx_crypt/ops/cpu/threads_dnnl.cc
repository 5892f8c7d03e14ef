// ThreadBuffer (threads_dnnl.h): a thread_local vector of buffers, each
// reallocated (rounded up to 64 bytes) only when a call needs more.
#include "onnx_crypt/ops/cpu/threads_dnnl.h"

#include <strings.h>

#include <cstdlib>
#include <cstring>
#include <memory>

namespace onnx_crypt::cpu {

bool WorkersSleep() {
  static const bool sleep = [] {
    const char* policy = std::getenv("OMP_WAIT_POLICY");
    const char* spins = std::getenv("GOMP_SPINCOUNT");
    return (policy != nullptr && strcasecmp(policy, "passive") == 0) ||
           (spins != nullptr && std::strcmp(spins, "0") == 0);
  }();
  return sleep;
}

void* ThreadBuffer(size_t slot, size_t bytes) {
  struct Free {
    void operator()(void* p) const { std::free(p); }
  };
  struct Buffer {
    std::unique_ptr<void, Free> data;
    size_t size = 0;
  };
  thread_local std::vector<Buffer> buffers;
  if (buffers.size() <= slot) buffers.resize(slot + 1);
  Buffer& b = buffers[slot];
  if (b.size < bytes) {
    b.size = (bytes + 63) / 64 * 64;
    b.data.reset(std::aligned_alloc(64, b.size));
  }
  return b.data.get();
}

}  // namespace onnx_crypt::cpu
