// Concat (opset 4+, any element type): y = the inputs joined along `axis`
// (negative counts from the back, opset 11+). Viewing input k as
// [outer, n_k * inner], each row of y is the inputs' rows side by side; dx_k is
// the matching column block of dy. Every input is differentiable.
#include <cstring>

#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/op_helpers.h"

namespace onnx_crypt::cpu {
namespace {

struct Layout {
  int64_t axis = 0;
  int64_t outer = 1;  // product of the dimensions before axis
  int64_t inner = 1;  // product of the dimensions after axis
  Shape out_shape;
};

absl::StatusOr<Layout> ConcatLayout(const Node& node,
                                    const TensorRefs& inputs) {
  if (inputs.empty()) return NodeError(node, "needs at least one input");
  for (size_t k = 0; k < inputs.size(); ++k)
    OC_RETURN_IF_ERROR(RequireInput(node, inputs, k));
  if (!node.HasAttr("axis"))
    return NodeError(node, "attribute 'axis' is required");
  const Tensor& first = *inputs[0];
  Layout l;
  OC_ASSIGN_OR_RETURN(
      l.axis, NormalizeAxis(node.GetInt("axis", 0), first.rank(), node));
  l.out_shape = first.shape();
  l.out_shape[l.axis] = 0;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& t = *inputs[k];
    bool compatible = t.dtype() == first.dtype() && t.rank() == first.rank();
    for (int64_t d = 0; compatible && d < t.rank(); ++d) {
      compatible = d == l.axis || t.dim(d) == first.dim(d);
    }
    if (!compatible) {
      return NodeError(
          node, absl::StrCat("input ", k, " ", t.DebugString(),
                             " cannot be concatenated with input 0 ",
                             first.DebugString(), " along axis ", l.axis));
    }
    l.out_shape[l.axis] += t.dim(l.axis);
  }
  for (int64_t d = 0; d < l.axis; ++d) l.outer *= first.dim(d);
  for (int64_t d = l.axis + 1; d < first.rank(); ++d) l.inner *= first.dim(d);
  return l;
}

absl::Status ConcatForward(const Node& node, const TensorRefs& inputs,
                           std::vector<Tensor>& outputs,
                           std::unique_ptr<OpContext>* ctx) {
  OC_ASSIGN_OR_RETURN(const Layout l, ConcatLayout(node, inputs));
  Tensor y(inputs[0]->dtype(), l.out_shape);
  const size_t esize = DTypeSize(y.dtype());
  const int64_t out_row = l.out_shape[l.axis] * l.inner;
  int64_t col = 0;  // first column of input k inside a row of y
  for (const Tensor* t : inputs) {
    const int64_t row = t->dim(l.axis) * l.inner;
    for (int64_t o = 0; row > 0 && o < l.outer; ++o) {
      std::memcpy(y.mutable_raw() + (o * out_row + col) * esize,
                  t->raw() + o * row * esize, row * esize);
    }
    col += row;
  }
  outputs[0] = std::move(y);
  return absl::OkStatus();
}

absl::Status ConcatBackward(const Node& node, const TensorRefs& inputs,
                            const TensorRefs& outputs,
                            const TensorRefs& grad_outputs,
                            const OpContext* ctx,
                            const std::vector<bool>& need_grad,
                            std::vector<Tensor>& grad_inputs) {
  OC_ASSIGN_OR_RETURN(const Layout l, ConcatLayout(node, inputs));
  const Tensor dy = GradOrZeros(grad_outputs[0], *outputs[0]);
  const size_t esize = DTypeSize(dy.dtype());
  const int64_t out_row = l.out_shape[l.axis] * l.inner;
  int64_t col = 0;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const int64_t row = inputs[k]->dim(l.axis) * l.inner;
    if (k < need_grad.size() && need_grad[k]) {
      Tensor dx(dy.dtype(), inputs[k]->shape());
      for (int64_t o = 0; row > 0 && o < l.outer; ++o) {
        std::memcpy(dx.mutable_raw() + o * row * esize,
                    dy.raw() + (o * out_row + col) * esize, row * esize);
      }
      grad_inputs[k] = std::move(dx);
    }
    col += row;
  }
  return absl::OkStatus();
}

}  // namespace

void AddConcatOps(std::vector<OpDef>& ops) {
  OpDef def;
  def.op_type = "Concat";
  def.since_version = 4;
  def.forward = ConcatForward;
  def.backward = ConcatBackward;
  def.differentiable_inputs = OpDef::kEveryInput;  // variadic: every input
  ops.push_back(def);
}

}  // namespace onnx_crypt::cpu
