// ParallelFor over GNU OpenMP (the runtime Debian's oneDNN is built on, so the
// engine's loops and oneDNN's primitives share one team of threads instead of
// two runtimes spinning against each other on few cores).
#include "onnx_crypt/ops/cpu/parallel.h"

#include <algorithm>

#include "onnx_crypt/ops/cpu/fast_kernels.h"

#if defined(ONNX_CRYPT_HAVE_DNNL)
#include <omp.h>
#endif
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

namespace onnx_crypt::cpu {

void ParallelFor(int64_t n, int64_t grain,
                 absl::FunctionRef<void(int64_t, int64_t)> fn) {
  if (n <= 0) return;
#if defined(ONNX_CRYPT_HAVE_DNNL)
  const int64_t max_threads =
      omp_in_parallel() ? 1 : static_cast<int64_t>(omp_get_max_threads());
  const int64_t threads =
      FastKernelsEnabled()
          ? std::min<int64_t>(max_threads, n / std::max<int64_t>(1, grain))
          : 1;
  if (threads >= 2) {
#if defined(__SSE__)
    constexpr unsigned int kBits = 0x8040;  // FTZ | DAZ
    const unsigned int mode = _mm_getcsr() & kBits;
#endif
#pragma omp parallel num_threads(static_cast <int>(threads))
    {
      const int64_t t = omp_get_thread_num();
      const int64_t team = omp_get_num_threads();
#if defined(__SSE__)
      const unsigned int saved = _mm_getcsr();
      _mm_setcsr((saved & ~kBits) | mode);
#endif
      const int64_t begin = n * t / team, end = n * (t + 1) / team;
      if (begin < end) fn(begin, end);
#if defined(__SSE__)
      _mm_setcsr(saved);
#endif
    }
    return;
  }
#endif
  fn(0, n);
}

}  // namespace onnx_crypt::cpu
