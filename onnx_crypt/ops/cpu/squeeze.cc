// Squeeze (any element type): y = x without the listed size-1 dimensions (all
// size-1 dimensions when no axes are given); dx = dy viewed as x.
//  - opset 1..12: axes is an attribute (negative values allowed from opset 11).
//  - opset 13+: axes is the optional int64 input 1.
#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/op_helpers.h"

namespace onnx_crypt::cpu {
namespace {

absl::Status SqueezeForward(const Node& node, const TensorRefs& inputs,
                            std::vector<Tensor>& outputs,
                            std::unique_ptr<OpContext>* ctx) {
  OC_RETURN_IF_ERROR(RequireInput(node, inputs, 0));
  const Tensor& x = *inputs[0];
  bool have_axes = false;
  std::vector<int64_t> axes;
  if (node.opset < 13) {
    have_axes = node.HasAttr("axes");
    axes = node.GetInts("axes", {});
  } else if (HasInput(inputs, 1)) {
    have_axes = true;
    axes = inputs[1]->ToInt64Vector();
  }
  std::vector<bool> drop(static_cast<size_t>(x.rank()), false);
  if (!have_axes) {
    for (int64_t d = 0; d < x.rank(); ++d) drop[d] = x.dim(d) == 1;
  }
  for (int64_t a : axes) {
    OC_ASSIGN_OR_RETURN(const int64_t d, NormalizeAxis(a, x.rank(), node));
    if (x.dim(d) != 1) {
      return NodeError(
          node, absl::StrCat("cannot squeeze axis ", a, " of size ", x.dim(d),
                             " in ", x.DebugString()));
    }
    drop[d] = true;
  }
  Shape out;
  for (int64_t d = 0; d < x.rank(); ++d) {
    if (!drop[d]) out.push_back(x.dim(d));
  }
  Tensor y = x;
  y.Reshape(std::move(out));
  outputs[0] = std::move(y);
  return absl::OkStatus();
}

}  // namespace

void AddSqueezeOps(std::vector<OpDef>& ops) {
  OpDef def;
  def.op_type = "Squeeze";
  def.forward = SqueezeForward;
  def.backward = ReshapeLikeBackward;
  def.differentiable_inputs = 0b1;
  def.since_version = 1;
  def.until_version = 12;  // axes attribute
  ops.push_back(def);
  def.since_version = 13;  // axes input
  def.until_version = 1000;
  ops.push_back(def);
}

}  // namespace onnx_crypt::cpu
