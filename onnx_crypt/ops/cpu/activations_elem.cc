// Smooth elementwise activations (float32/float64; float16/bfloat16 forward
// computed in float32), forward and backward:
//   Softplus (1..21): y = ln(1 + e^x)           dy/dx = 1 / (1 + e^-x)
//     evaluated as max(x, 0) + log1p(e^-|x|), which neither overflows nor
//     loses small values.
//   Softsign (1..21): y = x / (1 + |x|)         dy/dx = 1 / (1 + |x|)^2
//   Elu (6..21, alpha = 1):
//     y = x (x >= 0), alpha (e^x - 1) (x < 0)   dy/dx = 1, alpha e^x
//   Selu (6..21, alpha = 1.67326319..., gamma = 1.05070102...):
//     y = gamma x (x > 0), gamma alpha (e^x - 1) (x <= 0)
//     dy/dx = gamma, gamma alpha e^x
//   Gelu (20+), approximate = "none":
//     y = x/2 (1 + erf(x / sqrt 2))
//     dy/dx = (1 + erf(x / sqrt 2)) / 2 + x e^(-x^2/2) / sqrt(2 pi)
//   approximate = "tanh": with u = sqrt(2/pi) (x + 0.044715 x^3), t = tanh u
//     y = x/2 (1 + t)
//     dy/dx = (1 + t) / 2 + x/2 (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2)
// Opset 22 of Softplus, Softsign, Elu and Selu (bfloat16 added) is not
// declared. The kinks of Elu and Selu (x = 0) take the right-hand slope for
// Elu and the left-hand one for Selu, as the formulas above say.
#include <algorithm>
#include <cmath>
#include <string>

#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/elem_common.h"
#include "onnx_crypt/ops/cpu/elementwise.h"

