// Helpers shared by the CPU reference ops: dtype dispatch, broadcasting, axes.
#ifndef ONNX_CRYPT_OPS_CPU_UTIL_H_
#define ONNX_CRYPT_OPS_CPU_UTIL_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "onnx_crypt/ir/graph.h"
#include "onnx_crypt/ir/tensor.h"

namespace onnx_crypt::cpu {

// Runs `body` with `T` bound to float or double according to `dtype`; other
// dtypes return an InvalidArgument error naming the node. Usage:
//   OC_DISPATCH_FLOAT(x.dtype(), node, { return Impl<T>(...); });
#define OC_DISPATCH_FLOAT(dtype, node, ...)                                \
  do {                                                                     \
    switch (dtype) {                                                       \
      case ::onnx_crypt::DType::kFloat32: {                                \
        using T = float;                                                   \
        __VA_ARGS__                                                        \
      } break;                                                             \
      case ::onnx_crypt::DType::kFloat64: {                                \
        using T = double;                                                  \
        __VA_ARGS__                                                        \
      } break;                                                             \
      default:                                                             \
        return absl::InvalidArgumentError(                                 \
            absl::StrCat((node).Describe(), ": unsupported element type ", \
                         DTypeName(dtype)));                               \
    }                                                                      \
  } while (0)

// Numpy-style multidirectional broadcast of two shapes (ONNX Broadcasting.md).
absl::StatusOr<Shape> BroadcastShapes(const Shape& a, const Shape& b,
                                      const Node& node);

// Strides of an input of shape `in` read at the indices of `out`
// (right-aligned; stride 0 on broadcast dimensions). The result has out.size()
// entries.
std::vector<int64_t> BroadcastStrides(const Shape& in, const Shape& out);

// Maps a flat index of `out` (row-major) to the flat index of the broadcast
// input with `strides` from BroadcastStrides. Slow generic path; ops use it
// where no fast path applies.
inline int64_t BroadcastIndex(int64_t flat, const Shape& out,
                              const std::vector<int64_t>& strides) {
  int64_t idx = 0;
  for (int64_t d = static_cast<int64_t>(out.size()) - 1; d >= 0; --d) {
    const int64_t n = out[d];
    idx += (flat % n) * strides[d];
    flat /= n;
  }
  return idx;
}

// Sums `grad` (float/double, shape `grad.shape()`) down to `shape` (a shape
// that broadcasts to it): the gradient of a broadcast.
Tensor ReduceToShape(const Tensor& grad, const Shape& shape);

// Maps a possibly negative axis into [0, rank), or InvalidArgument naming the
// node.
absl::StatusOr<int64_t> NormalizeAxis(int64_t axis, int64_t rank,
                                      const Node& node);

// InvalidArgument "<node>: <what> ..." helper.
inline absl::Status NodeError(const Node& node, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(node.Describe(), ": ", what));
}

}  // namespace onnx_crypt::cpu

#endif  // ONNX_CRYPT_OPS_CPU_UTIL_H_
