// Launchers for ranking lock candidates on the device, so that the gradients
// never need to be copied to the host. Same contract as kernels.h:
// device pointers, a stream, the launch status returned, deterministic results.
#ifndef ONNX_CRYPT_CUDA_RANK_H_
#define ONNX_CRYPT_CUDA_RANK_H_

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace onnx_crypt::cuda {

// The lock's first-order "range gain" score of each value of one tensor
// (lock/ranking.h):
//   scores[i] = |g[i]| * (g[i] > 0 ? hi - w[i] : w[i] - lo)
// and 0 where excluded[i] != 0 (already locked), where `diversify` is set and
// PositionExcluded(seed, param, i) holds (cuda/position_hash.h, the same
// function the host uses), where g[i] == 0, or where the product is not a
// positive finite number. `excluded` may be null.
cudaError_t RangeGainScores(const float* w, const float* g,
                            const uint8_t* excluded, float lo, float hi,
                            int64_t n, bool diversify, uint64_t seed,
                            uint64_t param, float* scores, cudaStream_t stream);

// Bytes of device workspace TopK needs for n scores.
size_t TopKWorkspaceBytes(int64_t n);

// The k best of n scores, best first, ties broken by the smaller flat index
// (the scores of several tensors laid end to end in model order therefore break
// ties by tensor order, then index, as the CPU path does). Writes k indices
// (int64) and their scores to `top_index` / `top_score` (device). Implemented
// with CUB's stable radix sort of (score, index) pairs: deterministic, no
// atomics. k <= n. `workspace` has TopKWorkspaceBytes(n) bytes.
cudaError_t TopK(const float* scores, int64_t n, int64_t k, void* workspace,
                 size_t workspace_bytes, int64_t* top_index, float* top_score,
                 cudaStream_t stream);

}  // namespace onnx_crypt::cuda

#endif  // ONNX_CRYPT_CUDA_RANK_H_
