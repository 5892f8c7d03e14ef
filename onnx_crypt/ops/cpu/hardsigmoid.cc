// HardSigmoid (opset 6+): y = max(0, min(1, alpha * x + beta)) (alpha 0.2, beta
// 0.5 default); dy/dx = alpha where 0 < alpha * x + beta < 1, else 0.
#include <algorithm>

#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/elementwise.h"

namespace onnx_crypt::cpu {
namespace {

absl::Status HardSigmoidForward(const Node& node, const TensorRefs& inputs,
                                std::vector<Tensor>& outputs,
                                std::unique_ptr<OpContext>* ctx) {
  const double alpha = node.GetFloat("alpha", 0.2f);
  const double beta = node.GetFloat("beta", 0.5f);
  return UnaryForward(node, inputs, outputs, [alpha, beta](auto x) {
    using T = decltype(x);
    return std::max(
        T{0}, std::min(T{1}, static_cast<T>(alpha) * x + static_cast<T>(beta)));
  });
}

absl::Status HardSigmoidBackward(const Node& node, const TensorRefs& inputs,
                                 const TensorRefs& outputs,
                                 const TensorRefs& grad_outputs,
                                 const OpContext* ctx,
                                 const std::vector<bool>& need_grad,
                                 std::vector<Tensor>& grad_inputs) {
  const double alpha = node.GetFloat("alpha", 0.2f);
  const double beta = node.GetFloat("beta", 0.5f);
  return UnaryBackward(node, inputs, outputs, grad_outputs, need_grad,
                       grad_inputs, [alpha, beta](auto x, auto y) {
                         using T = decltype(x);
                         const T z =
                             static_cast<T>(alpha) * x + static_cast<T>(beta);
                         return z > 0 && z < 1 ? static_cast<T>(alpha) : T{0};
                       });
}

}  // namespace

void AddHardSigmoidOps(std::vector<OpDef>& ops) {
  OpDef def;
  def.op_type = "HardSigmoid";
  def.since_version = 6;
  def.forward = HardSigmoidForward;
  def.backward = HardSigmoidBackward;
  def.differentiable_inputs = 0b1;
  ops.push_back(def);
}

}  // namespace onnx_crypt::cpu
