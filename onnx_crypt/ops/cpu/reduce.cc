// ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2,
// ReduceSumSquare, ReduceLogSum, ReduceLogSumExp: forward and backward.
//
// Over the set R of reduced axes, output element o collects the input elements
// x_i whose indices agree with o outside R (the group of o, n elements):
//   Sum  y = sum x_i                dx_i = dy
//   Mean y = sum x_i / n            dx_i = dy / n
//   Max  y = max x_i                dx_i = dy at the selected element, else 0
//   Min  y = min x_i                (likewise)
//   Prod y = prod x_i               dx_i = dy * prod_{j != i} x_j
//   L1   y = sum |x_i|              dx_i = dy * sign(x_i)
//   L2   y = sqrt(sum x_i^2)        dx_i = dy * x_i / y  (0 where y = 0)
//   SumSquare y = sum x_i^2         dx_i = 2 dy x_i
//   LogSum    y = log(sum x_i)      dx_i = dy / sum x_j
//   LogSumExp y = m + log(sum exp(x_i - m)), m = max x_i
//                                   dx_i = dy * exp(x_i - y)
// Max/Min select the first extreme element of the group in row-major order of
// the input (ties go to the lowest flat index); a NaN wins over any number, the
// first NaN is selected. Prod's gradient counts zeros rather than dividing by
// x_i, so it is exact with zeros in the group.
// An empty group gives the identity of the reduction: 0 (Sum, L1, L2,
// SumSquare), 1 (Prod), -inf (Max, LogSum, LogSumExp), +inf (Min), NaN (Mean,
// 0/0); for integer Max/Min the type's lowest / highest value.
//
// Axes: the `axes` attribute up to opset 12 (ReduceSum) / 17 (the others), the
// optional int64 input `axes` from opset 13 (ReduceSum) / 18 (the others). No
// axes, or an empty list, reduces every axis, except with the input form and
// noop_with_empty_axes = 1, where the op is the identity. keepdims (default 1)
// keeps the reduced axes with size 1.
//
// Element types: float32 and float64 (accumulated in double); int32 and int64
// (accumulated in int64; Mean is the sum divided by n truncated toward zero;
// L2, LogSum and LogSumExp are computed in double and truncated). The backward
// pass is float only.
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <type_traits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/op_helpers.h"
#include "onnx_crypt/ops/cpu/util.h"

