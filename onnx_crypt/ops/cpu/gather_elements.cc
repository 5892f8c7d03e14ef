// GatherElements (opset 11+, data of any element type, int32/int64 indices):
// indices has data's rank, y has indices' shape, and along `axis` (default 0,
// negative counts from the back)
//   y[i_0, ..., i_{r-1}] = data[i_0, ..., idx[i_0, ..., i_{r-1}], ..., i_{r-1}]
// where a negative index counts from the back (idx + n). On the other axes
// indices may be shorter than data (only its extent is read).
// Backward (data only): d data[...idx...] += dy[i] (repeats accumulate).
#include <cstring>

#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/op_helpers.h"

namespace onnx_crypt::cpu {
namespace {

struct Plan {
  std::vector<int64_t> source;  // per output element: flat index into data
};

absl::StatusOr<Plan> MakePlan(const Node& node, const TensorRefs& inputs) {
  OC_RETURN_IF_ERROR(RequireInput(node, inputs, 0));
  OC_RETURN_IF_ERROR(RequireInput(node, inputs, 1));
  const Tensor& data = *inputs[0];
  const Tensor& indices = *inputs[1];
  if (indices.dtype() != DType::kInt64 && indices.dtype() != DType::kInt32) {
    return NodeError(node, absl::StrCat("indices must be int32 or int64, got ",
                                        DTypeName(indices.dtype())));
  }
  const int64_t rank = data.rank();
  if (rank == 0 || indices.rank() != rank) {
    return NodeError(node, absl::StrCat("indices ", indices.DebugString(),
                                        " must have the rank of data ",
                                        data.DebugString(), " (>= 1)"));
  }
  OC_ASSIGN_OR_RETURN(const int64_t axis,
                      NormalizeAxis(node.GetInt("axis", 0), rank, node));
  for (int64_t d = 0; d < rank; ++d) {
    if (d != axis && indices.dim(d) > data.dim(d)) {
      return NodeError(
          node, absl::StrCat("indices ", indices.DebugString(), " exceed data ",
                             data.DebugString(), " on axis ", d));
    }
  }
  const std::vector<int64_t> idx = indices.ToInt64Vector();
  const std::vector<int64_t> strides = RowMajorStrides(data.shape());
  const int64_t n = data.dim(axis);
  Plan p;
  p.source.resize(idx.size());
  std::vector<int64_t> index(static_cast<size_t>(rank), 0);
  int64_t base = 0;  // flat data offset of index with the axis entry zeroed
  for (size_t o = 0; o < idx.size(); ++o) {
    int64_t i = idx[o];
    if (i < -n || i >= n) {
      return NodeError(node, absl::StrCat("index ", i,
                                          " is out of range for "
                                          "axis ",
                                          axis, " of size ", n));
    }
    if (i < 0) i += n;
    p.source[o] = base + i * strides[axis];
    for (int64_t d = rank - 1; d >= 0; --d) {
      ++index[d];
      if (d != axis) base += strides[d];
      if (index[d] < indices.dim(d)) break;
      if (d != axis) base -= index[d] * strides[d];
      index[d] = 0;
    }
  }
  return p;
}

absl::Status GatherElementsForward(const Node& node, const TensorRefs& inputs,
                                   std::vector<Tensor>& outputs,
                                   std::unique_ptr<OpContext>* ctx) {
  OC_ASSIGN_OR_RETURN(const Plan p, MakePlan(node, inputs));
  const Tensor& data = *inputs[0];
  Tensor y = Tensor::Uninitialized(data.dtype(), inputs[1]->shape());
  const size_t esize = DTypeSize(data.dtype());
  for (size_t o = 0; o < p.source.size(); ++o) {
    std::memcpy(y.mutable_raw() + o * esize, data.raw() + p.source[o] * esize,
                esize);
  }
  outputs[0] = std::move(y);
  return absl::OkStatus();
}

absl::Status GatherElementsBackward(const Node& node, const TensorRefs& inputs,
                                    const TensorRefs& outputs,
                                    const TensorRefs& grad_outputs,
                                    const OpContext* ctx,
                                    const std::vector<bool>& need_grad,
                                    std::vector<Tensor>& grad_inputs) {
  if (need_grad.empty() || !need_grad[0]) return absl::OkStatus();
  OC_ASSIGN_OR_RETURN(const Plan p, MakePlan(node, inputs));
  const Tensor& data = *inputs[0];
  const Tensor dy = GradOrZeros(grad_outputs[0], *outputs[0]);
  OC_DISPATCH_FLOAT(data.dtype(), node, {
    Tensor dx(data.dtype(), data.shape());
    const T* g = dy.data<T>();
    T* d = dx.mutable_data<T>();
    for (size_t o = 0; o < p.source.size(); ++o) d[p.source[o]] += g[o];
    grad_inputs[0] = std::move(dx);
  });
  return absl::OkStatus();
}

}  // namespace

void AddGatherElementsOps(std::vector<OpDef>& ops) {
  OpDef def;
  def.op_type = "GatherElements";
  def.since_version = 11;  // 13 only widened the types (bfloat16)
  def.forward = GatherElementsForward;
  def.backward = GatherElementsBackward;
  def.differentiable_inputs = 0b1;  // data; indices are not differentiable
  ops.push_back(def);
}

}  // namespace onnx_crypt::cpu
