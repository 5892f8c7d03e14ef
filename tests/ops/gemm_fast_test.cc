// The float32 GEMM behind Gemm, MatMul and the reference Conv's im2col
// (ops/cpu/blas.h): with the fast kernels on it runs oneDNN's SGEMM, off it
// runs OpenBLAS. Both are checked against a double-precision triple loop on
// transposes, leading dimensions, alpha/beta and odd sizes, and the fast path
// must give bit-identical results run to run at 1 and 2 threads (keys depend
// on it).
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "onnx_crypt/ops/cpu/blas.h"
#include "onnx_crypt/ops/cpu/fast_kernels.h"

namespace onnx_crypt::cpu {
namespace {

struct Case {
  bool ta, tb;
  int64_t m, n, k;
  float alpha, beta;
  int64_t pad;  // extra columns in every leading dimension
};

std::vector<Case> Cases() {
  return {{false, false, 7, 5, 3, 1.0f, 0.0f, 0},
          {true, false, 16, 33, 17, 0.5f, 1.0f, 0},
          {false, true, 64, 10, 400, 1.0f, 0.0f, 0},  // a LeNet fc layer
          {true, true, 9, 13, 11, -2.0f, 0.25f, 3},
          {false, false, 1, 120, 256, 1.0f, 1.0f, 5},
          {false, true, 256, 84, 120, 1.0f, 0.0f, 0}};
}

struct Operands {
  std::vector<float> a, b, c;
  int64_t lda, ldb, ldc;
};

Operands Make(const Case& c, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  Operands o;
  const int64_t a_rows = c.ta ? c.k : c.m, a_cols = c.ta ? c.m : c.k;
  const int64_t b_rows = c.tb ? c.n : c.k, b_cols = c.tb ? c.k : c.n;
  o.lda = a_cols + c.pad;
  o.ldb = b_cols + c.pad;
  o.ldc = c.n + c.pad;
  o.a.resize(a_rows * o.lda);
  o.b.resize(b_rows * o.ldb);
  o.c.resize(c.m * o.ldc);
  for (float& v : o.a) v = u(gen);
  for (float& v : o.b) v = u(gen);
  for (float& v : o.c) v = u(gen);
  return o;
}

// C as the double-precision triple loop gives it.
std::vector<double> Oracle(const Case& c, const Operands& o) {
  std::vector<double> out(o.c.begin(), o.c.end());
  for (int64_t i = 0; i < c.m; ++i) {
    for (int64_t j = 0; j < c.n; ++j) {
      double sum = 0;
      for (int64_t p = 0; p < c.k; ++p) {
        const double a = c.ta ? o.a[p * o.lda + i] : o.a[i * o.lda + p];
        const double b = c.tb ? o.b[j * o.ldb + p] : o.b[p * o.ldb + j];
        sum += a * b;
      }
      out[i * o.ldc + j] = c.alpha * sum + c.beta * o.c[i * o.ldc + j];
    }
  }
  return out;
}

std::vector<float> RunGemm(const Case& c, const Operands& o) {
  std::vector<float> out = o.c;
  Gemm<float>(c.ta, c.tb, c.m, c.n, c.k, c.alpha, o.a.data(), o.lda, o.b.data(),
              o.ldb, c.beta, out.data(), o.ldc);
  return out;
}

std::string Label(const Case& c) {
  return std::to_string(c.m) + "x" + std::to_string(c.n) + "x" +
         std::to_string(c.k) + (c.ta ? " A^T" : "") + (c.tb ? " B^T" : "");
}

TEST(GemmFastTest, BothPathsMatchTheDoublePrecisionOracle) {
  for (bool fast : {false, true}) {
    SetFastKernelsEnabled(fast);
    for (const Case& c : Cases()) {
      SCOPED_TRACE(Label(c) + (fast ? " fast" : " reference"));
      const Operands o = Make(c, 7);
      const std::vector<double> want = Oracle(c, o);
      const std::vector<float> got = RunGemm(c, o);
      for (size_t i = 0; i < got.size(); ++i) {
        // Float32 sums of k products of values in [-1, 1].
        const double tol = 1e-6 * (1 + std::sqrt(static_cast<double>(c.k))) *
                           (std::abs(c.alpha) + std::abs(c.beta) + 1) * 4;
        ASSERT_NEAR(got[i], want[i], tol) << "element " << i;
      }
    }
  }
  SetFastKernelsEnabled(true);
}

TEST(GemmFastTest, FastPathIsBitIdenticalRunToRun) {
  if (!FastKernelsAvailable()) GTEST_SKIP() << "built without oneDNN";
  SetFastKernelsEnabled(true);
  for (int threads : {1, 2}) {
    SetKernelThreads(threads);
    for (const Case& c : Cases()) {
      const Operands o = Make(c, 11);
      const std::vector<float> a = RunGemm(c, o), b = RunGemm(c, o);
      EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0)
          << Label(c) << " at " << threads << " threads";
    }
  }
}

TEST(GemmFastTest, DegenerateSizes) {
  for (bool fast : {false, true}) {
    SetFastKernelsEnabled(fast);
    std::vector<float> c = {1, 2, 3, 4};
    const float a[1] = {0}, b[1] = {0};
    Gemm<float>(false, false, 2, 2, 0, 1.0f, a, 1, b, 2, 0.5f, c.data(), 2);
    EXPECT_EQ(c, (std::vector<float>{0.5f, 1, 1.5f, 2}));  // k = 0: beta * C
    Gemm<float>(false, false, 0, 2, 3, 1.0f, a, 3, b, 2, 0.0f, c.data(), 2);
    EXPECT_EQ(c, (std::vector<float>{0.5f, 1, 1.5f, 2}));  // m = 0: no-op
  }
  SetFastKernelsEnabled(true);
}

}  // namespace
}  // namespace onnx_crypt::cpu
