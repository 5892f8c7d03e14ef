// Clip: y = min(max(x, lo), hi); dy/dx = 1 where lo <= x <= hi, else 0
// (so y = hi everywhere and the gradient is 0 when lo > hi, as ONNX-13 says).
//  - opset 6..10: lo, hi are the float attributes `min`, `max`
//    (default -/+ float max).
//  - opset 11+: lo, hi are optional scalar inputs 1 and 2 of the input's type
//    (absent: no bound); from opset 12 integer inputs are allowed too.
// Only input 0 is differentiable (min and max are not, per the schema).
#include <algorithm>
#include <limits>

#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/elementwise.h"

namespace onnx_crypt::cpu {
namespace {

struct Bounds {
  double lo;
  double hi;
};

absl::StatusOr<Bounds> ReadBounds(const Node& node, const TensorRefs& inputs) {
  Bounds b{-std::numeric_limits<double>::infinity(),
           std::numeric_limits<double>::infinity()};
  if (node.opset < 11) {
    if (node.HasAttr("min")) b.lo = node.GetFloat("min", 0.0f);
    if (node.HasAttr("max")) b.hi = node.GetFloat("max", 0.0f);
    return b;
  }
  for (size_t i = 1; i <= 2 && i < inputs.size(); ++i) {
    const Tensor& t = *inputs[i];
    if (!t.defined()) continue;
    if (t.numel() != 1) {
      return NodeError(
          node, absl::StrCat(i == 1 ? "min" : "max", " must be a scalar, got ",
                             t.DebugString()));
    }
    if (t.dtype() != inputs[0]->dtype()) {
      return NodeError(node, absl::StrCat(i == 1 ? "min" : "max", " has type ",
                                          DTypeName(t.dtype()), ", input has ",
                                          DTypeName(inputs[0]->dtype())));
    }
    (i == 1 ? b.lo : b.hi) = t.ToDoubleVector()[0];
  }
  return b;
}

// Integer inputs: bounds read in T itself, so int64 bounds stay exact.
template <typename T>
Tensor ClipIntegers(const TensorRefs& inputs) {
  const Tensor& x = *inputs[0];
  T lo = std::numeric_limits<T>::lowest();
  T hi = std::numeric_limits<T>::max();
  if (HasInput(inputs, 1)) lo = inputs[1]->data<T>()[0];
  if (HasInput(inputs, 2)) hi = inputs[2]->data<T>()[0];
  Tensor y(x.dtype(), x.shape());
  const T* px = x.data<T>();
  T* py = y.mutable_data<T>();
  for (int64_t i = 0; i < x.numel(); ++i) {
    py[i] = std::min(std::max(px[i], lo), hi);
  }
  return y;
}

absl::Status ClipForward(const Node& node, const TensorRefs& inputs,
                         std::vector<Tensor>& outputs,
                         std::unique_ptr<OpContext>* ctx) {
  OC_RETURN_IF_ERROR(RequireInput(node, inputs, 0));
  OC_ASSIGN_OR_RETURN(const Bounds b, ReadBounds(node, inputs));
  if (node.opset >= 12) {
    switch (inputs[0]->dtype()) {
      case DType::kInt8:
        outputs[0] = ClipIntegers<int8_t>(inputs);
        return absl::OkStatus();
      case DType::kUint8:
        outputs[0] = ClipIntegers<uint8_t>(inputs);
        return absl::OkStatus();
      case DType::kInt32:
        outputs[0] = ClipIntegers<int32_t>(inputs);
        return absl::OkStatus();
      case DType::kInt64:
        outputs[0] = ClipIntegers<int64_t>(inputs);
        return absl::OkStatus();
      default:
        break;
    }
  }
  return UnaryForward(node, inputs, outputs, [b](auto x) {
    using T = decltype(x);
    // Bounds are applied in double, then rounded once: exact for
    // float32/float64 bounds.
    return static_cast<T>(
        std::min(std::max(static_cast<double>(x), b.lo), b.hi));
  });
}

absl::Status ClipBackward(const Node& node, const TensorRefs& inputs,
                          const TensorRefs& outputs,
                          const TensorRefs& grad_outputs, const OpContext* ctx,
                          const std::vector<bool>& need_grad,
                          std::vector<Tensor>& grad_inputs) {
  OC_ASSIGN_OR_RETURN(const Bounds b, ReadBounds(node, inputs));
  return UnaryBackward(node, inputs, outputs, grad_outputs, need_grad,
                       grad_inputs, [b](auto x, auto y) {
                         using T = decltype(x);
                         const double v = static_cast<double>(x);
                         return v >= b.lo && v <= b.hi ? T{1} : T{0};
                       });
}

}  // namespace

void AddClipOps(std::vector<OpDef>& ops) {
  OpDef def;
  def.op_type = "Clip";
  def.forward = ClipForward;
  def.backward = ClipBackward;
  def.differentiable_inputs = 0b1;
  def.since_version = 6;
  def.until_version = 10;  // bounds are attributes
  ops.push_back(def);
  def.since_version = 11;  // bounds are optional inputs
  def.until_version = 1000;
  ops.push_back(def);
}

}  // namespace onnx_crypt::cpu
