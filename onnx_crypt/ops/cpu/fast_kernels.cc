// The switch between the fast and the reference CPU kernels, and the thread
// count shared by OpenBLAS and oneDNN (Debian's libdnnl2 runs on GNU OpenMP,
// OpenBLAS on its own pthreads: both are told the same number).
#include "onnx_crypt/ops/cpu/fast_kernels.h"

#include <cblas.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

#if defined(ONNX_CRYPT_HAVE_DNNL)
#include <omp.h>

#include "oneapi/dnnl/dnnl.h"
#endif

namespace onnx_crypt::cpu {

namespace {

bool ReferenceRequestedByEnvironment() {
  const char* v = std::getenv("ONNX_CRYPT_REFERENCE_KERNELS");
  return v != nullptr && *v != '\0' && std::strcmp(v, "0") != 0;
}

std::atomic<bool>& Enabled() {
  static std::atomic<bool> enabled(FastKernelsAvailable() &&
                                   !ReferenceRequestedByEnvironment());
  return enabled;
}

}  // namespace

bool FastKernelsAvailable() {
#if defined(ONNX_CRYPT_HAVE_DNNL)
  return true;
#else
  return false;
#endif
}

bool FastKernelsEnabled() { return Enabled().load(std::memory_order_relaxed); }

void SetFastKernelsEnabled(bool enabled) {
  Enabled().store(enabled && FastKernelsAvailable());
}

bool FastSgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
               float alpha, const float* a, int64_t lda, const float* b,
               int64_t ldb, float beta, float* c, int64_t ldc) {
#if defined(ONNX_CRYPT_HAVE_DNNL)
  if (!FastKernelsEnabled()) return false;
  return dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a,
                    lda, b, ldb, beta, c, ldc) == dnnl_success;
#else
  return false;
#endif
}

void SetKernelThreads(int n) {
  if (n <= 0) return;
  openblas_set_num_threads(n);
#if defined(ONNX_CRYPT_HAVE_DNNL)
  omp_set_num_threads(n);
#endif
}

}  // namespace onnx_crypt::cpu
