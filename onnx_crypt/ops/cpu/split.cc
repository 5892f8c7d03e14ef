// Split (any element type): x is cut along `axis` (default 0; negative counts
// from the back) into one piece per node output, of lengths
//  - `split` when given: the attribute (opset 2..12) or input 1 (13+, int64);
//    the lengths must add up to the axis size;
//  - else (opset 2..17) equal pieces: the axis size divided by the number of
//    outputs (it must divide evenly);
//  - else (18+) the attribute num_outputs (required then, and equal to the
//    number of outputs): pieces of ceil(n / num_outputs), the last one smaller.
// Backward (input only): dx = the output gradients concatenated along the
// axis, zeros for pieces without a gradient.
#include <cstring>

#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/op_helpers.h"

namespace onnx_crypt::cpu {
namespace {

struct Plan {
  int64_t axis = 0;
  int64_t outer = 1, inner = 1;  // products before / after axis
  std::vector<int64_t> lengths;  // one per output
};

absl::StatusOr<Plan> MakePlan(const Node& node, const TensorRefs& inputs) {
  OC_RETURN_IF_ERROR(RequireInput(node, inputs, 0));
  const Tensor& x = *inputs[0];
  Plan p;
  OC_ASSIGN_OR_RETURN(p.axis,
                      NormalizeAxis(node.GetInt("axis", 0), x.rank(), node));
  const int64_t n = x.dim(p.axis);
  const int64_t pieces = static_cast<int64_t>(node.outputs.size());
  if (pieces == 0) return NodeError(node, "has no outputs");
  bool given = false;
  if (node.opset < 13) {
    given = node.HasAttr("split");
    if (given) p.lengths = node.GetInts("split", {});
  } else {
    // An empty split tensor counts as absent: equal pieces.
    given = HasInput(inputs, 1) && inputs[1]->numel() > 0;
    if (given) {
      if (inputs[1]->rank() != 1) {
        return NodeError(node, absl::StrCat("split must be 1-D, got ",
                                            inputs[1]->DebugString()));
      }
      p.lengths = inputs[1]->ToInt64Vector();
    }
  }
  if (node.opset >= 18 && given && node.HasAttr("num_outputs")) {
    return NodeError(node, "takes either split or num_outputs, not both");
  }
  if (!given) {
    if (node.opset >= 18) {
      if (!node.HasAttr("num_outputs")) {
        return NodeError(node, "needs the split input or num_outputs");
      }
      const int64_t k = node.GetInt("num_outputs", 0);
      if (k != pieces) {
        return NodeError(node, absl::StrCat("num_outputs is ", k,
                                            " but the "
                                            "node has ",
                                            pieces, " outputs"));
      }
      const int64_t chunk = (n + k - 1) / k;
      int64_t left = n;
      for (int64_t j = 0; j < k; ++j) {
        p.lengths.push_back(std::min(chunk, left));
        left -= p.lengths.back();
      }
    } else {
      if (n % pieces != 0) {
        return NodeError(
            node, absl::StrCat("axis size ", n, " does not split evenly into ",
                               pieces, " outputs"));
      }
      p.lengths.assign(static_cast<size_t>(pieces), n / pieces);
    }
  }
  if (static_cast<int64_t>(p.lengths.size()) != pieces) {
    return NodeError(node, absl::StrCat("split has ", p.lengths.size(),
                                        " entries for ", pieces, " outputs"));
  }
  int64_t sum = 0;
  for (int64_t len : p.lengths) {
    if (len < 0 || !CheckedAdd(sum, len, &sum)) {
      return NodeError(node, "split has a negative length");
    }
  }
  if (sum != n) {
    return NodeError(
        node, absl::StrCat("split lengths add up to ", sum, ", axis ", p.axis,
                           " of ", x.DebugString(), " has ", n));
  }
  for (int64_t d = 0; d < p.axis; ++d) p.outer *= x.dim(d);
  for (int64_t d = p.axis + 1; d < x.rank(); ++d) p.inner *= x.dim(d);
  return p;
}

absl::Status SplitForward(const Node& node, const TensorRefs& inputs,
                          std::vector<Tensor>& outputs,
                          std::unique_ptr<OpContext>* ctx) {
  OC_ASSIGN_OR_RETURN(const Plan p, MakePlan(node, inputs));
  const Tensor& x = *inputs[0];
  const size_t esize = DTypeSize(x.dtype());
  const int64_t in_row = x.dim(p.axis) * p.inner;
  int64_t col = 0;
  for (size_t k = 0; k < p.lengths.size(); ++k) {
    Shape shape = x.shape();
    shape[p.axis] = p.lengths[k];
    Tensor y = Tensor::Uninitialized(x.dtype(), shape);
    const int64_t row = p.lengths[k] * p.inner;
    for (int64_t o = 0; row > 0 && o < p.outer; ++o) {
      std::memcpy(y.mutable_raw() + o * row * esize,
                  x.raw() + (o * in_row + col) * esize, row * esize);
    }
    col += row;
    if (!node.outputs[k].empty()) outputs[k] = std::move(y);
  }
  return absl::OkStatus();
}

absl::Status SplitBackward(const Node& node, const TensorRefs& inputs,
                           const TensorRefs& outputs,
                           const TensorRefs& grad_outputs, const OpContext* ctx,
                           const std::vector<bool>& need_grad,
                           std::vector<Tensor>& grad_inputs) {
  if (need_grad.empty() || !need_grad[0]) return absl::OkStatus();
  OC_ASSIGN_OR_RETURN(const Plan p, MakePlan(node, inputs));
  const Tensor& x = *inputs[0];
  if (x.dtype() != DType::kFloat32 && x.dtype() != DType::kFloat64) {
    return NodeError(node, absl::StrCat("no gradient for element type ",
                                        DTypeName(x.dtype())));
  }
  const size_t esize = DTypeSize(x.dtype());
  Tensor dx(x.dtype(), x.shape());
  const int64_t in_row = x.dim(p.axis) * p.inner;
  int64_t col = 0;
  for (size_t k = 0; k < p.lengths.size(); ++k) {
    const int64_t row = p.lengths[k] * p.inner;
    const Tensor* g = k < grad_outputs.size() ? grad_outputs[k] : nullptr;
    if (g != nullptr && g->defined()) {
      if (g->numel() != p.outer * row || g->dtype() != x.dtype()) {
        return NodeError(node, absl::StrCat("gradient of output ", k, " is ",
                                            g->DebugString()));
      }
      for (int64_t o = 0; row > 0 && o < p.outer; ++o) {
        std::memcpy(dx.mutable_raw() + (o * in_row + col) * esize,
                    g->raw() + o * row * esize, row * esize);
      }
    }
    col += row;
  }
  grad_inputs[0] = std::move(dx);
  return absl::OkStatus();
}

}  // namespace

void AddSplitOps(std::vector<OpDef>& ops) {
  OpDef def;
  def.op_type = "Split";
  def.forward = SplitForward;
  def.backward = SplitBackward;
  def.differentiable_inputs = 0b1;  // input; split is not differentiable
  def.since_version = 2;     // 2..12: split attribute; 13..17: split input;
  def.until_version = 1000;  // 18+: num_outputs (MakePlan reads node.opset)
  ops.push_back(def);
}

}  // namespace onnx_crypt::cpu
