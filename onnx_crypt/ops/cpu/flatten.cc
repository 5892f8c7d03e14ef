// Flatten (opset 1+, any element type): y = x viewed as
// [prod(d[:axis]), prod(d[axis:])]; dx = dy viewed as x. `axis` defaults to 1
// and lies in [0, rank] (from opset 11 also in [-rank, -1], from the back).
#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/op_helpers.h"

namespace onnx_crypt::cpu {
namespace {

absl::Status FlattenForward(const Node& node, const TensorRefs& inputs,
                            std::vector<Tensor>& outputs,
                            std::unique_ptr<OpContext>* ctx) {
  OC_RETURN_IF_ERROR(RequireInput(node, inputs, 0));
  const Tensor& x = *inputs[0];
  int64_t axis = node.GetInt("axis", 1);
  if (axis < 0) axis += x.rank();
  if (axis < 0 || axis > x.rank()) {
    return NodeError(node,
                     absl::StrCat("axis ", node.GetInt("axis", 1),
                                  " is out of range for rank ", x.rank()));
  }
  int64_t rows = 1;
  for (int64_t d = 0; d < axis; ++d) rows *= x.dim(d);
  int64_t cols = 1;
  for (int64_t d = axis; d < x.rank(); ++d) cols *= x.dim(d);
  Tensor y = x;
  y.Reshape({rows, cols});
  outputs[0] = std::move(y);
  return absl::OkStatus();
}

}  // namespace

void AddFlattenOps(std::vector<OpDef>& ops) {
  OpDef def;
  def.op_type = "Flatten";
  def.since_version = 1;
  def.forward = FlattenForward;
  def.backward = ReshapeLikeBackward;
  def.differentiable_inputs = 0b1;
  ops.push_back(def);
}

}  // namespace onnx_crypt::cpu
