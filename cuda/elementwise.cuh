// The one elementwise kernel template of the CUDA engine, and the broadcast
// indexer the elementwise launchers share. Included by the .cu files only.
//
// ElementwiseKernel<F> runs f(i) for every i in [0, n) with a grid-stride loop;
// each elementwise op is a small functor (what f(i) reads and writes), so ops
// differ by their functor, never by a hand-written kernel.
#ifndef ONNX_CRYPT_CUDA_ELEMENTWISE_CUH_
#define ONNX_CRYPT_CUDA_ELEMENTWISE_CUH_

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "cuda/kernels.h"

namespace onnx_crypt::cuda {

inline constexpr int kThreads = 256;
inline constexpr int64_t kMaxBlocks = 65535;

template <typename F>
__global__ void ElementwiseKernel(F f, int64_t n) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
       i < n; i += step) {
    f(i);
  }
}

inline int BlocksFor(int64_t n) {
  return static_cast<int>(std::min<int64_t>(
      kMaxBlocks, std::max<int64_t>(1, (n + kThreads - 1) / kThreads)));
}

template <typename F>
cudaError_t LaunchElementwise(const F& f, int64_t n, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  ElementwiseKernel<F><<<BlocksFor(n), kThreads, 0, stream>>>(f, n);
  return cudaGetLastError();
}

// Maps a flat row-major index of the output shape to the flat index of up to
// two broadcast operands (stride 0 on broadcast dimensions).
struct BroadcastIndexer {
  int rank = 0;
  int64_t size[kMaxRank] = {};
  int64_t stride[2][kMaxRank] = {};
  bool identity[2] = {true, true};  // operand has the output's shape

  __device__ int64_t Index(int operand, int64_t flat) const {
    if (identity[operand]) return flat;
    int64_t idx = 0;
    for (int d = rank - 1; d >= 0; --d) {
      const int64_t s = size[d];
      idx += (flat % s) * stride[operand][d];
      flat /= s;
    }
    return idx;
  }
};

// Host: the indexer for operands of shapes `shapes[k]` (ranks `ranks[k]`, at
// most `count` = 2 of them) read at the indices of `out_shape`.
inline BroadcastIndexer MakeIndexer(const int64_t* const* shapes,
                                    const int* ranks, int count,
                                    const int64_t* out_shape, int out_rank) {
  BroadcastIndexer ix;
  ix.rank = out_rank;
  for (int d = 0; d < out_rank; ++d) ix.size[d] = out_shape[d];
  for (int k = 0; k < count; ++k) {
    const int r = ranks[k];
    int64_t stride = 1;
    bool identity = r == out_rank;
    for (int d = out_rank - 1; d >= 0; --d) {
      const int src = d - (out_rank - r);
      int64_t dim = src >= 0 ? shapes[k][src] : 1;
      if (src >= 0 && dim != out_shape[d]) identity = false;
      ix.stride[k][d] = dim == 1 && out_shape[d] != 1 ? 0 : stride;
      if (dim == 1 && out_shape[d] != 1) identity = false;
      stride *= dim;
    }
    ix.identity[k] = identity;
  }
  return ix;
}

}  // namespace onnx_crypt::cuda

#endif  // ONNX_CRYPT_CUDA_ELEMENTWISE_CUH_
