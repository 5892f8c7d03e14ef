// Piecewise-constant elementwise ops. Their derivative is 0 almost everywhere
// and ONNX marks them not differentiable, so none has a backward.
//   Sign (9+):   -1, 0, 1 for x < 0, x = 0, x > 0 (every numeric type; NaN
//                stays NaN)
//   Floor (6+):  largest integer <= x      (float types)
//   Ceil (6+):   smallest integer >= x     (float types)
//   Round (11..21): nearest integer, halves to even (0.5 -> 0, 1.5 -> 2,
//                -2.5 -> -2), computed without the floating-point
//                environment's rounding mode; the sign of zero is kept.
// float16/bfloat16 are computed in float32 (the results are representable
// in the 16-bit type, so exact). Opset 22 of Round (bfloat16) is not declared.
#include <cmath>
#include <type_traits>

#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/elem_common.h"
#include "onnx_crypt/ops/cpu/op_helpers.h"

namespace onnx_crypt::cpu {
namespace {

struct SignFn {
  template <class T>
  static T f(T x) {
    if constexpr (std::is_floating_point_v<T>) {
      if (std::isnan(x)) return x;
    }
    if (IsNegative(x)) return static_cast<T>(-1);
    return x > T{0} ? T{1} : T{0};
  }
};
struct FloorFn {
  template <class T>
  static T f(T x) {
    return std::floor(x);
  }
};
struct CeilFn {
  template <class T>
  static T f(T x) {
    return std::ceil(x);
  }
};
struct RoundFn {
  template <class T>
  static T f(T x) {
    T r = std::floor(x);
    const T frac = x - r;  // in [0, 1) for finite x; NaN for +-inf, NaN
    if (frac > T{0.5} || (frac == T{0.5} && std::fmod(r, T{2}) != T{0})) {
      r += T{1};
    }
    return std::copysign(r, x);
  }
};

template <typename T, typename F>
Tensor MapTyped(const Tensor& x) {
  Tensor y = Tensor::Uninitialized(x.dtype(), x.shape());
  const T* px = x.data<T>();
  T* py = y.mutable_data<T>();
  for (int64_t i = 0; i < x.numel(); ++i) py[i] = F::f(px[i]);
  return y;
}

template <typename F, bool kIntegers>
absl::Status Forward(const Node& node, const TensorRefs& inputs,
                     std::vector<Tensor>& outputs,
                     std::unique_ptr<OpContext>* ctx) {
  OC_RETURN_IF_ERROR(RequireInput(node, inputs, 0));
  return WithHalfAsFloat(
      inputs, outputs,
      [&node](const TensorRefs& in, std::vector<Tensor>& out) -> absl::Status {
        const Tensor& x = *in[0];
        if constexpr (kIntegers) {
          OC_DISPATCH_NUMERIC(x.dtype(), node, { out[0] = MapTyped<T, F>(x); });
        } else {
          OC_DISPATCH_FLOAT(x.dtype(), node, { out[0] = MapTyped<T, F>(x); });
        }
        return absl::OkStatus();
      });
}

void Add(std::vector<OpDef>& ops, const char* type, int since, int until,
         ForwardFn fwd) {
  OpDef def;
  def.op_type = type;
  def.since_version = since;
  def.until_version = until;
  def.forward = fwd;
  ops.push_back(def);
}

}  // namespace

void AddRoundingOps(std::vector<OpDef>& ops) {
  Add(ops, "Sign", 9, 1000, Forward<SignFn, true>);
  Add(ops, "Floor", 6, 1000, Forward<FloorFn, false>);
  Add(ops, "Ceil", 6, 1000, Forward<CeilFn, false>);
  Add(ops, "Round", 11, 21, Forward<RoundFn, false>);
}

}  // namespace onnx_crypt::cpu