namespace onnx_crypt::cpu {

namespace {

enum class Kind {
  kSum,
  kMean,
  kMax,
  kMin,
  kProd,
  kL1,
  kL2,
  kSumSquare,
  kLogSum,
  kLogSumExp
};

struct Plan {
  Shape in_shape;
  Shape out_shape;                  // keepdims applied
  std::vector<int64_t> out_stride;  // per input dim; 0 on reduced dims
  int64_t in_numel = 0;
  int64_t out_numel = 0;
  int64_t group = 1;      // elements per output
  bool identity = false;  // noop_with_empty_axes with no axes
};

bool AxesFromInput(const Node& node) {
  return node.op_type == "ReduceSum" ? node.opset >= 13 : node.opset >= 18;
}

absl::StatusOr<Plan> MakePlan(const Node& node, const TensorRefs& inputs) {
  OC_RETURN_IF_ERROR(RequireInput(node, inputs, 0));
  const Tensor& x = *inputs[0];
  const int64_t rank = x.rank();
  std::vector<int64_t> axes;
  bool noop_if_empty = false;
  if (AxesFromInput(node)) {
    if (node.HasAttr("axes")) {
      return NodeError(
          node, "takes axes as an input at this opset, not an attribute");
    }
    if (HasInput(inputs, 1)) {
      const Tensor& a = *inputs[1];
      if (a.dtype() != DType::kInt64 || a.rank() > 1) {
        return NodeError(node, absl::StrCat("axes ", a.DebugString(),
                                            " must be a 1-D int64 tensor"));
      }
      axes = a.ToInt64Vector();
    }
    noop_if_empty = node.GetInt("noop_with_empty_axes", 0) != 0;
  } else {
    if (HasInput(inputs, 1)) {
      return NodeError(
          node, "takes axes as an attribute at this opset, not an input");
    }
    axes = node.GetInts("axes", {});
  }
  Plan p;
  p.in_shape = x.shape();
  p.in_numel = x.numel();
  if (axes.empty() && noop_if_empty) {
    p.identity = true;
    p.out_shape = x.shape();
    p.out_numel = x.numel();
    return p;
  }
  std::vector<bool> reduced(static_cast<size_t>(rank), axes.empty());
  for (int64_t a : axes) {
    if (a < -rank || a >= rank) {
      return NodeError(node,
                       absl::StrCat("axis ", a, " is out of range for input ",
                                    x.DebugString()));
    }
    const int64_t d = a < 0 ? a + rank : a;
    if (reduced[d]) {
      return NodeError(node, absl::StrCat("axis ", a, " is repeated"));
    }
    reduced[d] = true;
  }
  const bool keepdims = node.GetInt("keepdims", 1) != 0;
  p.out_stride.assign(static_cast<size_t>(rank), 0);
  int64_t stride = 1;
  for (int64_t d = rank - 1; d >= 0; --d) {
    if (reduced[d]) {
      p.group *= p.in_shape[d];
    } else {
      p.out_stride[d] = stride;
      stride *= p.in_shape[d];
    }
  }
  p.out_numel = stride;
  for (int64_t d = 0; d < rank; ++d) {
    if (!reduced[d]) {
      p.out_shape.push_back(p.in_shape[d]);
    } else if (keepdims) {
      p.out_shape.push_back(1);
    }
  }
  return p;
}

// Calls fn(i, o) for every input element i (row-major) with its output o.
template <typename Fn>
void ForEach(const Plan& p, Fn fn) {
  if (p.in_numel == 0) return;
  const int64_t rank = static_cast<int64_t>(p.in_shape.size());
  std::vector<int64_t> idx(static_cast<size_t>(rank), 0);
  int64_t o = 0;
  for (int64_t i = 0; i < p.in_numel; ++i) {
    fn(i, o);
    for (int64_t d = rank - 1; d >= 0; --d) {
      if (++idx[d] < p.in_shape[d]) {
        o += p.out_stride[d];
        break;
      }
      o -= p.out_stride[d] * (p.in_shape[d] - 1);
      idx[d] = 0;
    }
  }
}

template <typename T>
bool IsNan(T v) {
  if constexpr (std::is_floating_point_v<T>) {
    return std::isnan(v);
  } else {
    return false;
  }
}

// True when v replaces the current extreme `best` (first extreme wins).
template <typename T>
bool Better(Kind kind, T v, T best) {
  if (IsNan(best)) return false;
  if (IsNan(v)) return true;
  return kind == Kind::kMax ? v > best : v < best;
}

// Index (input flat) of the selected element of every output; -1 for an empty
// group.
template <typename T>
std::vector<int64_t> Selected(Kind kind, const Plan& p, const T* x) {
  std::vector<int64_t> sel(static_cast<size_t>(p.out_numel), -1);
  ForEach(p, [&](int64_t i, int64_t o) {
    if (sel[o] < 0 || Better(kind, x[i], x[sel[o]])) sel[o] = i;
  });
  return sel;
}

template <typename T>
void ReduceForward(Kind kind, const Plan& p, const T* x, T* y) {
  using Acc = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;
  const size_t out_n = static_cast<size_t>(p.out_numel);
  if (kind == Kind::kMax || kind == Kind::kMin) {
    const std::vector<int64_t> sel = Selected(kind, p, x);
    T empty;
    if constexpr (std::is_floating_point_v<T>) {
      empty = kind == Kind::kMax ? -std::numeric_limits<T>::infinity()
                                 : std::numeric_limits<T>::infinity();
    } else {
      empty = kind == Kind::kMax ? std::numeric_limits<T>::lowest()
                                 : std::numeric_limits<T>::max();
    }
    for (size_t o = 0; o < out_n; ++o) y[o] = sel[o] < 0 ? empty : x[sel[o]];
    return;
  }
  if (kind == Kind::kLogSumExp) {
    std::vector<double> m(out_n, -std::numeric_limits<double>::infinity());
    ForEach(p, [&](int64_t i, int64_t o) {
      const double v = static_cast<double>(x[i]);
      if (v > m[o] || std::isnan(v)) m[o] = v;
    });
    std::vector<double> s(out_n, 0.0);
    ForEach(p, [&](int64_t i, int64_t o) {
      if (std::isfinite(m[o]))
        s[o] += std::exp(static_cast<double>(x[i]) - m[o]);
    });
    for (size_t o = 0; o < out_n; ++o) {
      y[o] = static_cast<T>(std::isfinite(m[o]) ? m[o] + std::log(s[o]) : m[o]);
    }
    return;
  }
  std::vector<Acc> acc(out_n, kind == Kind::kProd ? Acc(1) : Acc(0));
  ForEach(p, [&](int64_t i, int64_t o) {
    const Acc v = static_cast<Acc>(x[i]);
    switch (kind) {
      case Kind::kProd:
        acc[o] *= v;
        break;
      case Kind::kL1:
        acc[o] += v < 0 ? -v : v;
        break;
      case Kind::kL2:
      case Kind::kSumSquare:
        acc[o] += v * v;
        break;
      default:  // Sum, Mean, LogSum
        acc[o] += v;
        break;
    }
  });
  for (size_t o = 0; o < out_n; ++o) {
    switch (kind) {
      case Kind::kMean:
        if constexpr (std::is_floating_point_v<T>) {
          y[o] = static_cast<T>(acc[o] / static_cast<double>(p.group));
        } else {
          y[o] = p.group == 0 ? T(0) : static_cast<T>(acc[o] / p.group);
        }
        break;
      case Kind::kL2:
        y[o] = static_cast<T>(std::sqrt(static_cast<double>(acc[o])));
        break;
      case Kind::kLogSum:
        y[o] = static_cast<T>(std::log(static_cast<double>(acc[o])));
        break;
      default:
        y[o] = static_cast<T>(acc[o]);
        break;
    }
  }
}

template <typename T>
void ReduceBackward(Kind kind, const Plan& p, const T* x, const T* dy, T* dx) {
  const size_t out_n = static_cast<size_t>(p.out_numel);
  switch (kind) {
    case Kind::kSum:
      ForEach(p, [&](int64_t i, int64_t o) { dx[i] = dy[o]; });
      return;
    case Kind::kMean: {
      const T inv = T(1) / static_cast<T>(p.group);
      ForEach(p, [&](int64_t i, int64_t o) { dx[i] = dy[o] * inv; });
      return;
    }
    case Kind::kMax:
    case Kind::kMin: {
      const std::vector<int64_t> sel = Selected(kind, p, x);
      for (int64_t i = 0; i < p.in_numel; ++i) dx[i] = T(0);
      for (size_t o = 0; o < out_n; ++o) {
        if (sel[o] >= 0) dx[sel[o]] = dy[o];
      }
      return;
    }
    case Kind::kProd: {
      // Product of the nonzero elements and the number of zeros per group.
      std::vector<double> nonzero(out_n, 1.0);
      std::vector<int64_t> zeros(out_n, 0);
      ForEach(p, [&](int64_t i, int64_t o) {
        if (x[i] == T(0)) {
          ++zeros[o];
        } else {
          nonzero[o] *= static_cast<double>(x[i]);
        }
      });
      ForEach(p, [&](int64_t i, int64_t o) {
        double others = 0.0;
        if (zeros[o] == 0) {
          others = nonzero[o] / static_cast<double>(x[i]);
        } else if (zeros[o] == 1 && x[i] == T(0)) {
          others = nonzero[o];
        }
        dx[i] = static_cast<T>(static_cast<double>(dy[o]) * others);
      });
      return;
    }
    case Kind::kL1:
      ForEach(p, [&](int64_t i, int64_t o) {
        dx[i] = x[i] > T(0) ? dy[o] : (x[i] < T(0) ? -dy[o] : T(0));
      });
      return;
    case Kind::kSumSquare:
      ForEach(p, [&](int64_t i, int64_t o) { dx[i] = T(2) * dy[o] * x[i]; });
      return;
    case Kind::kL2:
    case Kind::kLogSum:
    case Kind::kLogSumExp: {
      // Recomputed in double from x rather than read from the (rounded) y.
      std::vector<double> y(out_n);
      std::vector<double> xd(static_cast<size_t>(p.in_numel));
      for (int64_t i = 0; i < p.in_numel; ++i) xd[i] = x[i];
      const Kind fwd = kind == Kind::kLogSum ? Kind::kSum : kind;
      ReduceForward<double>(fwd, p, xd.data(), y.data());
      ForEach(p, [&](int64_t i, int64_t o) {
        const double g = dy[o];
        double d = 0.0;
        if (kind == Kind::kL2) {
          d = y[o] == 0.0 ? 0.0 : g * xd[i] / y[o];
        } else if (kind == Kind::kLogSum) {
          d = g / y[o];
        } else {
          d = g * std::exp(xd[i] - y[o]);
        }
        dx[i] = static_cast<T>(d);
      });
      return;
    }
  }
}

template <Kind kKind>
absl::Status Forward(const Node& node, const TensorRefs& inputs,
                     std::vector<Tensor>& outputs,
                     std::unique_ptr<OpContext>* ctx) {
  OC_ASSIGN_OR_RETURN(const Plan p, MakePlan(node, inputs));
  const Tensor& x = *inputs[0];
  if (p.identity) {
    outputs[0] = x;
    return absl::OkStatus();
  }
  Tensor y = Tensor::Uninitialized(x.dtype(), p.out_shape);
  switch (x.dtype()) {
    case DType::kFloat32:
      ReduceForward<float>(kKind, p, x.data<float>(), y.mutable_data<float>());
      break;
    case DType::kFloat64:
      ReduceForward<double>(kKind, p, x.data<double>(),
                            y.mutable_data<double>());
      break;
    case DType::kInt64:
      ReduceForward<int64_t>(kKind, p, x.data<int64_t>(),
                             y.mutable_data<int64_t>());
      break;
    case DType::kInt32:
      ReduceForward<int32_t>(kKind, p, x.data<int32_t>(),
                             y.mutable_data<int32_t>());
      break;
    default:
      return NodeError(node, absl::StrCat("unsupported element type ",
                                          DTypeName(x.dtype())));
  }
  outputs[0] = std::move(y);
  return absl::OkStatus();
}

template <Kind kKind>
absl::Status Backward(const Node& node, const TensorRefs& inputs,
                      const TensorRefs& outputs, const TensorRefs& grad_outputs,
                      const OpContext* ctx, const std::vector<bool>& need_grad,
                      std::vector<Tensor>& grad_inputs) {
  if (need_grad.empty() || !need_grad[0]) return absl::OkStatus();
  OC_ASSIGN_OR_RETURN(const Plan p, MakePlan(node, inputs));
  const Tensor& x = *inputs[0];
  const Tensor* dy = grad_outputs.empty() ? nullptr : grad_outputs[0];
  if (dy == nullptr || !dy->defined()) {
    grad_inputs[0] = Tensor(x.dtype(), x.shape());
    return absl::OkStatus();
  }
  if (dy->dtype() != x.dtype() || dy->numel() != p.out_numel) {
    return NodeError(node, absl::StrCat("output gradient ", dy->DebugString(),
                                        " does not match the output ",
                                        ShapeToString(p.out_shape)));
  }
  if (p.identity) {
    Tensor dx = *dy;
    dx.Reshape(x.shape());
    grad_inputs[0] = std::move(dx);
    return absl::OkStatus();
  }
  OC_DISPATCH_FLOAT(x.dtype(), node, {
    Tensor dx = Tensor::Uninitialized(x.dtype(), x.shape());
    ReduceBackward<T>(kKind, p, x.data<T>(), dy->data<T>(),
                      dx.mutable_data<T>());
    grad_inputs[0] = std::move(dx);
  });
  return absl::OkStatus();
}

template <Kind kKind>
void AddOne(const char* op_type, int input_axes_since,
            std::vector<OpDef>& ops) {
  OpDef def;
  def.op_type = op_type;
  def.forward = &Forward<kKind>;
  def.backward = &Backward<kKind>;
  def.differentiable_inputs = 0b1;  // data; axes is not differentiable
  def.since_version = 1;
  def.until_version = input_axes_since - 1;  // axes attribute
  ops.push_back(def);
  def.since_version = input_axes_since;  // axes input, noop_with_empty_axes
  def.until_version = 21;
  ops.push_back(def);
}

}  // namespace

void AddReduceOps(std::vector<OpDef>& ops) {
  AddOne<Kind::kSum>("ReduceSum", 13, ops);
  AddOne<Kind::kMean>("ReduceMean", 18, ops);
  AddOne<Kind::kMax>("ReduceMax", 18, ops);
  AddOne<Kind::kMin>("ReduceMin", 18, ops);
  AddOne<Kind::kProd>("ReduceProd", 18, ops);
  AddOne<Kind::kL1>("ReduceL1", 18, ops);
  AddOne<Kind::kL2>("ReduceL2", 18, ops);
  AddOne<Kind::kSumSquare>("ReduceSumSquare", 18, ops);
  AddOne<Kind::kLogSum>("ReduceLogSum", 18, ops);
  AddOne<Kind::kLogSumExp>("ReduceLogSumExp", 18, ops);
}

}  // namespace onnx_crypt::cpu
