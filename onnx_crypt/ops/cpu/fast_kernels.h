// Which CPU kernels run, and with how many threads.
//
// The reference kernels (im2col + OpenBLAS, plain loops) are the oracle. Where
// oneDNN is built in (ONNX_CRYPT_HAVE_DNNL) some ops run a fast path instead
// (conv_dnnl.h says which configurations). ONNX_CRYPT_REFERENCE_KERNELS=1 in
// the environment, read once, forces the reference kernels for the process;
// tests switch at run time with SetFastKernelsEnabled.
//
// Thread safety: FastKernelsEnabled may be called from any thread;
// SetFastKernelsEnabled must not race with running engines.
#ifndef ONNX_CRYPT_OPS_CPU_FAST_KERNELS_H_
#define ONNX_CRYPT_OPS_CPU_FAST_KERNELS_H_

#include <cstdint>

namespace onnx_crypt::cpu {

// True when a fast path is compiled in.
bool FastKernelsAvailable();

// True when fast paths are compiled in and not switched off.
bool FastKernelsEnabled();

// Overrides the environment variable (no effect when none is compiled in).
void SetFastKernelsEnabled(bool enabled);

// C = alpha * op(A) op(B) + beta * C, row-major, through oneDNN's SGEMM when
// the fast kernels are enabled (its own CPU dispatch: no OPENBLAS_CORETYPE
// needed, which a library imported into a process that already loaded
// OpenBLAS cannot set). Returns false, doing nothing, when it did not run: the
// caller then uses OpenBLAS.
bool FastSgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
               float alpha, const float* a, int64_t lda, const float* b,
               int64_t ldb, float beta, float* c, int64_t ldc);

// Sets the thread count of every CPU kernel runtime: OpenBLAS and oneDNN's
// OpenMP. n <= 0 leaves the defaults. OpenBLAS's count is process-wide; the
// OpenMP count applies to the calling thread (and threads it starts later), so
// call it on the thread that runs the engine.
void SetKernelThreads(int n);

}  // namespace onnx_crypt::cpu

#endif  // ONNX_CRYPT_OPS_CPU_FAST_KERNELS_H_
