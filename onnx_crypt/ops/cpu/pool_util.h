// Sliding-window geometry shared by Conv, MaxPool and AveragePool (ONNX
// semantics).
//
// The input is N x C x D1 x ... x Dk (k = 1..3 spatial dims). Per spatial dim,
// with kernel K, stride s, dilation d, pads p_begin/p_end and effective kernel
// E = (K - 1) * d + 1:
//   NOTSET, VALID (pads 0):
//     out = floor((in + p_begin + p_end - E) / s) + 1
//     (ceil instead of floor with ceil_mode; then a last window that would
//     start at or past in + p_begin, i.e. entirely in the end padding, is
//     dropped, as PyTorch and current ONNX specify)
//   SAME_UPPER, SAME_LOWER:
//     out = ceil(in / s),  total pad = max(0, (out - 1) * s + E - in)
//     split evenly, the odd element at the end (UPPER) or beginning (LOWER).
// Output position o of a dim reads input positions o*s - p_begin + j*d for
// taps j in [0, K).
//
// Geometry is stored in three slots (depth, height, width): a tensor with
// fewer spatial dims uses the trailing slots and the leading ones are 1
// (kernel 1, stride 1, no pads), so one 3-D loop nest serves 1-D, 2-D and 3-D
// ops.
#ifndef ONNX_CRYPT_OPS_CPU_POOL_UTIL_H_
#define ONNX_CRYPT_OPS_CPU_POOL_UTIL_H_

#include <array>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "onnx_crypt/ir/graph.h"
#include "onnx_crypt/ir/tensor.h"

namespace onnx_crypt::cpu {

inline constexpr int kMaxSpatialRank = 3;

struct WindowGeometry {
  int spatial_rank = 0;  // k: number of real spatial dims (1..3)
  int64_t batch = 0;     // N
  int64_t channels = 0;  // C
  std::array<int64_t, kMaxSpatialRank> in{1, 1, 1};
  std::array<int64_t, kMaxSpatialRank> out{1, 1, 1};
  std::array<int64_t, kMaxSpatialRank> kernel{1, 1, 1};
  std::array<int64_t, kMaxSpatialRank> stride{1, 1, 1};
  std::array<int64_t, kMaxSpatialRank> dilation{1, 1, 1};
  std::array<int64_t, kMaxSpatialRank> pad_begin{0, 0, 0};
  std::array<int64_t, kMaxSpatialRank> pad_end{0, 0, 0};

  int64_t InSize() const { return in[0] * in[1] * in[2]; }
  int64_t OutSize() const { return out[0] * out[1] * out[2]; }
  int64_t KernelSize() const { return kernel[0] * kernel[1] * kernel[2]; }
  // {N, out_channels, out spatial dims...}
  Shape OutputShape(int64_t out_channels) const;
};

// Reads strides, pads, dilations and auto_pad from `node` and computes the
// geometry for an input of shape `x_shape` and the given kernel (one entry per
// spatial dim). Fails with InvalidArgument naming the node on a bad rank,
// attribute length, value or an empty output, and with Unimplemented for more
// than 3 spatial dims.
absl::StatusOr<WindowGeometry> MakeWindowGeometry(
    const Node& node, const Shape& x_shape,
    const std::vector<int64_t>& kernel_shape, bool ceil_mode);

// The pools' required `kernel_shape` attribute, checked against the input rank.
absl::StatusOr<std::vector<int64_t>> PoolKernelShape(const Node& node,
                                                     const Shape& x_shape);

// For one output position of one geometry slot: the kernel taps j in [k_begin,
// k_end) read inside the input; taps in [0, k_end_padded) read inside input
// plus pads.
struct DimWindow {
  int64_t start = 0;  // input position of tap 0 (may be negative)
  int64_t k_begin = 0;
  int64_t k_end = 0;
  int64_t k_end_padded = 0;
};

// True for a 2-D 2 x 2 window with stride 2, no dilation, no begin pads, and
// every window inside the input (the pooling CNNs use): the pools then run a
// plain loop over pairs of input rows.
inline bool IsFullTwoByTwo(const WindowGeometry& g) {
  return g.spatial_rank == 2 && g.kernel[1] == 2 && g.kernel[2] == 2 &&
         g.stride[1] == 2 && g.stride[2] == 2 && g.dilation[1] == 1 &&
         g.dilation[2] == 1 && g.pad_begin[1] == 0 && g.pad_begin[2] == 0 &&
         2 * g.out[1] <= g.in[1] && 2 * g.out[2] <= g.in[2];
}

// DimWindow of every output position of slot `dim` (0..2).
std::vector<DimWindow> DimWindows(const WindowGeometry& g, int dim);

}  // namespace onnx_crypt::cpu

#endif  // ONNX_CRYPT_OPS_CPU_POOL_UTIL_H_
