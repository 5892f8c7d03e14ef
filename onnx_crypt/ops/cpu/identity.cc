// Identity (opset 1+, tensors of any element type): y = x; dx = dy.
#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/op_helpers.h"

namespace onnx_crypt::cpu {
namespace {

absl::Status IdentityForward(const Node& node, const TensorRefs& inputs,
                             std::vector<Tensor>& outputs,
                             std::unique_ptr<OpContext>* ctx) {
  OC_RETURN_IF_ERROR(RequireInput(node, inputs, 0));
  outputs[0] = *inputs[0];
  return absl::OkStatus();
}

absl::Status IdentityBackward(const Node& node, const TensorRefs& inputs,
                              const TensorRefs& outputs,
                              const TensorRefs& grad_outputs,
                              const OpContext* ctx,
                              const std::vector<bool>& need_grad,
                              std::vector<Tensor>& grad_inputs) {
  return ReshapeLikeBackward(node, inputs, grad_outputs, need_grad,
                             grad_inputs);
}

}  // namespace

void AddIdentityOps(std::vector<OpDef>& ops) {
  OpDef def;
  def.op_type = "Identity";
  def.since_version = 1;
  def.forward = IdentityForward;
  def.backward = IdentityBackward;
  def.differentiable_inputs = 0b1;
  ops.push_back(def);
}

}  // namespace onnx_crypt::cpu
