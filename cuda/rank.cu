// Device ranking of lock candidates.
//
// TopK sorts all (score, index) pairs by score, descending, with
// cub::DeviceRadixSort. Radix sort is stable, and the values enter in ascending
// index order, so equal scores keep ascending index order: the same tie-break
// as the CPU path, bit-for-bit reproducible. A full sort of 10M floats is a few
// milliseconds on an H100, small next to one forward pass of such a model; a
// selection algorithm would save little and lose the simple determinism
// argument.
#include <cub/device/device_radix_sort.cuh>

#include "cuda/position_hash.h"
#include "cuda/rank.h"

namespace onnx_crypt::cuda {

namespace {

constexpr int kThreads = 256;

__global__ void RangeGainKernel(const float* w, const float* g,
                                const uint8_t* excluded, float lo, float hi,
                                int64_t n, bool diversify, uint64_t seed,
                                uint64_t param, float* scores) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const float gi = g[i];
  float s = 0.0f;
  if ((excluded == nullptr || excluded[i] == 0) && gi != 0.0f &&
      !(diversify && PositionExcluded(seed, param, i))) {
    const float room = gi > 0.0f ? hi - w[i] : w[i] - lo;
    s = fabsf(gi) * room;
    if (!(s > 0.0f) || isinf(s)) s = 0.0f;
  }
  scores[i] = s;
}

__global__ void IotaKernel(int64_t* v, int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) v[i] = i;
}

int Blocks(int64_t n) {
  return static_cast<int>((n + kThreads - 1) / kThreads);
}

size_t Align(size_t bytes) { return (bytes + 255) / 256 * 256; }

size_t CubTempBytes(int64_t n) {
  size_t temp = 0;
  cub::DeviceRadixSort::SortPairsDescending<float, int64_t>(
      nullptr, temp, static_cast<const float*>(nullptr),
      static_cast<float*>(nullptr), static_cast<const int64_t*>(nullptr),
      static_cast<int64_t*>(nullptr), static_cast<int>(n));
  return temp;
}

}  // namespace

cudaError_t RangeGainScores(const float* w, const float* g,
                            const uint8_t* excluded, float lo, float hi,
                            int64_t n, bool diversify, uint64_t seed,
                            uint64_t param, float* scores,
                            cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  RangeGainKernel<<<Blocks(n), kThreads, 0, stream>>>(
      w, g, excluded, lo, hi, n, diversify, seed, param, scores);
  return cudaGetLastError();
}

size_t TopKWorkspaceBytes(int64_t n) {
  // sorted keys + index in + index out + CUB's temporary storage
  return Align(sizeof(float) * n) + 2 * Align(sizeof(int64_t) * n) +
         Align(CubTempBytes(n));
}

cudaError_t TopK(const float* scores, int64_t n, int64_t k, void* workspace,
                 size_t workspace_bytes, int64_t* top_index, float* top_score,
                 cudaStream_t stream) {
  if (n == 0 || k == 0) return cudaSuccess;
  if (k > n || workspace_bytes < TopKWorkspaceBytes(n))
    return cudaErrorInvalidValue;
  char* base = static_cast<char*>(workspace);
  float* keys_out = reinterpret_cast<float*>(base);
  base += Align(sizeof(float) * n);
  int64_t* idx_in = reinterpret_cast<int64_t*>(base);
  base += Align(sizeof(int64_t) * n);
  int64_t* idx_out = reinterpret_cast<int64_t*>(base);
  base += Align(sizeof(int64_t) * n);
  size_t temp_bytes = CubTempBytes(n);
  IotaKernel<<<Blocks(n), kThreads, 0, stream>>>(idx_in, n);
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) return err;
  err = cub::DeviceRadixSort::SortPairsDescending(
      base, temp_bytes, scores, keys_out, idx_in, idx_out, static_cast<int>(n),
      0, static_cast<int>(sizeof(float) * 8), stream);
  if (err != cudaSuccess) return err;
  err = cudaMemcpyAsync(top_index, idx_out, sizeof(int64_t) * k,
                        cudaMemcpyDeviceToDevice, stream);
  if (err != cudaSuccess) return err;
  return cudaMemcpyAsync(top_score, keys_out, sizeof(float) * k,
                         cudaMemcpyDeviceToDevice, stream);
}

}  // namespace onnx_crypt::cuda
