// Small helpers shared by the CPU ops of groups A and B (elementwise and data
// movement). Header-only; errors are InvalidArgument statuses naming the node.
#ifndef ONNX_CRYPT_OPS_CPU_OP_HELPERS_H_
#define ONNX_CRYPT_OPS_CPU_OP_HELPERS_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/ir/graph.h"
#include "onnx_crypt/ir/tensor.h"
#include "onnx_crypt/ops/cpu/util.h"
#include "onnx_crypt/ops/op.h"

namespace onnx_crypt::cpu {

// The upstream gradient, or zeros of `like`'s dtype and shape when no gradient
// flows in.
inline Tensor GradOrZeros(const Tensor* grad, const Tensor& like) {
  if (grad != nullptr && grad->defined()) return *grad;
  return Tensor(like.dtype(), like.shape());
}

// OK when input `i` is present, else an error naming the node.
inline absl::Status RequireInput(const Node& node, const TensorRefs& inputs,
                                 size_t i) {
  if (i >= inputs.size() || inputs[i] == nullptr || !inputs[i]->defined()) {
    return NodeError(node, absl::StrCat("input ", i, " is missing"));
  }
  return absl::OkStatus();
}

// True when optional input `i` is given.
inline bool HasInput(const TensorRefs& inputs, size_t i) {
  return i < inputs.size() && inputs[i] != nullptr && inputs[i]->defined();
}

// Row-major element strides of `shape`.
inline std::vector<int64_t> RowMajorStrides(const Shape& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (int64_t d = static_cast<int64_t>(shape.size()) - 2; d >= 0; --d) {
    strides[d] = strides[d + 1] * shape[d + 1];
  }
  return strides;
}

// Backward of an op whose output is input 0 with another shape (Reshape,
// Flatten, Squeeze, Unsqueeze, Identity, Dropout): dx = dy viewed in x's shape.
// Has the OpDef backward signature, so those ops register it directly.
inline absl::Status ReshapeLikeBackward(
    const Node& node, const TensorRefs& inputs, const TensorRefs& /*outputs*/,
    const TensorRefs& grad_outputs, const OpContext* /*ctx*/,
    const std::vector<bool>& need_grad, std::vector<Tensor>& grad_inputs) {
  if (need_grad.empty() || !need_grad[0]) return absl::OkStatus();
  const Tensor& x = *inputs[0];
  if (grad_outputs.empty() || grad_outputs[0] == nullptr ||
      !grad_outputs[0]->defined()) {
    grad_inputs[0] = Tensor(x.dtype(), x.shape());
    return absl::OkStatus();
  }
  Tensor dx = *grad_outputs[0];
  if (dx.numel() != x.numel()) {
    return NodeError(node,
                     absl::StrCat("gradient ", dx.DebugString(),
                                  " does not match input ", x.DebugString()));
  }
  dx.Reshape(x.shape());
  grad_inputs[0] = std::move(dx);
  return absl::OkStatus();
}

// Softmax and LogSoftmax: the input viewed as [outer, n, inner]; each
// (outer, inner) pair is one group of n elements that is normalized together.
//  - opset 1..12: coerced to 2D [prod(d[:axis]), prod(d[axis:])] (axis default
//  1);
//  - opset 13+: the single dimension `axis` (default -1).
struct SoftmaxGroups {
  int64_t outer = 1, n = 1, inner = 1;
};

inline absl::StatusOr<SoftmaxGroups> SoftmaxAxisGroups(const Node& node,
                                                       const Shape& shape) {
  const int64_t rank = static_cast<int64_t>(shape.size());
  const bool coerce_2d = node.opset < 13;
  OC_ASSIGN_OR_RETURN(
      const int64_t axis,
      NormalizeAxis(node.GetInt("axis", coerce_2d ? 1 : -1), rank, node));
  SoftmaxGroups g;
  for (int64_t d = 0; d < axis; ++d) g.outer *= shape[d];
  if (coerce_2d) {
    for (int64_t d = axis; d < rank; ++d) g.n *= shape[d];
  } else {
    g.n = shape[axis];
    for (int64_t d = axis + 1; d < rank; ++d) g.inner *= shape[d];
  }
  return g;
}

}  // namespace onnx_crypt::cpu

#endif  // ONNX_CRYPT_OPS_CPU_OP_HELPERS_H_
