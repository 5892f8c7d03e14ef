// HardSwish (opset 14+): y = x * max(0, min(1, x / 6 + 1/2));
// dy/dx = 0 for x < -3, 1 for x > 3, x / 3 + 1/2 in between.
#include <algorithm>

#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/elementwise.h"

namespace onnx_crypt::cpu {
namespace {

absl::Status HardSwishForward(const Node& node, const TensorRefs& inputs,
                              std::vector<Tensor>& outputs,
                              std::unique_ptr<OpContext>* ctx) {
  return UnaryForward(node, inputs, outputs, [](auto x) {
    using T = decltype(x);
    return x * std::max(T{0}, std::min(T{1}, x / T{6} + T{0.5}));
  });
}

absl::Status HardSwishBackward(const Node& node, const TensorRefs& inputs,
                               const TensorRefs& outputs,
                               const TensorRefs& grad_outputs,
                               const OpContext* ctx,
                               const std::vector<bool>& need_grad,
                               std::vector<Tensor>& grad_inputs) {
  return UnaryBackward(node, inputs, outputs, grad_outputs, need_grad,
                       grad_inputs, [](auto x, auto y) {
                         using T = decltype(x);
                         if (x < T{-3}) return T{0};
                         if (x > T{3}) return T{1};
                         return x / T{3} + T{0.5};
                       });
}

}  // namespace

void AddHardSwishOps(std::vector<OpDef>& ops) {
  OpDef def;
  def.op_type = "HardSwish";
  def.since_version = 14;
  def.forward = HardSwishForward;
  def.backward = HardSwishBackward;
  def.differentiable_inputs = 0b1;
  ops.push_back(def);
}

}  // namespace onnx_crypt::cpu
