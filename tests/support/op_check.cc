// Finite-difference check. For the scalar f(x) = sum_k w_k * out_k(x), the
// analytic gradient is backward(grad_out = w) and the numeric one is (f(x + h
// e_j) - f(x - h e_j)) / 2h per element, with h = 1e-6 * max(1, |x_j|).
// Everything runs in float64, so the truncation error O(h^2) and the rounding
// error O(eps/h) are both ~1e-10 relative: tolerances of 1e-5 leave a wide
// margin.
#include "tests/support/op_check.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/ops/registry.h"

namespace onnx_crypt::testing {

Node MakeNode(const std::string& op_type, int64_t opset, int num_inputs,
              int num_outputs, const std::vector<int>& absent) {
  Node node;
  node.op_type = op_type;
  node.opset = opset;
  node.name = op_type + "_under_test";
  for (int i = 0; i < num_inputs; ++i) {
    bool is_absent = false;
    for (int a : absent) is_absent |= a == i;
    node.inputs.push_back(is_absent ? "" : absl::StrCat("in", i));
  }
  for (int i = 0; i < num_outputs; ++i)
    node.outputs.push_back(absl::StrCat("out", i));
  return node;
}

void SetAttr(Node& node, const std::string& key, int64_t value) {
  Attribute a;
  a.kind = Attribute::Kind::kInt;
  a.i = value;
  node.attrs[key] = a;
}
void SetAttr(Node& node, const std::string& key, float value) {
  Attribute a;
  a.kind = Attribute::Kind::kFloat;
  a.f = value;
  node.attrs[key] = a;
}
void SetAttr(Node& node, const std::string& key, const std::string& value) {
  Attribute a;
  a.kind = Attribute::Kind::kString;
  a.s = value;
  node.attrs[key] = a;
}
void SetAttr(Node& node, const std::string& key,
             const std::vector<int64_t>& values) {
  Attribute a;
  a.kind = Attribute::Kind::kInts;
  a.ints = values;
  node.attrs[key] = a;
}
void SetAttr(Node& node, const std::string& key,
             const std::vector<float>& values) {
  Attribute a;
  a.kind = Attribute::Kind::kFloats;
  a.floats = values;
  node.attrs[key] = a;
}

namespace {

// splitmix64: a tiny, well-known generator; enough for test inputs.
uint64_t SplitMix(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

struct ForwardOut {
  std::vector<Tensor> outputs;
  std::unique_ptr<OpContext> ctx;
};

absl::StatusOr<ForwardOut> RunForward(const OpDef& def, const Node& node,
                                      const std::vector<Tensor>& inputs) {
  TensorRefs refs;
  for (const Tensor& t : inputs) refs.push_back(&t);
  ForwardOut out;
  out.outputs.resize(node.outputs.size());
  OC_RETURN_IF_ERROR(def.forward(node, refs, out.outputs, &out.ctx));
  return out;
}

// Weighted sum of all float outputs with weights from `weights`.
double Objective(const std::vector<Tensor>& outputs,
                 const std::vector<Tensor>& weights) {
  double sum = 0.0;
  for (size_t k = 0; k < outputs.size(); ++k) {
    if (!weights[k].defined()) continue;
    const double* o = outputs[k].data<double>();
    const double* w = weights[k].data<double>();
    for (int64_t i = 0; i < outputs[k].numel(); ++i) sum += o[i] * w[i];
  }
  return sum;
}

}  // namespace

Tensor RandomFloat(const Shape& shape, uint64_t seed, double lo, double hi) {
  return RandomTensor(shape, seed, lo, hi).CastTo(DType::kFloat32);
}

bool BitEqual(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.nbytes() == b.nbytes() &&
         std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

double MaxAbsDiff(const Tensor& a, const Tensor& b) {
  double m = 0.0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    m = std::max(m, std::fabs(static_cast<double>(a.data<float>()[i]) -
                              b.data<float>()[i]));
  }
  return m;
}

Tensor RandomTensor(const Shape& shape, uint64_t seed, double lo, double hi) {
  Tensor t(DType::kFloat64, shape);
  uint64_t state = seed * 0x2545F4914F6CDD1DULL + 1;
  double* p = t.mutable_data<double>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    const double u = static_cast<double>(SplitMix(state) >> 11) * 0x1.0p-53;
    p[i] = lo + (hi - lo) * u;
  }
  return t;
}

Tensor Int64Tensor(const Shape& shape, const std::vector<int64_t>& values) {
  return Tensor::FromVector<int64_t>(shape, values);
}

Tensor DistinctTensor(const Shape& shape, uint64_t seed) {
  const Tensor keys = RandomTensor(shape, seed);
  const int64_t n = keys.numel();
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  const double* k = keys.data<double>();
  std::sort(order.begin(), order.end(),
            [k](int64_t a, int64_t b) { return k[a] < k[b]; });
  Tensor t(DType::kFloat64, shape);
  double* p = t.mutable_data<double>();
  for (int64_t r = 0; r < n; ++r)
    p[order[r]] = -1.0 + 2.0 * static_cast<double>(r) / n;
  return t;
}

OpCase Case(const std::string& label, Node node, std::vector<Tensor> inputs,
            std::vector<int> check_inputs) {
  OpCase c;
  c.label = label;
  c.node = std::move(node);
  c.inputs = std::move(inputs);
  c.check_inputs = std::move(check_inputs);
  return c;
}

absl::Status CheckOpGradients(const OpCase& c) {
  OC_ASSIGN_OR_RETURN(const OpDef* def, FindOp(c.node));
  const std::string where = absl::StrCat("case ", c.label);
  OC_ASSIGN_OR_RETURN(ForwardOut base, RunForward(*def, c.node, c.inputs));

  // float32 forward agrees with float64 forward.
  {
    std::vector<Tensor> inputs32;
    for (const Tensor& t : c.inputs) {
      inputs32.push_back(t.defined() && t.dtype() == DType::kFloat64
                             ? t.CastTo(DType::kFloat32)
                             : t);
    }
    OC_ASSIGN_OR_RETURN(ForwardOut out32, RunForward(*def, c.node, inputs32));
    for (size_t k = 0; k < base.outputs.size(); ++k) {
      if (!base.outputs[k].defined() ||
          base.outputs[k].dtype() != DType::kFloat64)
        continue;
      const DType want32 =
          c.fixed_output_type ? DType::kFloat64 : DType::kFloat32;
      if (out32.outputs[k].dtype() != want32 ||
          out32.outputs[k].shape() != base.outputs[k].shape()) {
        return absl::InternalError(
            absl::StrCat(where, ": float32 output ", k, " is ",
                         out32.outputs[k].DebugString(), ", expected ",
                         base.outputs[k].DebugString()));
      }
      const std::vector<double> a = base.outputs[k].ToDoubleVector();
      const std::vector<double> b = out32.outputs[k].ToDoubleVector();
      for (size_t i = 0; i < a.size(); ++i) {
        if (std::abs(a[i] - b[i]) > 1e-4 * std::abs(a[i]) + 1e-5) {
          return absl::InternalError(
              absl::StrCat(where, ": float32 forward output ", k, "[", i,
                           "] = ", b[i], ", float64 gives ", a[i]));
        }
      }
    }
  }

  if (c.check_inputs.empty()) return absl::OkStatus();
  if (def->backward == nullptr) {
    return absl::InternalError(absl::StrCat(where, ": op has no backward"));
  }
  std::vector<Tensor> weights(base.outputs.size());
  for (size_t k = 0; k < base.outputs.size(); ++k) {
    if (base.outputs[k].defined() &&
        base.outputs[k].dtype() == DType::kFloat64) {
      weights[k] = RandomTensor(base.outputs[k].shape(), 1000 + k, -1.0, 1.0);
    }
  }
  TensorRefs in_refs, out_refs, grad_refs;
  for (const Tensor& t : c.inputs) in_refs.push_back(&t);
  for (const Tensor& t : base.outputs) out_refs.push_back(&t);
  for (const Tensor& t : weights) grad_refs.push_back(&t);
  std::vector<bool> need(c.inputs.size(), false);
  for (int j : c.check_inputs) need[j] = true;
  std::vector<Tensor> grads(c.inputs.size());
  OC_RETURN_IF_ERROR(def->backward(c.node, in_refs, out_refs, grad_refs,
                                   base.ctx.get(), need, grads));

  for (int j : c.check_inputs) {
    if (!def->IsDifferentiable(j)) {
      return absl::InternalError(absl::StrCat(
          where, ": input ", j, " is not marked differentiable in the OpDef"));
    }
    const Tensor& g = grads[j];
    if (!g.defined() || g.shape() != c.inputs[j].shape() ||
        g.dtype() != DType::kFloat64) {
      return absl::InternalError(absl::StrCat(
          where, ": gradient of input ", j, " is ", g.DebugString(),
          ", expected ", c.inputs[j].DebugString()));
    }
    std::vector<Tensor> probe = c.inputs;
    for (int64_t i = 0; i < probe[j].numel(); ++i) {
      double* x = probe[j].mutable_data<double>();
      const double x0 = x[i];
      const double h = 1e-6 * std::max(1.0, std::abs(x0));
      x[i] = x0 + h;
      OC_ASSIGN_OR_RETURN(ForwardOut plus, RunForward(*def, c.node, probe));
      x[i] = x0 - h;
      OC_ASSIGN_OR_RETURN(ForwardOut minus, RunForward(*def, c.node, probe));
      x[i] = x0;
      const double numeric = (Objective(plus.outputs, weights) -
                              Objective(minus.outputs, weights)) /
                             (2 * h);
      const double analytic = g.data<double>()[i];
      if (!std::isfinite(analytic) ||
          std::abs(analytic - numeric) > c.rtol * std::abs(numeric) + c.atol) {
        return absl::InternalError(absl::StrCat(where, ": d/d input", j, "[", i,
                                                "] analytic ", analytic,
                                                " vs numeric ", numeric));
      }
    }
  }
  return absl::OkStatus();
}

std::vector<OpCase> AllOpCases() {
  std::vector<OpCase> cases;
  AddElementwiseCases(cases);
  AddShapeCases(cases);
  AddNnCases(cases);
  // ops-nn (issue #12)
  AddNn2Cases(cases);
  // --- ops-elem (issue #12) ---
  AddElem2Cases(cases);
  // Mod, ScatterND (issue #12)
  AddZooCases(cases);
  // ops-shape (issue #12)
  AddShape2Cases(cases);
  return cases;
}

}  // namespace onnx_crypt::testing
