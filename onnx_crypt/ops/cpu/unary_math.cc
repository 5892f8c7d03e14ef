// Elementwise unary math (float32/float64), forward and backward:
//   Neg (6+):        y = -x           dy/dx = -1
//   Abs (6+):        y = |x|          dy/dx = sign(x) (0 at 0)
//   Exp (6+):        y = e^x          dy/dx = y
//   Log (6+):        y = ln x         dy/dx = 1 / x
//   Sqrt (6+):       y = sqrt(x)      dy/dx = 1 / (2 y)
//   Reciprocal (6+): y = 1 / x        dy/dx = -y^2
//   Erf (9+):        y = erf(x)       dy/dx = 2 / sqrt(pi) e^(-x^2)
// Outside the domain (Log, Sqrt of x < 0, 1/0) the result is what the C
// library gives (NaN / inf), as in ONNX Runtime.
#include <cmath>
#include <type_traits>

#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/elementwise.h"

namespace onnx_crypt::cpu {
namespace {

// One forward/backward pair from a functor type F with static
// `template <class T> T f(T x)` and `template <class T> T df(T x, T y)`.
template <typename F>
absl::Status Forward(const Node& node, const TensorRefs& inputs,
                     std::vector<Tensor>& outputs,
                     std::unique_ptr<OpContext>* ctx) {
  return UnaryForward(node, inputs, outputs, [](auto x) { return F::f(x); });
}

template <typename F>
absl::Status Backward(const Node& node, const TensorRefs& inputs,
                      const TensorRefs& outputs, const TensorRefs& grad_outputs,
                      const OpContext* ctx, const std::vector<bool>& need_grad,
                      std::vector<Tensor>& grad_inputs) {
  return UnaryBackward(node, inputs, outputs, grad_outputs, need_grad,
                       grad_inputs, [](auto x, auto y) { return F::df(x, y); });
}

struct Neg {
  template <class T>
  static T f(T x) {
    return -x;
  }
  template <class T>
  static T df(T, T) {
    return T{-1};
  }
};
struct Abs {
  template <class T>
  static T f(T x) {
    return std::fabs(x);
  }
  template <class T>
  static T df(T x, T) {
    return x > T{0} ? T{1} : (x < T{0} ? T{-1} : T{0});
  }
};
struct Exp {
  template <class T>
  static T f(T x) {
    return std::exp(x);
  }
  template <class T>
  static T df(T, T y) {
    return y;
  }
};
struct Log {
  template <class T>
  static T f(T x) {
    return std::log(x);
  }
  template <class T>
  static T df(T x, T) {
    return T{1} / x;
  }
};
struct Sqrt {
  template <class T>
  static T f(T x) {
    return std::sqrt(x);
  }
  template <class T>
  static T df(T, T y) {
    return T{0.5} / y;
  }
};
struct Reciprocal {
  template <class T>
  static T f(T x) {
    return T{1} / x;
  }
  template <class T>
  static T df(T, T y) {
    return -y * y;
  }
};
struct Erf {
  template <class T>
  static T f(T x) {
    return std::erf(x);
  }
  template <class T>
  static T df(T x, T) {
    // 2 / sqrt(pi)
    return static_cast<T>(1.1283791670955126) * std::exp(-x * x);
  }
};

// Neg and Abs also take signed integers (exported shape arithmetic negates
// int64 axis counts, as LayerNormalization's function body does); exact, with
// no gradient through integers.
template <typename F>
absl::Status SignedForward(const Node& node, const TensorRefs& inputs,
                           std::vector<Tensor>& outputs,
                           std::unique_ptr<OpContext>* ctx) {
  if (inputs.empty() || !inputs[0]->defined())
    return Forward<F>(node, inputs, outputs, ctx);
  const Tensor& x = *inputs[0];
  auto run = [&](auto tag) {
    using T = decltype(tag);
    Tensor y(x.dtype(), x.shape());
    const T* px = x.data<T>();
    T* py = y.mutable_data<T>();
    for (int64_t i = 0; i < x.numel(); ++i) py[i] = F::template i<T>(px[i]);
    outputs[0] = std::move(y);
    return absl::OkStatus();
  };
  switch (x.dtype()) {
    case DType::kInt64:
      return run(int64_t{});
    case DType::kInt32:
      return run(int32_t{});
    case DType::kInt16:
      return run(int16_t{});
    case DType::kInt8:
      return run(int8_t{});
    default:
      return Forward<F>(node, inputs, outputs, ctx);
  }
}

struct NegInt {
  template <class T>
  static T i(T x) {
    // Two's complement wrap for the most negative value, as ONNX Runtime.
    return static_cast<T>(-static_cast<std::make_unsigned_t<T>>(x) + 0u);
  }
};
struct AbsInt {
  template <class T>
  static T i(T x) {
    return x < 0 ? NegInt::i<T>(x) : x;
  }
};
template <typename F, typename I>
struct WithInt : F, I {};

template <typename F>
void Add(std::vector<OpDef>& ops, const char* type, int since) {
  OpDef def;
  def.op_type = type;
  def.since_version = since;
  def.forward = Forward<F>;
  def.backward = Backward<F>;
  def.differentiable_inputs = 0b1;
  ops.push_back(def);
}

}  // namespace

void AddUnaryMathOps(std::vector<OpDef>& ops) {
  Add<Neg>(ops, "Neg", 6);
  ops.back().forward = SignedForward<WithInt<Neg, NegInt>>;
  Add<Abs>(ops, "Abs", 6);
  ops.back().forward = SignedForward<WithInt<Abs, AbsInt>>;
  Add<Exp>(ops, "Exp", 6);
  Add<Log>(ops, "Log", 6);
  Add<Sqrt>(ops, "Sqrt", 6);
  Add<Reciprocal>(ops, "Reciprocal", 6);
  Add<Erf>(ops, "Erf", 9);
}

}  // namespace onnx_crypt::cpu
