// Mod (10+; 13 adds bfloat16), multidirectional broadcast:
//   fmod = 0 (integers only): the remainder with the divisor's sign, as
//            Python's %: a - b * floor(a / b);
//   fmod = 1: the C fmod, the dividend's sign: a - b * trunc(a / b).
// Floating-point inputs require fmod = 1 (the spec's rule; refused
// otherwise). A zero integer divisor is InvalidArgument naming the node (C++
// leaves it undefined). Backward (float, fmod = 1): dA = 1,
// dB = -trunc(a / b), each summed back over broadcast dimensions; integer
// inputs have no gradient.
#include <cmath>

#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/elem_common.h"
#include "onnx_crypt/ops/cpu/op_helpers.h"

namespace onnx_crypt::cpu {
namespace {

template <typename T>
T IntMod(T a, T b, bool c_fmod) {
  T r = static_cast<T>(a % b);
  if (!c_fmod && r != 0 && (IsNegative(r) != IsNegative(b)))
    r = static_cast<T>(r + b);
  return r;
}

absl::Status ModCompute(const Node& node, const TensorRefs& inputs,
                        std::vector<Tensor>& outputs) {
  const Tensor& a = *inputs[0];
  const Tensor& b = *inputs[1];
  OC_RETURN_IF_ERROR(RequireSameDType(node, inputs));
  const bool c_fmod = node.GetInt("fmod", 0) != 0;
  OC_ASSIGN_OR_RETURN(const Shape shape, BroadcastAll(node, inputs));
  const BroadcastReader ra(a.shape(), shape);
  const BroadcastReader rb(b.shape(), shape);
  Tensor out(a.dtype(), shape);
  const int64_t n = out.numel();
  OC_DISPATCH_NUMERIC(a.dtype(), node, {
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* po = out.mutable_data<T>();
    if constexpr (std::is_floating_point_v<T>) {
      if (!c_fmod) {
        return NodeError(node,
                         "floating-point Mod requires fmod = 1 (ONNX spec)");
      }
      for (int64_t i = 0; i < n; ++i) po[i] = std::fmod(pa[ra(i)], pb[rb(i)]);
    } else {
      for (int64_t i = 0; i < n; ++i) {
        const T d = pb[rb(i)];
        if (d == 0) return NodeError(node, "integer Mod by zero");
        po[i] = IntMod(pa[ra(i)], d, c_fmod);
      }
    }
  });
  outputs[0] = std::move(out);
  return absl::OkStatus();
}

absl::Status ModForward(const Node& node, const TensorRefs& inputs,
                        std::vector<Tensor>& outputs,
                        std::unique_ptr<OpContext>* ctx) {
  OC_RETURN_IF_ERROR(RequireInput(node, inputs, 0));
  OC_RETURN_IF_ERROR(RequireInput(node, inputs, 1));
  return WithHalfAsFloat(inputs, outputs,
                         [&](const TensorRefs& in, std::vector<Tensor>& out) {
                           return ModCompute(node, in, out);
                         });
}

absl::Status ModBackward(const Node& node, const TensorRefs& inputs,
                         const TensorRefs& outputs,
                         const TensorRefs& grad_outputs, const OpContext* ctx,
                         const std::vector<bool>& need_grad,
                         std::vector<Tensor>& grad_inputs) {
  const Tensor& a = *inputs[0];
  const Tensor& b = *inputs[1];
  if (a.dtype() != DType::kFloat32 && a.dtype() != DType::kFloat64)
    return absl::OkStatus();  // integers: no gradient
  const Tensor dz = GradOrZeros(grad_outputs[0], *outputs[0]);
  const Shape& shape = dz.shape();
  const BroadcastReader ra(a.shape(), shape);
  const BroadcastReader rb(b.shape(), shape);
  const std::vector<double> av = a.ToDoubleVector();
  const std::vector<double> bv = b.ToDoubleVector();
  const std::vector<double> dv = dz.ToDoubleVector();
  for (int j = 0; j < 2; ++j) {
    if (j >= static_cast<int>(need_grad.size()) || !need_grad[j]) continue;
    Tensor full(DType::kFloat64, shape);
    double* pf = full.mutable_data<double>();
    for (int64_t i = 0; i < full.numel(); ++i) {
      pf[i] = j == 0 ? dv[i] : -dv[i] * std::trunc(av[ra(i)] / bv[rb(i)]);
    }
    Tensor g = ReduceToShape(full, j == 0 ? a.shape() : b.shape());
    grad_inputs[j] =
        a.dtype() == DType::kFloat64 ? std::move(g) : g.CastTo(a.dtype());
  }
  return absl::OkStatus();
}

}  // namespace

void AddModOps(std::vector<OpDef>& ops) {
  OpDef def;
  def.op_type = "Mod";
  def.since_version = 10;
  def.forward = ModForward;
  def.backward = ModBackward;
  def.differentiable_inputs = 0b11;
  ops.push_back(def);
}

}  // namespace onnx_crypt::cpu
