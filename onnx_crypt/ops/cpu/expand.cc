// Expand (opset 8+, any element type): y = x broadcast against the int64
// `shape` input (bidirectional, numpy style: shape may hold 1 where x has a
// larger dimension, and either may have the larger rank), so
//   y.shape = broadcast(x.shape, shape),  y[i] = x[i reduced to x's shape].
// Backward (x only): dx = dy summed over the broadcast dimensions.
#include <cstring>

#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/op_helpers.h"

namespace onnx_crypt::cpu {
namespace {

absl::StatusOr<Shape> OutputShape(const Node& node, const TensorRefs& inputs) {
  OC_RETURN_IF_ERROR(RequireInput(node, inputs, 0));
  OC_RETURN_IF_ERROR(RequireInput(node, inputs, 1));
  const Tensor& shape = *inputs[1];
  if (shape.rank() != 1) {
    return NodeError(
        node, absl::StrCat("shape must be 1-D, got ", shape.DebugString()));
  }
  const Shape requested = shape.ToInt64Vector();
  for (int64_t d : requested) {
    if (d < 0) {
      return NodeError(node, absl::StrCat("shape ", ShapeToString(requested),
                                          " has a negative dimension"));
    }
  }
  OC_ASSIGN_OR_RETURN(Shape out,
                      BroadcastShapes(inputs[0]->shape(), requested, node));
  const absl::Status size_ok = CheckTensorSize(inputs[0]->dtype(), out);
  if (!size_ok.ok()) return NodeError(node, size_ok.message());
  return out;
}

absl::Status ExpandForward(const Node& node, const TensorRefs& inputs,
                           std::vector<Tensor>& outputs,
                           std::unique_ptr<OpContext>* ctx) {
  OC_ASSIGN_OR_RETURN(const Shape out_shape, OutputShape(node, inputs));
  const Tensor& x = *inputs[0];
  Tensor y = Tensor::Uninitialized(x.dtype(), out_shape);
  const std::vector<int64_t> strides = BroadcastStrides(x.shape(), out_shape);
  const size_t esize = DTypeSize(x.dtype());
  // Rows of the innermost output dimension: contiguous copies when x is not
  // broadcast there, repeated elements otherwise.
  const int64_t rank = static_cast<int64_t>(out_shape.size());
  const int64_t inner = rank == 0 ? 1 : out_shape[rank - 1];
  const int64_t inner_stride = rank == 0 ? 0 : strides[rank - 1];
  for (int64_t row = 0; inner > 0 && row * inner < y.numel(); ++row) {
    const int64_t src = BroadcastIndex(row * inner, out_shape, strides);
    uint8_t* dst = y.mutable_raw() + row * inner * esize;
    if (inner_stride == 1) {
      std::memcpy(dst, x.raw() + src * esize, inner * esize);
    } else {
      for (int64_t k = 0; k < inner; ++k) {
        std::memcpy(dst + k * esize, x.raw() + (src + k * inner_stride) * esize,
                    esize);
      }
    }
  }
  outputs[0] = std::move(y);
  return absl::OkStatus();
}

absl::Status ExpandBackward(const Node& node, const TensorRefs& inputs,
                            const TensorRefs& outputs,
                            const TensorRefs& grad_outputs,
                            const OpContext* ctx,
                            const std::vector<bool>& need_grad,
                            std::vector<Tensor>& grad_inputs) {
  if (need_grad.empty() || !need_grad[0]) return absl::OkStatus();
  const Tensor& x = *inputs[0];
  const Tensor dy = GradOrZeros(grad_outputs[0], *outputs[0]);
  if (x.dtype() != DType::kFloat32 && x.dtype() != DType::kFloat64) {
    return NodeError(node, absl::StrCat("no gradient for element type ",
                                        DTypeName(x.dtype())));
  }
  grad_inputs[0] = ReduceToShape(dy, x.shape());
  return absl::OkStatus();
}

}  // namespace

void AddExpandOps(std::vector<OpDef>& ops) {
  OpDef def;
  def.op_type = "Expand";
  def.since_version = 8;  // 13 only widened the types (bfloat16)
  def.forward = ExpandForward;
  def.backward = ExpandBackward;
  def.differentiable_inputs = 0b1;  // input; shape is not differentiable
  ops.push_back(def);
}

}  // namespace onnx_crypt::cpu
