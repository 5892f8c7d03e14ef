// Tanh (opset 6+): y = tanh(x); dy/dx = 1 - y^2.
#include <cmath>

#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/elementwise.h"

namespace onnx_crypt::cpu {
namespace {

absl::Status TanhForward(const Node& node, const TensorRefs& inputs,
                         std::vector<Tensor>& outputs,
                         std::unique_ptr<OpContext>* ctx) {
  return UnaryForward(node, inputs, outputs,
                      [](auto x) { return std::tanh(x); });
}

absl::Status TanhBackward(const Node& node, const TensorRefs& inputs,
                          const TensorRefs& outputs,
                          const TensorRefs& grad_outputs, const OpContext* ctx,
                          const std::vector<bool>& need_grad,
                          std::vector<Tensor>& grad_inputs) {
  return UnaryBackward(node, inputs, outputs, grad_outputs, need_grad,
                       grad_inputs,
                       [](auto x, auto y) { return decltype(y){1} - y * y; });
}

}  // namespace

void AddTanhOps(std::vector<OpDef>& ops) {
  OpDef def;
  def.op_type = "Tanh";
  def.since_version = 6;
  def.forward = TanhForward;
  def.backward = TanhBackward;
  def.differentiable_inputs = 0b1;
  ops.push_back(def);
}

}  // namespace onnx_crypt::cpu
