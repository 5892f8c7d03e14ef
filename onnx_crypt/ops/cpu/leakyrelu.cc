// LeakyRelu (opset 6+): y = x for x >= 0, alpha * x otherwise (alpha default
// 0.01); dy/dx = 1 for x > 0, alpha otherwise.
#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/elementwise.h"

namespace onnx_crypt::cpu {
namespace {

absl::Status LeakyReluForward(const Node& node, const TensorRefs& inputs,
                              std::vector<Tensor>& outputs,
                              std::unique_ptr<OpContext>* ctx) {
  const double alpha = node.GetFloat("alpha", 0.01f);
  return UnaryForward(node, inputs, outputs, [alpha](auto x) {
    using T = decltype(x);
    return x >= 0 ? x : static_cast<T>(alpha) * x;
  });
}

absl::Status LeakyReluBackward(const Node& node, const TensorRefs& inputs,
                               const TensorRefs& outputs,
                               const TensorRefs& grad_outputs,
                               const OpContext* ctx,
                               const std::vector<bool>& need_grad,
                               std::vector<Tensor>& grad_inputs) {
  const double alpha = node.GetFloat("alpha", 0.01f);
  return UnaryBackward(node, inputs, outputs, grad_outputs, need_grad,
                       grad_inputs, [alpha](auto x, auto y) {
                         using T = decltype(x);
                         return x > 0 ? T{1} : static_cast<T>(alpha);
                       });
}

}  // namespace

void AddLeakyReluOps(std::vector<OpDef>& ops) {
  OpDef def;
  def.op_type = "LeakyRelu";
  def.since_version = 6;
  def.forward = LeakyReluForward;
  def.backward = LeakyReluBackward;
  def.differentiable_inputs = 0b1;
  ops.push_back(def);
}

}  // namespace onnx_crypt::cpu
