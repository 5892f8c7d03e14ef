// Reshape (opset 5+, any element type): y = x viewed in the shape given by
// input 1 (int64); dx = dy viewed as x. In the requested shape, -1 (at most
// once) is inferred from the element count, and 0 copies the input's dimension
// at the same index, unless opset >= 14 and allowzero = 1, where 0 is a real
// zero-sized dimension (then -1 may not appear with it).
#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/op_helpers.h"

namespace onnx_crypt::cpu {
namespace {

absl::StatusOr<Shape> TargetShape(const Node& node, const Shape& in,
                                  const std::vector<int64_t>& requested) {
  const bool allow_zero = node.opset >= 14 && node.GetInt("allowzero", 0) != 0;
  Shape out(requested.size());
  int64_t infer_at = -1;
  int64_t known = 1;
  for (size_t i = 0; i < requested.size(); ++i) {
    int64_t d = requested[i];
    if (d == 0 && !allow_zero) {
      if (i >= in.size()) {
        return NodeError(
            node, absl::StrCat("shape entry ", i, " is 0 (copy) but the input ",
                               ShapeToString(in), " has no such dimension"));
      }
      d = in[i];
    }
    if (d == -1) {
      if (infer_at >= 0) return NodeError(node, "shape has more than one -1");
      infer_at = static_cast<int64_t>(i);
    } else if (d < 0) {
      return NodeError(node, absl::StrCat("shape entry ", i, " is ", d));
    } else if (!CheckedMul(known, d, &known)) {
      return NodeError(node, absl::StrCat("shape ", ShapeToString(requested),
                                          " has more than 2^63 elements"));
    }
    out[i] = d;
  }
  const int64_t numel = NumElements(in);
  if (infer_at >= 0) {
    if (known == 0 || numel % known != 0) {
      return NodeError(node, absl::StrCat("cannot infer -1 when reshaping ",
                                          ShapeToString(in), " to ",
                                          ShapeToString(requested)));
    }
    out[infer_at] = numel / known;
  }
  absl::StatusOr<int64_t> out_numel = CheckedNumElements(out);
  if (!out_numel.ok() || *out_numel != numel) {
    return NodeError(node, absl::StrCat("cannot reshape ", ShapeToString(in),
                                        " to ", ShapeToString(requested)));
  }
  return out;
}

absl::Status ReshapeForward(const Node& node, const TensorRefs& inputs,
                            std::vector<Tensor>& outputs,
                            std::unique_ptr<OpContext>* ctx) {
  OC_RETURN_IF_ERROR(RequireInput(node, inputs, 0));
  OC_RETURN_IF_ERROR(RequireInput(node, inputs, 1));
  const Tensor& x = *inputs[0];
  const Tensor& shape = *inputs[1];
  if (shape.rank() != 1) {
    return NodeError(node, absl::StrCat("shape input must be 1-D, got ",
                                        shape.DebugString()));
  }
  OC_ASSIGN_OR_RETURN(Shape out,
                      TargetShape(node, x.shape(), shape.ToInt64Vector()));
  Tensor y = x;
  y.Reshape(std::move(out));
  outputs[0] = std::move(y);
  return absl::OkStatus();
}

}  // namespace

void AddReshapeOps(std::vector<OpDef>& ops) {
  OpDef def;
  def.op_type = "Reshape";
  def.since_version = 5;
  def.forward = ReshapeForward;
  def.backward = ReshapeLikeBackward;
  def.differentiable_inputs = 0b1;  // data; the shape is not differentiable
  ops.push_back(def);
}

}  // namespace onnx_crypt::cpu
