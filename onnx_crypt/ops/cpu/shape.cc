// Shape (opset 1+, input of any element type): y = the input's dimensions as
// 1-D int64. From opset 15, y = dims[start:end] with start (default 0) and end
// (default rank); negative values count from the back and both are clamped to
// [0, rank]. No backward (the output does not depend on the input's values).
#include <algorithm>

#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/op_helpers.h"

namespace onnx_crypt::cpu {
namespace {

absl::Status ShapeForward(const Node& node, const TensorRefs& inputs,
                          std::vector<Tensor>& outputs,
                          std::unique_ptr<OpContext>* ctx) {
  OC_RETURN_IF_ERROR(RequireInput(node, inputs, 0));
  const Shape& dims = inputs[0]->shape();
  const int64_t rank = static_cast<int64_t>(dims.size());
  int64_t start = 0;
  int64_t end = rank;
  if (node.opset >= 15) {
    auto clamp = [rank](int64_t v) {
      return std::clamp<int64_t>(v < 0 ? v + rank : v, 0, rank);
    };
    start = clamp(node.GetInt("start", 0));
    end = clamp(node.GetInt("end", rank));
  }
  std::vector<int64_t> out;
  for (int64_t d = start; d < end; ++d) out.push_back(dims[d]);
  outputs[0] =
      Tensor::FromVector<int64_t>({static_cast<int64_t>(out.size())}, out);
  return absl::OkStatus();
}

}  // namespace

void AddShapeOps(std::vector<OpDef>& ops) {
  OpDef def;
  def.op_type = "Shape";
  def.since_version = 1;
  def.forward = ShapeForward;
  ops.push_back(def);
}

}  // namespace onnx_crypt::cpu
