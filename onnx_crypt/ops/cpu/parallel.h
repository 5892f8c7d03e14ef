// ParallelFor: the CPU kernels' own loops on the kernel threads (the OpenMP
// team that oneDNN also uses, sized by SetKernelThreads in fast_kernels.h).
//
// [0, n) is cut into one contiguous range per thread (thread t gets
// [n*t/T, n*(t+1)/T)), fixed by n and T alone, and fn(begin, end) runs on each.
// Meant for loops whose every index is computed independently of the others
// (elementwise maps, one pooling window, one softmax row): their results are
// then bit-identical at every thread count, the reference kernels' included.
// A loop that sums across indices must not be split this way.
//
// Runs serially (fn(0, n) on the caller) when the fast kernels are off
// (ONNX_CRYPT_REFERENCE_KERNELS=1), when built without oneDNN/OpenMP, when n <
// 2 * grain (too little work to pay for waking a thread), or when called from
// inside a parallel region. The workers run with the caller's FTZ/DAZ mode
// (engine/cpu_engine.cc sets it per engine call), so denormals round the same
// as on the calling thread. Thread safety: fn must be safe to run concurrently
// on disjoint ranges.
#ifndef ONNX_CRYPT_OPS_CPU_PARALLEL_H_
#define ONNX_CRYPT_OPS_CPU_PARALLEL_H_

#include <cstdint>

#include "absl/functional/function_ref.h"

namespace onnx_crypt::cpu {

void ParallelFor(int64_t n, int64_t grain,
                 absl::FunctionRef<void(int64_t, int64_t)> fn);

// A grain for loops of about `cost` simple float operations per index: ranges
// of at least ~32k operations each (a few microseconds), below which waking a
// second thread costs more than it saves.
inline int64_t GrainFor(int64_t cost) {
  constexpr int64_t kMinWork = int64_t{1} << 15;
  return cost >= kMinWork ? 1 : kMinWork / (cost > 0 ? cost : 1);
}

}  // namespace onnx_crypt::cpu

#endif  // ONNX_CRYPT_OPS_CPU_PARALLEL_H_
