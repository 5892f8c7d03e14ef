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

}  // namespace

void AddIdentityOps(std::vector<OpDef>& ops) {
  OpDef def;
  def.op_type = "Identity";
  def.since_version = 1;
  def.forward = IdentityForward;
  def.backward = ReshapeLikeBackward;
  def.differentiable_inputs = 0b1;
  ops.push_back(def);
}

}  // namespace onnx_crypt::cpu
