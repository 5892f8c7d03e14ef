// ScatterND (11; 16 adds `reduction` none/add/mul, 18 adds max/min):
//   output = data; for each index tuple k of `indices` [..., q-1 dims; last
//   dim r_k <= rank(data)], output[indices[k]] (a slice of data's trailing
//   rank - r_k dims) = updates[k] (reduction none), or is combined with it.
// Negative indices count from the end (as ONNX Runtime accepts); an index
// out of range is InvalidArgument naming the node. With reduction none the
// spec leaves duplicate indices undefined; here the last update wins.
// Backward (reduction none; float): dData = dOut with the scattered slices
// zeroed, dUpdates[k] = dOut[indices[k]] (for duplicates only the slice that
// won gets it, the others zero). Reductions other than none have no backward
// here (UnimplementedError naming the node when a gradient is asked).
#include <algorithm>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/elem_common.h"
#include "onnx_crypt/ops/cpu/op_helpers.h"

namespace onnx_crypt::cpu {
namespace {

// Where each update slice goes: its element offset in data, and the slice
// size in elements.
struct ScatterPlan {
  std::vector<int64_t> offsets;
  int64_t slice = 1;
};

absl::StatusOr<ScatterPlan> PlanScatter(const Node& node, const Tensor& data,
                                        const Tensor& indices,
                                        const Tensor& updates) {
  if (indices.dtype() != DType::kInt64)
    return NodeError(node, "indices must be int64");
  if (indices.rank() < 1) return NodeError(node, "indices need rank >= 1");
  const int64_t r = indices.dim(indices.rank() - 1);
  if (r < 1 || r > data.rank())
    return NodeError(node, absl::StrCat("indices' last dimension ", r,
                                        " must be in [1, rank(data)]"));
  ScatterPlan plan;
  for (int64_t d = r; d < data.rank(); ++d) plan.slice *= data.dim(d);
  const int64_t count = indices.numel() / r;
  // updates: indices.shape[:-1] + data.shape[r:]
  Shape want(indices.shape().begin(), indices.shape().end() - 1);
  want.insert(want.end(), data.shape().begin() + r, data.shape().end());
  if (updates.shape() != want) {
    return NodeError(node,
                     absl::StrCat("updates are ", updates.DebugString(),
                                  ", expected shape ", ShapeToString(want)));
  }
  const int64_t* idx = indices.data<int64_t>();
  plan.offsets.resize(static_cast<size_t>(count));
  for (int64_t k = 0; k < count; ++k) {
    int64_t offset = 0;
    for (int64_t d = 0; d < r; ++d) {
      int64_t i = idx[k * r + d];
      const int64_t n = data.dim(d);
      if (i < 0) i += n;
      if (i < 0 || i >= n) {
        return NodeError(
            node, absl::StrCat("index ", idx[k * r + d],
                               " is outside dimension ", d, " of size ", n));
      }
      offset = offset * n + i;
    }
    plan.offsets[k] = offset * plan.slice;
  }
  return plan;
}

absl::Status ScatterCompute(const Node& node, const TensorRefs& inputs,
                            std::vector<Tensor>& outputs) {
  const Tensor& data = *inputs[0];
  const Tensor& updates = *inputs[2];
  if (updates.dtype() != data.dtype())
    return NodeError(node, "updates must have data's dtype");
  OC_ASSIGN_OR_RETURN(const ScatterPlan plan,
                      PlanScatter(node, data, *inputs[1], updates));
  const std::string reduction = node.GetString("reduction", "none");
  Tensor out = data;
  OC_DISPATCH_ALL(data.dtype(), node, {
    T* po = out.mutable_data<T>();
    const T* pu = updates.data<T>();
    for (size_t k = 0; k < plan.offsets.size(); ++k) {
      T* dst = po + plan.offsets[k];
      const T* src = pu + static_cast<int64_t>(k) * plan.slice;
      for (int64_t e = 0; e < plan.slice; ++e) {
        if (reduction == "none") {
          dst[e] = src[e];
        } else if (reduction == "add") {
          dst[e] = static_cast<T>(dst[e] + src[e]);
        } else if (reduction == "mul") {
          dst[e] = static_cast<T>(dst[e] * src[e]);
        } else if (reduction == "max") {
          dst[e] = dst[e] < src[e] ? src[e] : dst[e];
        } else if (reduction == "min") {
          dst[e] = src[e] < dst[e] ? src[e] : dst[e];
        } else {
          return NodeError(node,
                           absl::StrCat("unknown reduction '", reduction, "'"));
        }
      }
    }
  });
  outputs[0] = std::move(out);
  return absl::OkStatus();
}

absl::Status ScatterNDForward(const Node& node, const TensorRefs& inputs,
                              std::vector<Tensor>& outputs,
                              std::unique_ptr<OpContext>* ctx) {
  for (int i = 0; i < 3; ++i) OC_RETURN_IF_ERROR(RequireInput(node, inputs, i));
  return WithHalfAsFloat(inputs, outputs,
                         [&](const TensorRefs& in, std::vector<Tensor>& out) {
                           return ScatterCompute(node, in, out);
                         });
}

absl::Status ScatterNDBackward(const Node& node, const TensorRefs& inputs,
                               const TensorRefs& outputs,
                               const TensorRefs& grad_outputs,
                               const OpContext* ctx,
                               const std::vector<bool>& need_grad,
                               std::vector<Tensor>& grad_inputs) {
  const Tensor& data = *inputs[0];
  const Tensor& updates = *inputs[2];
  if (data.dtype() != DType::kFloat32 && data.dtype() != DType::kFloat64)
    return absl::OkStatus();
  if (node.GetString("reduction", "none") != "none") {
    return absl::UnimplementedError(absl::StrCat(
        node.Describe(), ": no gradient for a ScatterND with a reduction"));
  }
  OC_ASSIGN_OR_RETURN(const ScatterPlan plan,
                      PlanScatter(node, data, *inputs[1], updates));
  const Tensor dz = GradOrZeros(grad_outputs[0], *outputs[0]);
  // Which update wrote each slice last.
  std::vector<int64_t> winner(plan.offsets.size(), 1);
  {
    std::vector<std::pair<int64_t, size_t>> last;
    for (size_t k = 0; k < plan.offsets.size(); ++k)
      last.emplace_back(plan.offsets[k], k);
    std::sort(last.begin(), last.end());
    for (size_t i = 0; i + 1 < last.size(); ++i) {
      if (last[i].first == last[i + 1].first) winner[last[i].second] = 0;
    }
  }
  OC_DISPATCH_FLOAT(data.dtype(), node, {
    const T* pd = dz.data<T>();
    if (need_grad.size() > 0 && need_grad[0]) {
      Tensor g = dz;
      T* pg = g.mutable_data<T>();
      for (int64_t off : plan.offsets)
        std::fill(pg + off, pg + off + plan.slice, T{0});
      grad_inputs[0] = std::move(g);
    }
    if (need_grad.size() > 2 && need_grad[2]) {
      Tensor g(updates.dtype(), updates.shape());
      T* pg = g.mutable_data<T>();
      for (size_t k = 0; k < plan.offsets.size(); ++k) {
        T* dst = pg + static_cast<int64_t>(k) * plan.slice;
        if (!winner[k]) {
          std::fill(dst, dst + plan.slice, T{0});
          continue;
        }
        std::memcpy(dst, pd + plan.offsets[k], plan.slice * sizeof(T));
      }
      grad_inputs[2] = std::move(g);
    }
  });
  return absl::OkStatus();
}

}  // namespace

void AddScatterNDOps(std::vector<OpDef>& ops) {
  OpDef def;
  def.op_type = "ScatterND";
  def.since_version = 11;
  def.forward = ScatterNDForward;
  def.backward = ScatterNDBackward;
  def.differentiable_inputs = 0b101;  // data, updates
  ops.push_back(def);
}

}  // namespace onnx_crypt::cpu