namespace onnx_crypt::cpu {
namespace {

constexpr double kSqrt2OverPi = 0.79788456080286535588;  // sqrt(2 / pi)
constexpr double kInvSqrt2Pi = 0.39894228040143267794;   // 1 / sqrt(2 pi)
constexpr double kInvSqrt2 = 0.70710678118654752440;     // 1 / sqrt(2)
constexpr double kGeluCubic = 0.044715;

// The parameters of one node (attributes with their schema defaults).
struct Params {
  double alpha = 1.0;
  double gamma = 1.0;
  bool tanh_approx = false;
};

// F: a functor type with static `template <class T> T f(T x, const Params&)`
// and `template <class T> T df(T x, T y, const Params&)`; `read` gives the
// node's Params or an error.
template <typename F>
absl::Status Forward(const Node& node, const TensorRefs& inputs,
                     std::vector<Tensor>& outputs,
                     std::unique_ptr<OpContext>* ctx) {
  OC_ASSIGN_OR_RETURN(const Params p, F::Read(node));
  return WithHalfAsFloat(
      inputs, outputs,
      [&node, p](const TensorRefs& in, std::vector<Tensor>& out) {
        return UnaryForward(node, in, out, [p](auto x) { return F::f(x, p); });
      });
}

template <typename F>
absl::Status Backward(const Node& node, const TensorRefs& inputs,
                      const TensorRefs& outputs, const TensorRefs& grad_outputs,
                      const OpContext* ctx, const std::vector<bool>& need_grad,
                      std::vector<Tensor>& grad_inputs) {
  OC_ASSIGN_OR_RETURN(const Params p, F::Read(node));
  return UnaryBackward(node, inputs, outputs, grad_outputs, need_grad,
                       grad_inputs,
                       [p](auto x, auto y) { return F::df(x, y, p); });
}

absl::StatusOr<Params> NoParams(const Node&) { return Params{}; }

struct Softplus {
  static absl::StatusOr<Params> Read(const Node& n) { return NoParams(n); }
  template <class T>
  static T f(T x, const Params&) {
    return std::max(x, T{0}) + std::log1p(std::exp(-std::fabs(x)));
  }
  template <class T>
  static T df(T x, T, const Params&) {
    return T{1} / (T{1} + std::exp(-x));
  }
};

struct Softsign {
  static absl::StatusOr<Params> Read(const Node& n) { return NoParams(n); }
  template <class T>
  static T f(T x, const Params&) {
    return x / (T{1} + std::fabs(x));
  }
  template <class T>
  static T df(T x, T, const Params&) {
    const T d = T{1} + std::fabs(x);
    return T{1} / (d * d);
  }
};

struct Elu {
  static absl::StatusOr<Params> Read(const Node& n) {
    Params p;
    p.alpha = n.GetFloat("alpha", 1.0f);
    return p;
  }
  template <class T>
  static T f(T x, const Params& p) {
    return x >= T{0} ? x : static_cast<T>(p.alpha) * std::expm1(x);
  }
  template <class T>
  static T df(T x, T, const Params& p) {
    return x >= T{0} ? T{1} : static_cast<T>(p.alpha) * std::exp(x);
  }
};

struct Selu {
  static absl::StatusOr<Params> Read(const Node& n) {
    Params p;
    p.alpha = n.GetFloat("alpha", 1.67326319217681884765625f);
    p.gamma = n.GetFloat("gamma", 1.05070102214813232421875f);
    return p;
  }
  template <class T>
  static T f(T x, const Params& p) {
    const T g = static_cast<T>(p.gamma);
    return x > T{0} ? g * x : g * static_cast<T>(p.alpha) * std::expm1(x);
  }
  template <class T>
  static T df(T x, T, const Params& p) {
    const T g = static_cast<T>(p.gamma);
    return x > T{0} ? g : g * static_cast<T>(p.alpha) * std::exp(x);
  }
};

struct Gelu {
  static absl::StatusOr<Params> Read(const Node& n) {
    Params p;
    const std::string mode = n.GetString("approximate", "none");
    if (mode == "tanh") {
      p.tanh_approx = true;
    } else if (mode != "none") {
      return NodeError(n, absl::StrCat("approximate must be \"none\" or "
                                       "\"tanh\", got \"",
                                       mode, "\""));
    }
    return p;
  }
  template <class T>
  static T f(T x, const Params& p) {
    if (p.tanh_approx) {
      const T u = static_cast<T>(kSqrt2OverPi) *
                  (x + static_cast<T>(kGeluCubic) * x * x * x);
      return T{0.5} * x * (T{1} + std::tanh(u));
    }
    return T{0.5} * x * (T{1} + std::erf(x * static_cast<T>(kInvSqrt2)));
  }
  template <class T>
  static T df(T x, T, const Params& p) {
    if (p.tanh_approx) {
      const T c = static_cast<T>(kGeluCubic);
      const T u = static_cast<T>(kSqrt2OverPi) * (x + c * x * x * x);
      const T t = std::tanh(u);
      return T{0.5} * (T{1} + t) + T{0.5} * x * (T{1} - t * t) *
                                       static_cast<T>(kSqrt2OverPi) *
                                       (T{1} + T{3} * c * x * x);
    }
    return T{0.5} * (T{1} + std::erf(x * static_cast<T>(kInvSqrt2))) +
           x * std::exp(T{-0.5} * x * x) * static_cast<T>(kInvSqrt2Pi);
  }
};

template <typename F>
void Add(std::vector<OpDef>& ops, const char* type, int since, int until) {
  OpDef def;
  def.op_type = type;
  def.since_version = since;
  def.until_version = until;
  def.forward = Forward<F>;
  def.backward = Backward<F>;
  def.differentiable_inputs = 0b1;
  ops.push_back(def);
}

}  // namespace

void AddSmoothActivationOps(std::vector<OpDef>& ops) {
  Add<Softplus>(ops, "Softplus", 1, 21);
  Add<Softsign>(ops, "Softsign", 1, 21);
  Add<Elu>(ops, "Elu", 6, 21);
  Add<Selu>(ops, "Selu", 6, 21);
  Add<Gelu>(ops, "Gelu", 20, 1000);
}

}  // namespace onnx_crypt::cpu
