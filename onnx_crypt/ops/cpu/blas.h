// Thin typed wrappers over the CPU GEMM (row-major only): float32 runs
// oneDNN's SGEMM when the fast kernels are on (fast_kernels.h: it dispatches
// on the CPU itself, so no OPENBLAS_CORETYPE is needed in a process that
// loaded OpenBLAS before us), OpenBLAS's CBLAS otherwise; float64 always runs
// OpenBLAS.
//
//   C (m x n) = alpha * op(A) (m x k) * op(B) (k x n) + beta * C
//
// where op(X) is X or X^T. Leading dimensions default to the packed row-major
// ones. Sizes are int64 here and narrowed to CBLAS's int: callers never pass
// matrices with a dimension over 2^31 - 1 (a tensor that large would not fit in
// host memory as float anyway). Degenerate sizes are handled here because CBLAS
// implementations disagree on them: m == 0 or n == 0 is a no-op, k == 0 scales
// C by beta. Thread safety: as OpenBLAS's (reentrant; it may use its own
// threads).
#ifndef ONNX_CRYPT_OPS_CPU_BLAS_H_
#define ONNX_CRYPT_OPS_CPU_BLAS_H_

#include <cblas.h>

#include <cstdint>

#include "onnx_crypt/ops/cpu/fast_kernels.h"

namespace onnx_crypt::cpu {

namespace blas_internal {

inline void Call(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k,
                 float alpha, const float* a, int lda, const float* b, int ldb,
                 float beta, float* c, int ldc) {
  if (FastSgemm(ta == CblasTrans, tb == CblasTrans, m, n, k, alpha, a, lda, b,
                ldb, beta, c, ldc)) {
    return;
  }
  cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c,
              ldc);
}
inline void Call(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k,
                 double alpha, const double* a, int lda, const double* b,
                 int ldb, double beta, double* c, int ldc) {
  cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c,
              ldc);
}

}  // namespace blas_internal

// General form with explicit leading dimensions (row strides) for A, B and C.
template <typename T>
void Gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha,
          const T* a, int64_t lda, const T* b, int64_t ldb, T beta, T* c,
          int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    for (int64_t i = 0; i < m; ++i) {
      T* row = c + i * ldc;
      for (int64_t j = 0; j < n; ++j)
        row[j] = beta == T(0) ? T(0) : beta * row[j];
    }
    return;
  }
  blas_internal::Call(trans_a ? CblasTrans : CblasNoTrans,
                      trans_b ? CblasTrans : CblasNoTrans, static_cast<int>(m),
                      static_cast<int>(n), static_cast<int>(k), alpha, a,
                      static_cast<int>(lda), b, static_cast<int>(ldb), beta, c,
                      static_cast<int>(ldc));
}

// Packed operands: A is m x k (k x m when trans_a), B is k x n (n x k when
// trans_b), C is m x n.
template <typename T>
void Gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha,
          const T* a, const T* b, T beta, T* c) {
  Gemm<T>(trans_a, trans_b, m, n, k, alpha, a, trans_a ? m : k, b,
          trans_b ? k : n, beta, c, n);
}

}  // namespace onnx_crypt::cpu

#endif  // ONNX_CRYPT_OPS_CPU_BLAS_H_
