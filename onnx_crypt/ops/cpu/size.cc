// Size (opset 1+, input of any element type): y = the number of elements of
// the input, as an int64 scalar. No differentiable input.
#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/op_helpers.h"

namespace onnx_crypt::cpu {
namespace {

absl::Status SizeForward(const Node& node, const TensorRefs& inputs,
                         std::vector<Tensor>& outputs,
                         std::unique_ptr<OpContext>* ctx) {
  OC_RETURN_IF_ERROR(RequireInput(node, inputs, 0));
  outputs[0] = Tensor::Scalar<int64_t>(inputs[0]->numel());
  return absl::OkStatus();
}

}  // namespace

void AddSizeOps(std::vector<OpDef>& ops) {
  OpDef def;
  def.op_type = "Size";
  def.since_version = 1;  // 13, 19, 21 only widened the input types
  def.forward = SizeForward;
  ops.push_back(def);
}

}  // namespace onnx_crypt::cpu
