// Device ranking (cuda/rank.h) against the obvious host computation: range-gain
// scores, and top-k by score with ties broken by the smaller index. Skips
// without a CUDA device.
#include <algorithm>
#include <numeric>
#include <vector>

#include "gtest/gtest.h"

#ifdef ONNX_CRYPT_HAVE_CUDA
#include <cuda_runtime.h>

#include "cuda/rank.h"
#include "onnx_crypt/engine/cuda/cuda_engine.h"
#endif

namespace onnx_crypt {
namespace {

#ifdef ONNX_CRYPT_HAVE_CUDA

template <typename T>
T* Upload(const std::vector<T>& v) {
  T* d = nullptr;
  EXPECT_EQ(cudaMalloc(&d, sizeof(T) * std::max<size_t>(v.size(), 1)),
            cudaSuccess);
  EXPECT_EQ(
      cudaMemcpy(d, v.data(), sizeof(T) * v.size(), cudaMemcpyHostToDevice),
      cudaSuccess);
  return d;
}

template <typename T>
std::vector<T> Download(const T* d, size_t n) {
  std::vector<T> v(n);
  EXPECT_EQ(cudaMemcpy(v.data(), d, sizeof(T) * n, cudaMemcpyDeviceToHost),
            cudaSuccess);
  return v;
}

TEST(CudaRankTest, ScoresAndTopKMatchTheHost) {
  if (CudaDeviceCount() == 0) GTEST_SKIP() << "no CUDA device";
  const int64_t n = 100003, k = 64;
  std::vector<float> w(n), g(n);
  std::vector<uint8_t> excluded(n, 0);
  for (int64_t i = 0; i < n; ++i) {
    w[i] = static_cast<float>((i * 37) % 1001) / 1000.0f - 0.5f;
    // Many exact ties: gradients take only 50 distinct values.
    g[i] = static_cast<float>((i * 13) % 50 - 25) / 100.0f;
    excluded[i] = (i % 97) == 0;
  }
  const float lo = -0.5f, hi = 0.5f;
  std::vector<float> want(n);
  for (int64_t i = 0; i < n; ++i) {
    float s = 0;
    if (!excluded[i] && g[i] != 0)
      s = std::abs(g[i]) * (g[i] > 0 ? hi - w[i] : w[i] - lo);
    want[i] = s > 0 ? s : 0;
  }
  float* dw = Upload(w);
  float* dg = Upload(g);
  uint8_t* dx = Upload(excluded);
  float* ds = nullptr;
  ASSERT_EQ(cudaMalloc(&ds, sizeof(float) * n), cudaSuccess);
  ASSERT_EQ(
      cuda::RangeGainScores(dw, dg, dx, lo, hi, n, false, 0, 0, ds, nullptr),
      cudaSuccess);
  const std::vector<float> got = Download(ds, n);
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(got[i], want[i]) << i;

  const size_t ws_bytes = cuda::TopKWorkspaceBytes(n);
  void* ws = nullptr;
  int64_t* top_i = nullptr;
  float* top_s = nullptr;
  ASSERT_EQ(cudaMalloc(&ws, ws_bytes), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&top_i, sizeof(int64_t) * k), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&top_s, sizeof(float) * k), cudaSuccess);
  ASSERT_EQ(cuda::TopK(ds, n, k, ws, ws_bytes, top_i, top_s, nullptr),
            cudaSuccess);
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return want[a] > want[b]; });
  const std::vector<int64_t> idx = Download(top_i, k);
  const std::vector<float> sc = Download(top_s, k);
  for (int64_t j = 0; j < k; ++j) {
    EXPECT_EQ(idx[j], order[j]) << "rank " << j;
    EXPECT_EQ(sc[j], want[order[j]]) << "rank " << j;
  }
  // Deterministic: a second run gives the same indices.
  ASSERT_EQ(cuda::TopK(ds, n, k, ws, ws_bytes, top_i, top_s, nullptr),
            cudaSuccess);
  EXPECT_EQ(Download(top_i, k), idx);
  for (void* p : {static_cast<void*>(dw), static_cast<void*>(dg),
                  static_cast<void*>(dx), static_cast<void*>(ds), ws,
                  static_cast<void*>(top_i), static_cast<void*>(top_s)}) {
    cudaFree(p);
  }
}

#else

TEST(CudaRankTest, ScoresAndTopKMatchTheHost) {
  GTEST_SKIP() << "built without CUDA";
}

#endif

}  // namespace
}  // namespace onnx_crypt
