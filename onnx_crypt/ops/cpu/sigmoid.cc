// Sigmoid (opset 6+): y = 1 / (1 + exp(-x)); dy/dx = y (1 - y).
// Evaluated as exp(x) / (1 + exp(x)) for x < 0 so that exp never overflows.
#include <cmath>

#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/elementwise.h"

namespace onnx_crypt::cpu {
namespace {

absl::Status SigmoidForward(const Node& node, const TensorRefs& inputs,
                            std::vector<Tensor>& outputs,
                            std::unique_ptr<OpContext>* ctx) {
  return UnaryForward(node, inputs, outputs, [](auto x) {
    using T = decltype(x);
    if (x >= 0) return T{1} / (T{1} + std::exp(-x));
    const T e = std::exp(x);
    return e / (T{1} + e);
  });
}

absl::Status SigmoidBackward(const Node& node, const TensorRefs& inputs,
                             const TensorRefs& outputs,
                             const TensorRefs& grad_outputs,
                             const OpContext* ctx,
                             const std::vector<bool>& need_grad,
                             std::vector<Tensor>& grad_inputs) {
  return UnaryBackward(node, inputs, outputs, grad_outputs, need_grad,
                       grad_inputs,
                       [](auto x, auto y) { return y * (decltype(y){1} - y); });
}

}  // namespace

void AddSigmoidOps(std::vector<OpDef>& ops) {
  OpDef def;
  def.op_type = "Sigmoid";
  def.since_version = 6;
  def.forward = SigmoidForward;
  def.backward = SigmoidBackward;
  def.differentiable_inputs = 0b1;
  ops.push_back(def);
}

}  // namespace onnx_crypt::cpu
