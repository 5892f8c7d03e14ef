#include "onnx_crypt/ops/cpu/elem_common.h"

#include "onnx_crypt/base/status.h"
#include "onnx_crypt/ir/half.h"

namespace onnx_crypt::cpu {

Tensor WidenHalf(const Tensor& t) {
  if (!IsHalfType(t.dtype())) return t;
  Tensor out = Tensor::Uninitialized(DType::kFloat32, t.shape());
  const uint16_t* p = t.data<uint16_t>();
  float* q = out.mutable_data<float>();
  const bool bf16 = t.dtype() == DType::kBFloat16;
  for (int64_t i = 0; i < t.numel(); ++i)
    q[i] = bf16 ? BFloat16ToFloat32(p[i]) : HalfToFloat32(p[i]);
  return out;
}

Tensor NarrowToHalf(const Tensor& f32, DType half) {
  Tensor out = Tensor::Uninitialized(half, f32.shape());
  const float* p = f32.data<float>();
  uint16_t* q = out.mutable_data<uint16_t>();
  const bool bf16 = half == DType::kBFloat16;
  for (int64_t i = 0; i < f32.numel(); ++i)
    q[i] = bf16 ? Float32ToBFloat16(p[i]) : Float32ToHalf(p[i]);
  return out;
}

absl::StatusOr<Shape> BroadcastAll(const Node& node, const TensorRefs& inputs) {
  bool first = true;
  Shape out;
  for (const Tensor* t : inputs) {
    if (t == nullptr || !t->defined()) continue;
    if (first) {
      out = t->shape();
      first = false;
      continue;
    }
    OC_ASSIGN_OR_RETURN(out, BroadcastShapes(out, t->shape(), node));
  }
  if (first) return NodeError(node, "has no inputs");
  return out;
}

absl::Status RequireSameDType(const Node& node, const TensorRefs& inputs) {
  for (size_t i = 1; i < inputs.size(); ++i) {
    if (inputs[i] == nullptr || !inputs[i]->defined()) continue;
    if (inputs[i]->dtype() != inputs[0]->dtype()) {
      return NodeError(
          node,
          absl::StrCat("input ", i, " has type ", DTypeName(inputs[i]->dtype()),
                       ", input 0 has ", DTypeName(inputs[0]->dtype())));
    }
  }
  return absl::OkStatus();
}

}  // namespace onnx_crypt::cpu
