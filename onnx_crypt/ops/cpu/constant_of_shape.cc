// ConstantOfShape (opset 9+): y has the shape given by the 1-D int64 input
// (an empty input gives a scalar) and every element equal to the one-element
// tensor attribute `value` (default float32 0), in value's element type.
// No differentiable input.
#include <cstring>

#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/op_helpers.h"

namespace onnx_crypt::cpu {
namespace {

absl::Status ConstantOfShapeForward(const Node& node, const TensorRefs& inputs,
                                    std::vector<Tensor>& outputs,
                                    std::unique_ptr<OpContext>* ctx) {
  OC_RETURN_IF_ERROR(RequireInput(node, inputs, 0));
  const Tensor& shape_in = *inputs[0];
  if (shape_in.rank() != 1 || shape_in.dtype() != DType::kInt64) {
    return NodeError(node,
                     absl::StrCat("input must be a 1-D int64 tensor, got ",
                                  shape_in.DebugString()));
  }
  const Shape shape = shape_in.ToInt64Vector();
  Tensor value = Tensor::Scalar<float>(0.0f);
  auto it = node.attrs.find("value");
  if (it != node.attrs.end()) {
    if (it->second.kind != Attribute::Kind::kTensor || !it->second.t ||
        it->second.t->numel() != 1) {
      return NodeError(node, "attribute 'value' must be a one-element tensor");
    }
    value = *it->second.t;
  }
  const size_t esize = DTypeSize(value.dtype());
  if (esize == 0) {
    return NodeError(node, absl::StrCat("unsupported value type ",
                                        DTypeName(value.dtype())));
  }
  const absl::Status size_ok = CheckTensorSize(value.dtype(), shape);
  if (!size_ok.ok()) return NodeError(node, size_ok.message());
  Tensor y = Tensor::Uninitialized(value.dtype(), shape);
  for (int64_t i = 0; i < y.numel(); ++i) {
    std::memcpy(y.mutable_raw() + i * esize, value.raw(), esize);
  }
  outputs[0] = std::move(y);
  return absl::OkStatus();
}

}  // namespace

void AddConstantOfShapeOps(std::vector<OpDef>& ops) {
  OpDef def;
  def.op_type = "ConstantOfShape";
  def.since_version = 9;  // 20 and 21 only widened the value types
  def.forward = ConstantOfShapeForward;
  ops.push_back(def);
}

}  // namespace onnx_crypt::cpu
