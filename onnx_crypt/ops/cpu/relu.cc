// Relu (opset 6+): y = max(0, x); dy/dx = 1 for x > 0, else 0 (the subgradient
// 0 at x = 0).
#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/elementwise.h"

namespace onnx_crypt::cpu {
namespace {

absl::Status ReluForward(const Node& node, const TensorRefs& inputs,
                         std::vector<Tensor>& outputs,
                         std::unique_ptr<OpContext>* ctx) {
  return UnaryForward(node, inputs, outputs,
                      [](auto x) { return x > 0 ? x : decltype(x){0}; });
}

absl::Status ReluBackward(const Node& node, const TensorRefs& inputs,
                          const TensorRefs& outputs,
                          const TensorRefs& grad_outputs, const OpContext* ctx,
                          const std::vector<bool>& need_grad,
                          std::vector<Tensor>& grad_inputs) {
  return UnaryBackward(
      node, inputs, outputs, grad_outputs, need_grad, grad_inputs,
      [](auto x, auto y) { return x > 0 ? decltype(x){1} : decltype(x){0}; });
}

}  // namespace

void AddReluOps(std::vector<OpDef>& ops) {
  OpDef def;
  def.op_type = "Relu";
  def.since_version = 6;
  def.forward = ReluForward;
  def.backward = ReluBackward;
  def.differentiable_inputs = 0b1;
  ops.push_back(def);
}

}  // namespace onnx_crypt::cpu
