// Slice (any element type): y takes, along each listed axis a, the elements
// start_a, start_a + step_a, ... up to (excluding) end_a; unlisted axes are
// kept whole.
//  - opset 1..9: starts, ends, axes (optional) are attributes; step 1.
//  - opset 10+: starts, ends, axes (optional), steps (optional) are int32 or
//    int64 inputs; negative axes count from the back (11+, accepted here for
//    10 too).
// Per axis of size n (ONNX semantics): a negative start/end has n added; then
// for step > 0 both are clamped to [0, n], for step < 0 start to [0, n - 1]
// and end to [-1, n - 1]; the count is max(0, ceil((end - start) / step)).
// A step of 0 and a repeated axis are errors.
// Backward (data only): dy scattered into zeros at the sliced positions.
#include <algorithm>
#include <cstring>

#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/op_helpers.h"

namespace onnx_crypt::cpu {
namespace {

struct Plan {
  std::vector<int64_t> start, step;  // per dimension of x
  Shape out_shape;
};

absl::StatusOr<std::vector<int64_t>> ReadInts(const Node& node,
                                              const TensorRefs& inputs,
                                              size_t i, const char* what) {
  const Tensor& t = *inputs[i];
  if (t.dtype() != DType::kInt64 && t.dtype() != DType::kInt32) {
    return NodeError(node, absl::StrCat(what, " must be int32 or int64, got ",
                                        t.DebugString()));
  }
  if (t.rank() != 1) {
    return NodeError(node,
                     absl::StrCat(what, " must be 1-D, got ", t.DebugString()));
  }
  return t.ToInt64Vector();
}

absl::StatusOr<Plan> MakePlan(const Node& node, const TensorRefs& inputs) {
  OC_RETURN_IF_ERROR(RequireInput(node, inputs, 0));
  const Tensor& x = *inputs[0];
  const int64_t rank = x.rank();
  std::vector<int64_t> starts, ends, axes, steps;
  if (node.opset < 10) {
    if (!node.HasAttr("starts") || !node.HasAttr("ends")) {
      return NodeError(node, "attributes 'starts' and 'ends' are required");
    }
    starts = node.GetInts("starts", {});
    ends = node.GetInts("ends", {});
    axes = node.GetInts("axes", {});
    if (!node.HasAttr("axes")) axes.clear();
  } else {
    OC_RETURN_IF_ERROR(RequireInput(node, inputs, 1));
    OC_RETURN_IF_ERROR(RequireInput(node, inputs, 2));
    OC_ASSIGN_OR_RETURN(starts, ReadInts(node, inputs, 1, "starts"));
    OC_ASSIGN_OR_RETURN(ends, ReadInts(node, inputs, 2, "ends"));
    if (HasInput(inputs, 3)) {
      OC_ASSIGN_OR_RETURN(axes, ReadInts(node, inputs, 3, "axes"));
    } else {
      axes.clear();
    }
    if (HasInput(inputs, 4)) {
      OC_ASSIGN_OR_RETURN(steps, ReadInts(node, inputs, 4, "steps"));
    }
  }
  const size_t k = starts.size();
  const bool axes_given =
      node.opset < 10 ? node.HasAttr("axes") : HasInput(inputs, 3);
  if (!axes_given) {
    for (size_t j = 0; j < k; ++j) axes.push_back(static_cast<int64_t>(j));
  }
  if (steps.empty()) steps.assign(k, 1);
  if (ends.size() != k || axes.size() != k || steps.size() != k) {
    return NodeError(node, absl::StrCat("starts, ends, axes and steps have ", k,
                                        ", ", ends.size(), ", ", axes.size(),
                                        " and ", steps.size(), " entries"));
  }
  Plan p;
  p.start.assign(static_cast<size_t>(rank), 0);
  p.step.assign(static_cast<size_t>(rank), 1);
  p.out_shape = x.shape();
  std::vector<bool> seen(static_cast<size_t>(rank), false);
  for (size_t j = 0; j < k; ++j) {
    OC_ASSIGN_OR_RETURN(const int64_t a, NormalizeAxis(axes[j], rank, node));
    if (seen[a]) return NodeError(node, absl::StrCat("axis ", a, " repeats"));
    seen[a] = true;
    const int64_t n = x.dim(a);
    const int64_t step = steps[j];
    if (step == 0) return NodeError(node, "steps must not be 0");
    int64_t start = starts[j], end = ends[j];
    if (start < 0) start += n;  // no overflow: n >= 0
    if (end < 0) end += n;
    int64_t count = 0;
    if (n == 0) {
      start = 0;
    } else if (step > 0) {
      start = std::clamp<int64_t>(start, 0, n);
      end = std::clamp<int64_t>(end, 0, n);
      if (end > start) count = (end - start - 1) / step + 1;
    } else {
      start = std::clamp<int64_t>(start, 0, n - 1);
      end = std::clamp<int64_t>(end, -1, n - 1);
      if (start > end) count = (start - end - 1) / (-step) + 1;
    }
    p.start[a] = count > 0 ? start : 0;
    p.step[a] = step;
    p.out_shape[a] = count;
  }
  return p;
}

// Calls visit(out_flat, in_flat) for every output element.
template <typename Visit>
void ForEachSource(const Plan& p, const Shape& in_shape, Visit visit) {
  const int64_t rank = static_cast<int64_t>(in_shape.size());
  const std::vector<int64_t> in_strides = RowMajorStrides(in_shape);
  // One spare slot in move and index: without it GCC 12 reports a spurious
  // -Wfree-nonheap-object here.
  std::vector<int64_t> move(static_cast<size_t>(rank) + 1, 0);
  int64_t src = 0;
  for (int64_t d = 0; d < rank; ++d) {
    move[d] = p.step[d] * in_strides[d];
    src += p.start[d] * in_strides[d];
  }
  const int64_t total = NumElements(p.out_shape);
  std::vector<int64_t> index(static_cast<size_t>(rank) + 1, 0);
  for (int64_t o = 0; o < total; ++o) {
    visit(o, src);
    for (int64_t d = rank - 1; d >= 0; --d) {
      ++index[d];
      src += move[d];
      if (index[d] < p.out_shape[d]) break;
      src -= index[d] * move[d];
      index[d] = 0;
    }
  }
}

absl::Status SliceForward(const Node& node, const TensorRefs& inputs,
                          std::vector<Tensor>& outputs,
                          std::unique_ptr<OpContext>* ctx) {
  OC_ASSIGN_OR_RETURN(const Plan p, MakePlan(node, inputs));
  const Tensor& x = *inputs[0];
  Tensor y = Tensor::Uninitialized(x.dtype(), p.out_shape);
  const size_t esize = DTypeSize(x.dtype());
  const uint8_t* from = x.raw();
  uint8_t* to = y.mutable_raw();
  ForEachSource(p, x.shape(), [&](int64_t o, int64_t i) {
    std::memcpy(to + o * esize, from + i * esize, esize);
  });
  outputs[0] = std::move(y);
  return absl::OkStatus();
}

absl::Status SliceBackward(const Node& node, const TensorRefs& inputs,
                           const TensorRefs& outputs,
                           const TensorRefs& grad_outputs, const OpContext* ctx,
                           const std::vector<bool>& need_grad,
                           std::vector<Tensor>& grad_inputs) {
  if (need_grad.empty() || !need_grad[0]) return absl::OkStatus();
  OC_ASSIGN_OR_RETURN(const Plan p, MakePlan(node, inputs));
  const Tensor& x = *inputs[0];
  const Tensor dy = GradOrZeros(grad_outputs[0], *outputs[0]);
  OC_DISPATCH_FLOAT(x.dtype(), node, {
    Tensor dx(x.dtype(), x.shape());
    const T* g = dy.data<T>();
    T* d = dx.mutable_data<T>();
    // Distinct output elements read distinct input elements.
    ForEachSource(p, x.shape(), [&](int64_t o, int64_t i) { d[i] = g[o]; });
    grad_inputs[0] = std::move(dx);
  });
  return absl::OkStatus();
}

}  // namespace

void AddSliceOps(std::vector<OpDef>& ops) {
  OpDef def;
  def.op_type = "Slice";
  def.forward = SliceForward;
  def.backward = SliceBackward;
  def.differentiable_inputs = 0b1;  // data; starts/ends/axes/steps are not
  def.since_version = 1;
  def.until_version = 9;  // starts, ends, axes as attributes
  ops.push_back(def);
  def.since_version = 10;  // as inputs, with steps (13 only widened types)
  def.until_version = 1000;
  ops.push_back(def);
}

}  // namespace onnx_crypt::cpu
