// Tile (opset 6+, any element type): `repeats` (int64, one entry per input
// dimension, each >= 0) copies x that many times along each dimension:
//   y.shape[d] = x.shape[d] * repeats[d],  y[i] = x[i_d mod x.shape[d]].
// Backward (input only): dx[j] = sum of dy over every tile, i.e. over the i
// with i_d mod x.shape[d] = j_d.
#include <cstring>

#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/op_helpers.h"

namespace onnx_crypt::cpu {
namespace {

absl::StatusOr<Shape> OutputShape(const Node& node, const TensorRefs& inputs) {
  OC_RETURN_IF_ERROR(RequireInput(node, inputs, 0));
  OC_RETURN_IF_ERROR(RequireInput(node, inputs, 1));
  const Tensor& x = *inputs[0];
  const std::vector<int64_t> repeats = inputs[1]->ToInt64Vector();
  if (inputs[1]->rank() != 1 ||
      static_cast<int64_t>(repeats.size()) != x.rank()) {
    return NodeError(node, absl::StrCat("repeats ", inputs[1]->DebugString(),
                                        " must be 1-D with one entry per "
                                        "dimension of ",
                                        x.DebugString()));
  }
  Shape out(x.shape());
  for (int64_t d = 0; d < x.rank(); ++d) {
    if (repeats[d] < 0 || !CheckedMul(x.dim(d), repeats[d], &out[d])) {
      return NodeError(node, absl::StrCat("repeats[", d, "] = ", repeats[d],
                                          " is invalid for ", x.DebugString()));
    }
  }
  const absl::Status size_ok = CheckTensorSize(x.dtype(), out);
  if (!size_ok.ok()) return NodeError(node, size_ok.message());
  return out;
}

// Calls visit(out_flat, in_flat) for every output element.
template <typename Visit>
void ForEachSource(const Shape& in_shape, const Shape& out_shape, Visit visit) {
  const int64_t rank = static_cast<int64_t>(out_shape.size());
  const std::vector<int64_t> in_strides = RowMajorStrides(in_shape);
  const int64_t total = NumElements(out_shape);
  // One spare slot each: without it GCC 12 reports a spurious
  // -Wfree-nonheap-object here.
  std::vector<int64_t> index(static_cast<size_t>(rank) + 1, 0);
  std::vector<int64_t> wrapped(static_cast<size_t>(rank) + 1, 0);
  int64_t src = 0;
  for (int64_t o = 0; o < total; ++o) {
    visit(o, src);
    for (int64_t d = rank - 1; d >= 0; --d) {
      ++index[d];
      ++wrapped[d];
      src += in_strides[d];
      if (wrapped[d] == in_shape[d]) {
        src -= wrapped[d] * in_strides[d];
        wrapped[d] = 0;
      }
      if (index[d] < out_shape[d]) break;
      src -= wrapped[d] * in_strides[d];
      wrapped[d] = 0;
      index[d] = 0;
    }
  }
}

absl::Status TileForward(const Node& node, const TensorRefs& inputs,
                         std::vector<Tensor>& outputs,
                         std::unique_ptr<OpContext>* ctx) {
  OC_ASSIGN_OR_RETURN(const Shape out_shape, OutputShape(node, inputs));
  const Tensor& x = *inputs[0];
  Tensor y = Tensor::Uninitialized(x.dtype(), out_shape);
  const size_t esize = DTypeSize(x.dtype());
  const uint8_t* from = x.raw();
  uint8_t* to = y.mutable_raw();
  ForEachSource(x.shape(), out_shape, [&](int64_t o, int64_t i) {
    std::memcpy(to + o * esize, from + i * esize, esize);
  });
  outputs[0] = std::move(y);
  return absl::OkStatus();
}

absl::Status TileBackward(const Node& node, const TensorRefs& inputs,
                          const TensorRefs& outputs,
                          const TensorRefs& grad_outputs, const OpContext* ctx,
                          const std::vector<bool>& need_grad,
                          std::vector<Tensor>& grad_inputs) {
  if (need_grad.empty() || !need_grad[0]) return absl::OkStatus();
  OC_ASSIGN_OR_RETURN(const Shape out_shape, OutputShape(node, inputs));
  const Tensor& x = *inputs[0];
  const Tensor dy = GradOrZeros(grad_outputs[0], *outputs[0]);
  OC_DISPATCH_FLOAT(x.dtype(), node, {
    Tensor dx(x.dtype(), x.shape());
    const T* g = dy.data<T>();
    T* d = dx.mutable_data<T>();
    ForEachSource(x.shape(), out_shape,
                  [&](int64_t o, int64_t i) { d[i] += g[o]; });
    grad_inputs[0] = std::move(dx);
  });
  return absl::OkStatus();
}

}  // namespace

void AddTileOps(std::vector<OpDef>& ops) {
  OpDef def;
  def.op_type = "Tile";
  def.since_version = 6;  // 13 only widened the types (bfloat16)
  def.forward = TileForward;
  def.backward = TileBackward;
  def.differentiable_inputs = 0b1;  // input; repeats is not differentiable
  ops.push_back(def);
}

}  // namespace onnx_crypt::cpu
