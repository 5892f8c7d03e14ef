// LeakyRelu (opset 6+): y = x for x >= 0, alpha * x otherwise (alpha default
// 0.01); dy/dx = 1 for x > 0, alpha otherwise.
#include <algorithm>
#include <type_traits>

#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/elementwise.h"

namespace onnx_crypt::cpu {
namespace {

absl::Status LeakyReluForward(const Node& node, const TensorRefs& inputs,
                              std::vector<Tensor>& outputs,
                              std::unique_ptr<OpContext>* ctx) {
  const double alpha = node.GetFloat("alpha", 0.01f);
  const float alpha_f = static_cast<float>(alpha);
  // max(x, 0) + alpha * min(x, 0): the same value as the branchy form (up to
  // the sign of an underflowed zero), and it vectorizes (GCC does not
  // speculate the multiply of a select); activation signs are random, so a
  // branch mispredicts half the time.
  return UnaryForward(node, inputs, outputs, [alpha, alpha_f](auto x) {
    using T = decltype(x);
    const T a = std::is_same_v<T, float> ? alpha_f : static_cast<T>(alpha);
    return std::max(x, T{0}) + a * std::min(x, T{0});
  });
}

absl::Status LeakyReluBackward(const Node& node, const TensorRefs& inputs,
                               const TensorRefs& outputs,
                               const TensorRefs& grad_outputs,
                               const OpContext* ctx,
                               const std::vector<bool>& need_grad,
                               std::vector<Tensor>& grad_inputs) {
  const double alpha = node.GetFloat("alpha", 0.01f);
  // The float slope is converted once, outside the loop (which then
  // vectorizes); the same value as converting it per element.
  const float alpha_f = static_cast<float>(alpha);
  return UnaryBackward(
      node, inputs, outputs, grad_outputs, need_grad, grad_inputs,
      [alpha, alpha_f](auto x, auto y) {
        using T = decltype(x);
        const T a = std::is_same_v<T, float> ? alpha_f : static_cast<T>(alpha);
        return x > 0 ? T{1} : a;
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
