// Launchers of the CUDA engine's kernels: plain pointers, sizes and a stream.
//
// Contract for every launcher:
//  - Pointers are device pointers unless a parameter says "host". Tensors are
//    dense row-major float32; shapes and strides are host arrays of int64.
//  - Work is enqueued on `stream` and the call returns without waiting. The
//    return value is the launch status (cudaGetLastError() after the launch),
//    cudaSuccess when there was nothing to do (n == 0). Errors raised while the
//    kernel runs surface at the next synchronizing call.
//  - Every kernel is deterministic: no atomics; each output element is written
//    by one thread, and reductions run in a fixed order (a fixed split over the
//    threads of one block, then a fixed tree), so repeated runs give identical
//    bits.
//  - Ranks are at most kMaxRank.
// No ONNX, protobuf or absl types here; the engine (onnx_crypt/engine/cuda/)
// turns the cudaError_t into absl::Status naming the op and the node.
#ifndef ONNX_CRYPT_CUDA_KERNELS_H_
#define ONNX_CRYPT_CUDA_KERNELS_H_

#include <cuda_runtime_api.h>

#include <cstdint>

namespace onnx_crypt::cuda {

inline constexpr int kMaxRank = 8;

// --- elementwise (one functor-based kernel template, elementwise.cu) ---

enum class UnaryKind : int {
  kRelu,         // y = x > 0 ? x : 0
  kLeakyRelu,    // y = x >= 0 ? x : alpha x
  kSigmoid,      // y = 1 / (1 + e^-x)
  kTanh,         // y = tanh x
  kClip,         // y = min(max(x, lo), hi)   (bounds in double)
  kHardSigmoid,  // y = max(0, min(1, alpha x + beta))
  kHardSwish,    // y = x max(0, min(1, x / 6 + 1/2))
};

struct UnaryParams {
  float alpha = 0.0f;
  float beta = 0.0f;
  double lo = 0.0;
  double hi = 0.0;
};

// y[i] = f(x[i]).
cudaError_t UnaryForward(UnaryKind kind, const UnaryParams& params,
                         const float* x, float* y, int64_t n,
                         cudaStream_t stream);
// dx[i] = dy[i] * f'(x[i], y[i]) (the same derivative as the CPU op).
cudaError_t UnaryBackward(UnaryKind kind, const UnaryParams& params,
                          const float* x, const float* y, const float* dy,
                          float* dx, int64_t n, cudaStream_t stream);

enum class BinaryKind : int { kAdd, kSub, kMul, kDiv };

// c = f(a, b) with numpy broadcasting: a, b and c have ranks a_rank, b_rank and
// c_rank (c's shape is the broadcast of both; a and b align to its right).
cudaError_t BinaryForward(BinaryKind kind, const float* a,
                          const int64_t* a_shape, int a_rank, const float* b,
                          const int64_t* b_shape, int b_rank, float* c,
                          const int64_t* c_shape, int c_rank,
                          cudaStream_t stream);
// full[i] = dc[i] * df/d(operand)(a, b) at every broadcast element i (operand
// 0 = a, 1 = b); `full` has c's shape. ReduceToShape then sums it down to the
// operand's shape.
cudaError_t BinaryGradFull(BinaryKind kind, int operand, const float* a,
                           const int64_t* a_shape, int a_rank, const float* b,
                           const int64_t* b_shape, int b_rank, const float* dc,
                           float* full, const int64_t* c_shape, int c_rank,
                           cudaStream_t stream);

// out[i] = scale * in[broadcast index of i]; `in_shape` broadcasts to
// `out_shape`.
cudaError_t BroadcastTo(const float* in, const int64_t* in_shape, int in_rank,
                        float* out, const int64_t* out_shape, int out_rank,
                        float scale, cudaStream_t stream);

// c[i] = a[i] + b[i] (c may alias a or b).
cudaError_t Sum(const float* a, const float* b, float* c, int64_t n,
                cudaStream_t stream);
// y[i] = value.
cudaError_t Fill(float* y, float value, int64_t n, cudaStream_t stream);
// With x viewed as [outer, channels, inner]:
// y[o, c, i] = x[o, c, i] * (a ? a[c] : 1) + (b ? b[c] : 0). y may alias x.
cudaError_t ChannelAffine(const float* x, const float* a, const float* b,
                          int64_t channels, int64_t inner, float* y, int64_t n,
                          cudaStream_t stream);
// dst[idx[i]] = values[i] for 32-bit words (bits copied exactly).
cudaError_t ScatterWords(uint32_t* dst, const int64_t* idx,
                         const uint32_t* values, int64_t n,
                         cudaStream_t stream);

// --- reductions (reduce.cu) ---

// out = scale * (in summed over the dimensions where out_shape is 1 or absent);
// out_shape broadcasts to in_shape. One block per output element, double
// accumulation, fixed order.
cudaError_t ReduceToShape(const float* in, const int64_t* in_shape, int in_rank,
                          float* out, const int64_t* out_shape, int out_rank,
                          double scale, cudaStream_t stream);

// BatchNormalization (inference form) per-channel coefficients, in double:
// inv_std[c] = 1 / sqrt(var[c] + eps), a[c] = float(scale[c] inv_std[c]),
// b[c] = float(bias[c] - mean[c] scale[c] inv_std[c]).
cudaError_t BatchNormCoefficients(const float* scale, const float* bias,
                                  const float* mean, const float* var,
                                  double epsilon, int64_t channels, float* a,
                                  float* b, double* inv_std,
                                  cudaStream_t stream);
// With x, dy viewed as [batch, channels, inner]:
// dbias[c] = sum dy, dscale[c] = inv_std[c] sum dy (x - mean[c]).
// One block per channel; either output may be null.
cudaError_t BatchNormParamGrad(const float* x, const float* dy,
                               const float* mean, const double* inv_std,
                               int64_t batch, int64_t channels, int64_t inner,
                               float* dscale, float* dbias,
                               cudaStream_t stream);

// Cross-entropy rows (engine/loss.h formulas), one thread per row of the
// [n, c] output: row_loss[r] (double) and grad (dL/d output, float, all c
// entries of the row written). kind: 0 logits, 1 probabilities, 2
// log-probabilities. Labels must be in [0, c) (checked by the caller).
cudaError_t CrossEntropyRows(const float* out, const int64_t* labels, int64_t n,
                             int64_t c, int kind, double prob_floor,
                             double* row_loss, float* grad,
                             cudaStream_t stream);

// --- data movement (data_movement.cu) ---

// y = x with axes permuted: y.shape[d] = x_shape[perm[d]].
cudaError_t Transpose(const float* x, const int64_t* x_shape, int rank,
                      const int64_t* perm, float* y, cudaStream_t stream);

// With data viewed as [outer, n, inner] and m indices (already in [0, n)):
// y[o, i, :] = data[o, idx[i], :].
cudaError_t Gather(const float* data, const int64_t* idx, int64_t outer,
                   int64_t n, int64_t m, int64_t inner, float* y,
                   cudaStream_t stream);
// dx[o, j, :] = sum over i with idx[i] == j (in increasing i) of dy[o, i, :].
cudaError_t GatherGrad(const float* dy, const int64_t* idx, int64_t outer,
                       int64_t n, int64_t m, int64_t inner, float* dx,
                       cudaStream_t stream);

enum class PadMode : int { kConstant, kEdge, kReflect };
// y (out_shape) from x (x_shape): per dimension the source is i - begin[d],
// mapped by `mode` when outside (constant: `value`). Negative begins crop.
cudaError_t PadForward(const float* x, const int64_t* x_shape, int rank,
                       const int64_t* begin, const int64_t* out_shape,
                       PadMode mode, float value, float* y,
                       cudaStream_t stream);
// One dimension of Pad's backward (the map is a product over dimensions):
// with g viewed as [outer, out_d, inner] and dx as [outer, in_d, inner],
// dx[o, i, k] = sum over j with src(j) == i of g[o, j, k].
cudaError_t PadGradDim(const float* g, int64_t outer, int64_t out_d,
                       int64_t in_d, int64_t inner, int64_t begin, PadMode mode,
                       float* dx, cudaStream_t stream);

// --- pooling (pool.cu); geometry as in onnx_crypt/ops/cpu/pool_util.h ---

struct PoolGeometry {
  int64_t planes = 0;  // N * C
  int64_t in[3] = {1, 1, 1};
  int64_t out[3] = {1, 1, 1};
  int64_t kernel[3] = {1, 1, 1};
  int64_t stride[3] = {1, 1, 1};
  int64_t dilation[3] = {1, 1, 1};
  int64_t pad_begin[3] = {0, 0, 0};
  int64_t pad_end[3] = {0, 0, 0};
};

// y = max over the taps inside x (first maximum in tap order wins); argmax
// (may be null) = flat index into x, -1 for a window with no tap inside.
cudaError_t MaxPoolForward(const PoolGeometry& g, const float* x, float* y,
                           int64_t* argmax, cudaStream_t stream);
// dx[i] = sum of dy[o] over outputs o (in increasing o) with argmax[o] == i.
cudaError_t MaxPoolBackward(const PoolGeometry& g, const float* dy,
                            const int64_t* argmax, float* dx,
                            cudaStream_t stream);
cudaError_t AveragePoolForward(const PoolGeometry& g, bool count_include_pad,
                               const float* x, float* y, cudaStream_t stream);
cudaError_t AveragePoolBackward(const PoolGeometry& g, bool count_include_pad,
                                const float* dy, float* dx,
                                cudaStream_t stream);

}  // namespace onnx_crypt::cuda

#endif  // ONNX_CRYPT_CUDA_KERNELS_H_
