// Sub (opset 7+, numpy-style broadcasting): C = A - B; dC/dA = 1, dC/dB = -1.
// Forward for float32/float64/int32/int64/int8/uint8; backward
// (float32/float64) for both inputs, summed over broadcast dimensions.
#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/elementwise.h"

namespace onnx_crypt::cpu {
namespace {

absl::Status SubForward(const Node& node, const TensorRefs& inputs,
                        std::vector<Tensor>& outputs,
                        std::unique_ptr<OpContext>* ctx) {
  return BinaryForward(node, inputs, outputs, [](auto a, auto b) {
    return static_cast<decltype(a)>(a - b);
  });
}

absl::Status SubBackward(const Node& node, const TensorRefs& inputs,
                         const TensorRefs& outputs,
                         const TensorRefs& grad_outputs, const OpContext* ctx,
                         const std::vector<bool>& need_grad,
                         std::vector<Tensor>& grad_inputs) {
  return BinaryBackward(
      node, inputs, outputs, grad_outputs, need_grad, grad_inputs,
      [](auto a, auto b) { return decltype(a){1}; },
      [](auto a, auto b) { return decltype(a){-1}; });
}

}  // namespace

void AddSubOps(std::vector<OpDef>& ops) {
  OpDef def;
  def.op_type = "Sub";
  def.since_version = 7;
  def.forward = SubForward;
  def.backward = SubBackward;
  def.differentiable_inputs = 0b11;
  ops.push_back(def);
}

}  // namespace onnx_crypt::cpu
