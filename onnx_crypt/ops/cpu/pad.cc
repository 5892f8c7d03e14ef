// Pad (opset 2+, data of any element type): output dimension d has size
// n_d + begin_d + end_d (negative pads crop) and y[i] = x[src(i)] where, per
// dimension, s = i_d - begin_d is mapped into [0, n_d) by `mode`:
//   constant: s outside [0, n_d) gives the constant value instead of x;
//   edge: s is clamped to [0, n_d - 1];
//   reflect: s is mirrored at the borders without repeating the edge element
//            (period 2 (n_d - 1)).
// Backward (data only): dx[src(i)] += dy[i] for every y element taken from x.
//  - opset 2..10: pads, mode and value (float) are attributes.
//  - opset 11+: pads (int64 [2 * r]) and constant_value (optional scalar of
//    data's type) are inputs; from opset 18, optional input 3 `axes` names the
//    padded axes (pads then has 2 * len(axes) entries; negative axes count from
//    the back).
// pads lists all begins, then all ends: [b_0, ..., b_{r-1}, e_0, ..., e_{r-1}].
#include <cstring>

#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/op_helpers.h"

namespace onnx_crypt::cpu {
namespace {

enum class Mode { kConstant, kEdge, kReflect };

struct Plan {
  Mode mode = Mode::kConstant;
  std::vector<int64_t> begin;  // per dimension of x
  Shape out_shape;
  Tensor value;  // constant-mode fill: a scalar of x's dtype
};

absl::StatusOr<Plan> MakePlan(const Node& node, const TensorRefs& inputs) {
  OC_RETURN_IF_ERROR(RequireInput(node, inputs, 0));
  const Tensor& x = *inputs[0];
  const int64_t rank = x.rank();
  Plan p;
  const std::string mode = node.GetString("mode", "constant");
  if (mode == "constant") {
    p.mode = Mode::kConstant;
  } else if (mode == "edge") {
    p.mode = Mode::kEdge;
  } else if (mode == "reflect") {
    p.mode = Mode::kReflect;
  } else {
    return absl::UnimplementedError(absl::StrCat(
        node.Describe(), ": pad mode '", mode, "' is not supported"));
  }

  std::vector<int64_t> pads;
  std::vector<int64_t> axes;
  if (node.opset < 11) {
    if (!node.HasAttr("pads"))
      return NodeError(node, "attribute 'pads' is required");
    pads = node.GetInts("pads", {});
    p.value =
        Tensor::Scalar<float>(node.GetFloat("value", 0.0f)).CastTo(x.dtype());
  } else {
    OC_RETURN_IF_ERROR(RequireInput(node, inputs, 1));
    pads = inputs[1]->ToInt64Vector();
    if (HasInput(inputs, 2)) {
      const Tensor& v = *inputs[2];
      if (v.numel() != 1) {
        return NodeError(node,
                         absl::StrCat("constant_value must be a scalar, got ",
                                      v.DebugString()));
      }
      p.value = v.CastTo(x.dtype());
      p.value.Reshape({});
    } else {
      p.value = Tensor(x.dtype(), {});
    }
    if (node.opset >= 18 && HasInput(inputs, 3))
      axes = inputs[3]->ToInt64Vector();
  }
  if (axes.empty()) {
    for (int64_t d = 0; d < rank; ++d) axes.push_back(d);
  }
  const int64_t k = static_cast<int64_t>(axes.size());
  if (static_cast<int64_t>(pads.size()) != 2 * k) {
    return NodeError(
        node, absl::StrCat("pads has ", pads.size(), " entries, expected ",
                           2 * k, " for input ", x.DebugString()));
  }
  p.begin.assign(static_cast<size_t>(rank), 0);
  std::vector<int64_t> end(static_cast<size_t>(rank), 0);
  for (int64_t j = 0; j < k; ++j) {
    OC_ASSIGN_OR_RETURN(const int64_t d, NormalizeAxis(axes[j], rank, node));
    p.begin[d] = pads[j];
    end[d] = pads[k + j];
  }
  for (int64_t d = 0; d < rank; ++d) {
    int64_t size = 0;
    if (!CheckedAdd(x.dim(d), p.begin[d], &size) ||
        !CheckedAdd(size, end[d], &size)) {
      return NodeError(node, absl::StrCat("pads ", p.begin[d], "/", end[d],
                                          " of dimension ", d, " overflow"));
    }
    if (size < 0) {
      return NodeError(node, absl::StrCat("pads crop more than dimension ", d,
                                          " of ", x.DebugString(), " holds"));
    }
    if (p.mode != Mode::kConstant && x.dim(d) == 0 && size > 0) {
      return NodeError(
          node, absl::StrCat("cannot ", mode, "-pad the empty dimension ", d));
    }
    p.out_shape.push_back(size);
  }
  const absl::Status size_ok = CheckTensorSize(x.dtype(), p.out_shape);
  if (!size_ok.ok()) return NodeError(node, size_ok.message());
  return p;
}

// The flat index into x that output element `o` reads, or -1 for a constant
// fill.
int64_t SourceIndex(const Plan& p, const Shape& in_shape,
                    const std::vector<int64_t>& in_strides, int64_t o) {
  int64_t src = 0;
  for (int64_t d = static_cast<int64_t>(in_shape.size()) - 1; d >= 0; --d) {
    const int64_t i = o % p.out_shape[d];
    o /= p.out_shape[d];
    const int64_t n = in_shape[d];
    int64_t s = i - p.begin[d];
    if (s < 0 || s >= n) {
      switch (p.mode) {
        case Mode::kConstant:
          return -1;
        case Mode::kEdge:
          s = s < 0 ? 0 : n - 1;
          break;
        case Mode::kReflect:
          if (n == 1) {
            s = 0;
          } else {
            const int64_t period = 2 * (n - 1);
            s = ((s % period) + period) % period;
            if (s >= n) s = period - s;
          }
          break;
      }
    }
    src += s * in_strides[d];
  }
  return src;
}

absl::Status PadForward(const Node& node, const TensorRefs& inputs,
                        std::vector<Tensor>& outputs,
                        std::unique_ptr<OpContext>* ctx) {
  OC_ASSIGN_OR_RETURN(const Plan p, MakePlan(node, inputs));
  const Tensor& x = *inputs[0];
  Tensor y(x.dtype(), p.out_shape);
  const size_t esize = DTypeSize(x.dtype());
  const std::vector<int64_t> strides = RowMajorStrides(x.shape());
  for (int64_t o = 0; o < y.numel(); ++o) {
    const int64_t src = SourceIndex(p, x.shape(), strides, o);
    const uint8_t* from = src < 0 ? p.value.raw() : x.raw() + src * esize;
    std::memcpy(y.mutable_raw() + o * esize, from, esize);
  }
  outputs[0] = std::move(y);
  return absl::OkStatus();
}

template <typename T>
void PadGrad(const Plan& p, const Shape& in_shape, const T* dy,
             int64_t out_numel, T* dx) {
  const std::vector<int64_t> strides = RowMajorStrides(in_shape);
  for (int64_t o = 0; o < out_numel; ++o) {
    const int64_t src = SourceIndex(p, in_shape, strides, o);
    if (src >= 0) dx[src] += dy[o];
  }
}

absl::Status PadBackward(const Node& node, const TensorRefs& inputs,
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
    PadGrad<T>(p, x.shape(), dy.data<T>(), dy.numel(), dx.mutable_data<T>());
    grad_inputs[0] = std::move(dx);
  });
  return absl::OkStatus();
}

}  // namespace

void AddPadOps(std::vector<OpDef>& ops) {
  OpDef def;
  def.op_type = "Pad";
  def.forward = PadForward;
  def.backward = PadBackward;
  def.differentiable_inputs =
      0b1;  // data; pads, constant_value and axes are not
  def.since_version = 2;
  def.until_version = 10;  // pads, value as attributes
  ops.push_back(def);
  def.since_version = 11;  // pads, constant_value (and axes from 18) as inputs
  def.until_version = 1000;
  ops.push_back(def);
}

}  // namespace onnx_crypt::cpu
