// The per-thread state the oneDNN convolutions (conv_dnnl.cc) need: growing
// aligned scratch buffers per calling thread, and the caller's denormal mode
// handed to the OpenMP workers for one call. Built only with oneDNN (OpenMP).
#ifndef ONNX_CRYPT_OPS_CPU_THREADS_DNNL_H_
#define ONNX_CRYPT_OPS_CPU_THREADS_DNNL_H_

#include <omp.h>

#include <cstddef>
#include <vector>

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

namespace onnx_crypt::cpu {

// 64-byte aligned, growing buffers of the calling thread, one per slot; a
// buffer stays valid until the same thread asks for a larger one in its slot.
void* ThreadBuffer(size_t slot, size_t bytes);

// Whether the OpenMP workers sleep between parallel regions
// (OMP_WAIT_POLICY=PASSIVE, which base/openblas_env.cc and the Python module
// choose when other processes keep the cores busy; or GOMP_SPINCOUNT=0) rather
// than spin for a while: then every region pays for waking them. Read once.
bool WorkersSleep();

// The OpenMP workers do not inherit the caller's denormal mode (CallScope in
// engine/cpu_engine.cc sets FTZ/DAZ on the calling thread): give it to them for
// one call and restore theirs after.
class WorkerDenormalScope {
 public:
  WorkerDenormalScope() {
#if defined(__SSE__)
    const unsigned int mode = _mm_getcsr() & kBits;
    saved_.assign(static_cast<size_t>(omp_get_max_threads()), 0);
#pragma omp parallel
    {
      const int t = omp_get_thread_num();
      const unsigned int csr = _mm_getcsr();
      if (t < static_cast<int>(saved_.size())) saved_[t] = csr;
      _mm_setcsr((csr & ~kBits) | mode);
    }
#endif
  }
  ~WorkerDenormalScope() {
#if defined(__SSE__)
#pragma omp parallel
    {
      const int t = omp_get_thread_num();
      if (t < static_cast<int>(saved_.size())) _mm_setcsr(saved_[t]);
    }
#endif
  }
  WorkerDenormalScope(const WorkerDenormalScope&) = delete;
  WorkerDenormalScope& operator=(const WorkerDenormalScope&) = delete;

 private:
  static constexpr unsigned int kBits = 0x8040;  // FTZ | DAZ
  std::vector<unsigned int> saved_;
};

}  // namespace onnx_crypt::cpu

#endif  // ONNX_CRYPT_OPS_CPU_THREADS_DNNL_H_
