// Div (opset 7+, numpy-style broadcasting): C = A / B;
// dC/dA = 1 / B, dC/dB = -A / B^2.
// Forward for float32/float64/int32/int64/int8/uint8 (integers truncate toward
// zero like C++, B = 0 is an error); backward (float32/float64) for both
// inputs, summed over broadcast dimensions.
#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/elementwise.h"

namespace onnx_crypt::cpu {
namespace {

absl::Status DivForward(const Node& node, const TensorRefs& inputs,
                        std::vector<Tensor>& outputs,
                        std::unique_ptr<OpContext>* ctx) {
  return BinaryForward(
      node, inputs, outputs,
      [](auto a, auto b) { return static_cast<decltype(a)>(a / b); },
      /*nonzero_int_rhs=*/true);
}

absl::Status DivBackward(const Node& node, const TensorRefs& inputs,
                         const TensorRefs& outputs,
                         const TensorRefs& grad_outputs, const OpContext* ctx,
                         const std::vector<bool>& need_grad,
                         std::vector<Tensor>& grad_inputs) {
  return BinaryBackward(
      node, inputs, outputs, grad_outputs, need_grad, grad_inputs,
      [](auto a, auto b) { return decltype(a){1} / b; },
      [](auto a, auto b) { return -a / (b * b); });
}

}  // namespace

void AddDivOps(std::vector<OpDef>& ops) {
  OpDef def;
  def.op_type = "Div";
  def.since_version = 7;
  def.forward = DivForward;
  def.backward = DivBackward;
  def.differentiable_inputs = 0b11;
  ops.push_back(def);
}

}  // namespace onnx_crypt::cpu
