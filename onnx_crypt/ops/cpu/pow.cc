// Pow (7+; 12 allows integer bases and a separate exponent type T1; 13, 15
// add bfloat16): z = x ^ y with multidirectional broadcasting; z has x's type.
//  - float x: z = pow(x, y) computed in double and rounded once to x's type
//    (float16/bfloat16 x: computed in float32 after widening).
//  - integer x, integer y: exact repeated squaring, wrapping modulo 2^bits
//    like the integer product; y < 0 gives 1 / x^|y| truncated (1 for x = 1,
//    +-1 for x = -1, 0 otherwise, also for x = 0).
//  - integer x, float y: pow in double, truncated toward zero (saturating).
// Backward (float32/float64 x; y float32/float64 for dy), summed back over
// broadcast dimensions:
//   dz/dx = y x^(y-1)            (0 where y = 0)
//   dz/dy = x^y ln x             (0 where x = 0 and y >= 0; NaN for x < 0)
#include <cmath>
#include <type_traits>

#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/elem_common.h"
#include "onnx_crypt/ops/cpu/op_helpers.h"

namespace onnx_crypt::cpu {
namespace {

template <typename TX, typename TY>
TX PowValue(TX x, TY y) {
  if constexpr (std::is_floating_point_v<TX>) {
    return static_cast<TX>(
        std::pow(static_cast<double>(x), static_cast<double>(y)));
  } else if constexpr (std::is_integral_v<TY>) {
    if constexpr (std::is_signed_v<TY>) {
      if (y < 0) {
        if (x == TX{1}) return TX{1};
        if constexpr (std::is_signed_v<TX>) {
          if (x == TX{-1}) return (y % 2 == 0) ? TX{1} : TX{-1};
        }
        return TX{0};
      }
    }
    // Unsigned arithmetic wraps without undefined behaviour.
    using U = std::make_unsigned_t<TX>;
    U base = static_cast<U>(x);
    U result = 1;
    auto e = static_cast<std::make_unsigned_t<TY>>(y);
    while (e != 0) {
      if (e & 1u) result = static_cast<U>(result * base);
      base = static_cast<U>(base * base);
      e >>= 1;
    }
    return static_cast<TX>(result);
  } else {
    return SaturatingCast<TX>(
        std::pow(static_cast<double>(x), static_cast<double>(y)));
  }
}

template <typename TX, typename TY>
Tensor PowTyped(const Tensor& x, const Tensor& y, const Shape& shape) {
  Tensor z = Tensor::Uninitialized(x.dtype(), shape);
  const BroadcastReader rx(x.shape(), shape);
  const BroadcastReader ry(y.shape(), shape);
  const TX* px = x.data<TX>();
  const TY* py = y.data<TY>();
  TX* pz = z.mutable_data<TX>();
  for (int64_t i = 0; i < z.numel(); ++i)
    pz[i] = PowValue<TX, TY>(px[rx(i)], py[ry(i)]);
  return z;
}

template <typename TX>
absl::Status PowWithBase(const Node& node, const Tensor& x, const Tensor& y,
                         const Shape& shape, Tensor* z) {
  OC_DISPATCH_NUMERIC(y.dtype(), node, { *z = PowTyped<TX, T>(x, y, shape); });
  return absl::OkStatus();
}

absl::Status PowForward(const Node& node, const TensorRefs& inputs,
                        std::vector<Tensor>& outputs,
                        std::unique_ptr<OpContext>* ctx) {
  OC_RETURN_IF_ERROR(RequireInput(node, inputs, 0));
  OC_RETURN_IF_ERROR(RequireInput(node, inputs, 1));
  if (node.opset < 12) OC_RETURN_IF_ERROR(RequireSameDType(node, inputs));
  return WithHalfAsFloat(
      inputs, outputs,
      [&node](const TensorRefs& in, std::vector<Tensor>& out) -> absl::Status {
        const Tensor& x = *in[0];
        const Tensor& y = *in[1];
        OC_ASSIGN_OR_RETURN(const Shape shape,
                            BroadcastShapes(x.shape(), y.shape(), node));
        switch (x.dtype()) {
          case DType::kFloat32:
            return PowWithBase<float>(node, x, y, shape, &out[0]);
          case DType::kFloat64:
            return PowWithBase<double>(node, x, y, shape, &out[0]);
          case DType::kInt32:
            return PowWithBase<int32_t>(node, x, y, shape, &out[0]);
          case DType::kInt64:
            return PowWithBase<int64_t>(node, x, y, shape, &out[0]);
          default:
            return NodeError(node, absl::StrCat("unsupported base type ",
                                                DTypeName(x.dtype())));
        }
      });
}

// Every element of a numeric tensor as double.
absl::StatusOr<std::vector<double>> AsDoubles(const Node& node,
                                              const Tensor& t) {
  if (IsHalfType(t.dtype())) return WidenHalf(t).ToDoubleVector();
  std::vector<double> v(static_cast<size_t>(t.numel()));
  OC_DISPATCH_NUMERIC(t.dtype(), node, {
    const T* p = t.data<T>();
    for (int64_t i = 0; i < t.numel(); ++i) v[i] = static_cast<double>(p[i]);
  });
  return v;
}

absl::Status PowBackward(const Node& node, const TensorRefs& inputs,
                         const TensorRefs& outputs,
                         const TensorRefs& grad_outputs, const OpContext* ctx,
                         const std::vector<bool>& need_grad,
                         std::vector<Tensor>& grad_inputs) {
  const Tensor& x = *inputs[0];
  const Tensor& y = *inputs[1];
  const Tensor& z = *outputs[0];
  const DType xt = x.dtype();
  const DType yt = y.dtype();
  if (xt != DType::kFloat32 && xt != DType::kFloat64) {
    return NodeError(node,
                     absl::StrCat("no gradient for base type ", DTypeName(xt)));
  }
  const Tensor dz = GradOrZeros(grad_outputs[0], z);
  const Shape& shape = dz.shape();
  OC_ASSIGN_OR_RETURN(const std::vector<double> yv, AsDoubles(node, y));
  const std::vector<double> xv = x.ToDoubleVector();
  const std::vector<double> zv = z.ToDoubleVector();
  const std::vector<double> dv = dz.ToDoubleVector();
  const BroadcastReader rx(x.shape(), shape);
  const BroadcastReader ry(y.shape(), shape);
  for (int j = 0; j < 2; ++j) {
    if (j >= static_cast<int>(need_grad.size()) || !need_grad[j]) continue;
    const DType gt = j == 0 ? xt : yt;
    if (gt != DType::kFloat32 && gt != DType::kFloat64) continue;  // integer y
    Tensor full(DType::kFloat64, shape);
    double* pf = full.mutable_data<double>();
    for (int64_t i = 0; i < full.numel(); ++i) {
      const double a = xv[rx(i)];
      const double b = yv[ry(i)];
      double d;
      if (j == 0) {
        d = b == 0.0 ? 0.0 : b * std::pow(a, b - 1.0);
      } else {
        d = (a == 0.0 && b >= 0.0) ? 0.0 : zv[i] * std::log(a);
      }
      pf[i] = dv[i] * d;
    }
    Tensor g = ReduceToShape(full, j == 0 ? x.shape() : y.shape());
    grad_inputs[j] = gt == DType::kFloat64 ? std::move(g) : g.CastTo(gt);
  }
  return absl::OkStatus();
}

}  // namespace

void AddPowOps(std::vector<OpDef>& ops) {
  OpDef def;
  def.op_type = "Pow";
  def.since_version = 7;
  def.forward = PowForward;
  def.backward = PowBackward;
  def.differentiable_inputs = 0b11;
  ops.push_back(def);
}

}  // namespace onnx_crypt::cpu
