// Unsqueeze (any element type): y = x with size-1 dimensions inserted so that
// each listed axis (of the output's rank r + len(axes), negative counts from
// the back) has size 1; dx = dy viewed as x.
//  - opset 1..12: axes is a required attribute (negative from opset 11).
//  - opset 13+: axes is the required int64 input 1.
#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/op_helpers.h"

namespace onnx_crypt::cpu {
namespace {

absl::Status UnsqueezeForward(const Node& node, const TensorRefs& inputs,
                              std::vector<Tensor>& outputs,
                              std::unique_ptr<OpContext>* ctx) {
  OC_RETURN_IF_ERROR(RequireInput(node, inputs, 0));
  const Tensor& x = *inputs[0];
  std::vector<int64_t> axes;
  if (node.opset < 13) {
    if (!node.HasAttr("axes"))
      return NodeError(node, "attribute 'axes' is required");
    axes = node.GetInts("axes", {});
  } else {
    OC_RETURN_IF_ERROR(RequireInput(node, inputs, 1));
    axes = inputs[1]->ToInt64Vector();
  }
  const int64_t out_rank = x.rank() + static_cast<int64_t>(axes.size());
  std::vector<bool> inserted(static_cast<size_t>(out_rank), false);
  for (int64_t a : axes) {
    OC_ASSIGN_OR_RETURN(const int64_t d, NormalizeAxis(a, out_rank, node));
    if (inserted[d])
      return NodeError(node, absl::StrCat("axis ", a, " is listed twice"));
    inserted[d] = true;
  }
  Shape out(static_cast<size_t>(out_rank), 1);
  int64_t next = 0;  // next dimension of x to place
  for (int64_t d = 0; d < out_rank; ++d) {
    if (!inserted[d]) out[d] = x.dim(next++);
  }
  Tensor y = x;
  y.Reshape(std::move(out));
  outputs[0] = std::move(y);
  return absl::OkStatus();
}

}  // namespace

void AddUnsqueezeOps(std::vector<OpDef>& ops) {
  OpDef def;
  def.op_type = "Unsqueeze";
  def.forward = UnsqueezeForward;
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
