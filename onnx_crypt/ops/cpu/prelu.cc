// PRelu (7+; 9 adds int32/int64/uint32/uint64, 16 bfloat16):
//   y = slope * x where x < 0, else x,
// with slope unidirectionally broadcast to x's shape (y has x's shape).
// Forward for float32/float64/float16/bfloat16 and the integer types (in
// their own type). Backward (float32/float64):
//   dx = dy * (x < 0 ? slope : 1)
//   dslope = sum over the broadcast dimensions of dy * (x < 0 ? x : 0)
// At x = 0 the slope of the x >= 0 side (1) is used.
#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/elem_common.h"
#include "onnx_crypt/ops/cpu/op_helpers.h"

namespace onnx_crypt::cpu {
namespace {

absl::Status CheckInputs(const Node& node, const TensorRefs& inputs) {
  OC_RETURN_IF_ERROR(RequireInput(node, inputs, 0));
  OC_RETURN_IF_ERROR(RequireInput(node, inputs, 1));
  OC_RETURN_IF_ERROR(RequireSameDType(node, inputs));
  const Tensor& x = *inputs[0];
  const Tensor& s = *inputs[1];
  absl::StatusOr<Shape> b = BroadcastShapes(x.shape(), s.shape(), node);
  if (!b.ok() || *b != x.shape()) {
    return NodeError(
        node, absl::StrCat("slope ", s.DebugString(),
                           " does not broadcast to X ", x.DebugString()));
  }
  return absl::OkStatus();
}

template <typename T>
Tensor PReluTyped(const Tensor& x, const Tensor& s) {
  Tensor y = Tensor::Uninitialized(x.dtype(), x.shape());
  const BroadcastReader rs(s.shape(), x.shape());
  const T* px = x.data<T>();
  const T* ps = s.data<T>();
  T* py = y.mutable_data<T>();
  for (int64_t i = 0; i < x.numel(); ++i) {
    const T v = px[i];
    py[i] = IsNegative(v) ? static_cast<T>(ps[rs(i)] * v) : v;
  }
  return y;
}

absl::Status PReluForward(const Node& node, const TensorRefs& inputs,
                          std::vector<Tensor>& outputs,
                          std::unique_ptr<OpContext>* ctx) {
  OC_RETURN_IF_ERROR(CheckInputs(node, inputs));
  return WithHalfAsFloat(
      inputs, outputs,
      [&node](const TensorRefs& in, std::vector<Tensor>& out) -> absl::Status {
        OC_DISPATCH_NUMERIC(in[0]->dtype(), node,
                            { out[0] = PReluTyped<T>(*in[0], *in[1]); });
        return absl::OkStatus();
      });
}

absl::Status PReluBackward(const Node& node, const TensorRefs& inputs,
                           const TensorRefs& outputs,
                           const TensorRefs& grad_outputs, const OpContext* ctx,
                           const std::vector<bool>& need_grad,
                           std::vector<Tensor>& grad_inputs) {
  const Tensor& x = *inputs[0];
  const Tensor& s = *inputs[1];
  const Tensor dy = GradOrZeros(grad_outputs[0], *outputs[0]);
  OC_DISPATCH_FLOAT(x.dtype(), node, {
    const BroadcastReader rs(s.shape(), x.shape());
    const T* px = x.data<T>();
    const T* ps = s.data<T>();
    const T* pd = dy.data<T>();
    if (need_grad.size() > 0 && need_grad[0]) {
      Tensor dx = Tensor::Uninitialized(x.dtype(), x.shape());
      T* p = dx.mutable_data<T>();
      for (int64_t i = 0; i < x.numel(); ++i)
        p[i] = px[i] < T{0} ? pd[i] * ps[rs(i)] : pd[i];
      grad_inputs[0] = std::move(dx);
    }
    if (need_grad.size() > 1 && need_grad[1]) {
      Tensor full = Tensor::Uninitialized(x.dtype(), x.shape());
      T* p = full.mutable_data<T>();
      for (int64_t i = 0; i < x.numel(); ++i)
        p[i] = px[i] < T{0} ? pd[i] * px[i] : T{0};
      grad_inputs[1] = ReduceToShape(full, s.shape());
    }
  });
  return absl::OkStatus();
}

}  // namespace

void AddPReluOps(std::vector<OpDef>& ops) {
  OpDef def;
  def.op_type = "PRelu";
  def.since_version = 7;
  def.forward = PReluForward;
  def.backward = PReluBackward;
  def.differentiable_inputs = 0b11;
  ops.push_back(def);
}

}  // namespace onnx_crypt::cpu
