// Gather (opset 1+, data of any element type, int32/int64 indices): with data
// viewed as [outer, n, inner] around `axis` (default 0, negative counts from
// the back) and the indices flattened to m entries,
//   y[o, i, :] = data[o, idx[i], :],
// where a negative index counts from the back (idx + n), and
//   y.shape = data.shape[:axis] + indices.shape + data.shape[axis+1:].
// Backward (data only): d data[o, idx[i], :] += dy[o, i, :] (repeated indices
// accumulate).
#include <cstring>

#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/op_helpers.h"

namespace onnx_crypt::cpu {
namespace {

struct Plan {
  int64_t outer = 1, n = 1, inner = 1;
  std::vector<int64_t> index;  // flattened indices, made non-negative
  Shape out_shape;
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
  if (data.rank() == 0) return NodeError(node, "data must have rank >= 1");
  Plan p;
  OC_ASSIGN_OR_RETURN(const int64_t axis,
                      NormalizeAxis(node.GetInt("axis", 0), data.rank(), node));
  for (int64_t d = 0; d < axis; ++d) {
    p.outer *= data.dim(d);
    p.out_shape.push_back(data.dim(d));
  }
  p.n = data.dim(axis);
  for (int64_t d : indices.shape()) p.out_shape.push_back(d);
  for (int64_t d = axis + 1; d < data.rank(); ++d) {
    p.inner *= data.dim(d);
    p.out_shape.push_back(data.dim(d));
  }
  p.index = indices.ToInt64Vector();
  for (int64_t& i : p.index) {
    if (i < -p.n || i >= p.n) {
      return NodeError(
          node, absl::StrCat("index ", i, " is out of range for axis ", axis,
                             " of size ", p.n));
    }
    if (i < 0) i += p.n;
  }
  return p;
}

absl::Status GatherForward(const Node& node, const TensorRefs& inputs,
                           std::vector<Tensor>& outputs,
                           std::unique_ptr<OpContext>* ctx) {
  OC_ASSIGN_OR_RETURN(const Plan p, MakePlan(node, inputs));
  const Tensor& data = *inputs[0];
  Tensor y(data.dtype(), p.out_shape);
  const size_t esize = DTypeSize(data.dtype());
  const int64_t m = static_cast<int64_t>(p.index.size());
  for (int64_t o = 0; o < p.outer; ++o) {
    for (int64_t i = 0; i < m; ++i) {
      if (p.inner == 0) continue;
      std::memcpy(y.mutable_raw() + ((o * m + i) * p.inner) * esize,
                  data.raw() + ((o * p.n + p.index[i]) * p.inner) * esize,
                  p.inner * esize);
    }
  }
  outputs[0] = std::move(y);
  return absl::OkStatus();
}

template <typename T>
void ScatterAdd(const Plan& p, const T* dy, T* dx) {
  const int64_t m = static_cast<int64_t>(p.index.size());
  for (int64_t o = 0; o < p.outer; ++o) {
    for (int64_t i = 0; i < m; ++i) {
      const T* src = dy + (o * m + i) * p.inner;
      T* dst = dx + (o * p.n + p.index[i]) * p.inner;
      for (int64_t k = 0; k < p.inner; ++k) dst[k] += src[k];
    }
  }
}

absl::Status GatherBackward(const Node& node, const TensorRefs& inputs,
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
    ScatterAdd<T>(p, dy.data<T>(), dx.mutable_data<T>());
    grad_inputs[0] = std::move(dx);
  });
  return absl::OkStatus();
}

}  // namespace

void AddGatherOps(std::vector<OpDef>& ops) {
  OpDef def;
  def.op_type = "Gather";
  def.since_version = 1;
  def.forward = GatherForward;
  def.backward = GatherBackward;
  def.differentiable_inputs = 0b1;  // data; indices are not differentiable
  ops.push_back(def);
}

}  // namespace onnx_crypt::cpu
