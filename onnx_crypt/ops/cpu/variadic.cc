// Variadic elementwise ops over N >= 1 inputs of one dtype, multidirectionally
// broadcast together (8+; opset 6/7 required equal shapes, a special case):
//   Max (6+), Min (6+): out = max / min over the inputs (12+: integer types
//     too; computed in the inputs' own type, so int64 is exact). A NaN input
//     makes the output NaN.
//   Sum (6+):  out = x_0 + x_1 + ... (in input order), float types.
//   Mean (6+): out = Sum / N, float types.
// Backward (float32/float64), each input's gradient summed back over its
// broadcast dimensions:
//   Sum: d x_j = dout;  Mean: d x_j = dout / N;
//   Max/Min: the whole of dout goes to the selected input: the FIRST input (in
//   input order) whose value equals the output at that element (or is NaN
//   where the output is NaN). On ties the lowest-index input gets it and the
//   others get 0, deterministically.
#include <cmath>
#include <type_traits>

#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/elem_common.h"
#include "onnx_crypt/ops/cpu/op_helpers.h"

namespace onnx_crypt::cpu {
namespace {

enum class Kind { kMax, kMin, kSum, kMean };

template <typename T>
bool IsNan(T v) {
  if constexpr (std::is_floating_point_v<T>) {
    return std::isnan(v);
  } else {
    return false;
  }
}

template <typename T>
Tensor FoldTyped(Kind kind, const TensorRefs& in, const Shape& shape) {
  Tensor out = Tensor::Uninitialized(in[0]->dtype(), shape);
  T* po = out.mutable_data<T>();
  const int64_t n = out.numel();
  for (size_t j = 0; j < in.size(); ++j) {
    const BroadcastReader r(in[j]->shape(), shape);
    const T* p = in[j]->data<T>();
    if (j == 0) {
      for (int64_t i = 0; i < n; ++i) po[i] = p[r(i)];
      continue;
    }
    for (int64_t i = 0; i < n; ++i) {
      const T v = p[r(i)];
      switch (kind) {
        case Kind::kMax:
          if (IsNan(v) || v > po[i]) po[i] = v;
          break;
        case Kind::kMin:
          if (IsNan(v) || v < po[i]) po[i] = v;
          break;
        default:
          po[i] = static_cast<T>(po[i] + v);
      }
    }
  }
  if constexpr (std::is_floating_point_v<T>) {
    if (kind == Kind::kMean) {
      const T count = static_cast<T>(in.size());
      for (int64_t i = 0; i < n; ++i) po[i] /= count;
    }
  }
  return out;
}

absl::Status CheckInputs(const Node& node, const TensorRefs& inputs) {
  if (inputs.empty()) return NodeError(node, "expects at least 1 input");
  for (size_t i = 0; i < inputs.size(); ++i)
    OC_RETURN_IF_ERROR(RequireInput(node, inputs, i));
  return RequireSameDType(node, inputs);
}

template <Kind kKind>
absl::Status VariadicForward(const Node& node, const TensorRefs& inputs,
                             std::vector<Tensor>& outputs,
                             std::unique_ptr<OpContext>* ctx) {
  OC_RETURN_IF_ERROR(CheckInputs(node, inputs));
  return WithHalfAsFloat(
      inputs, outputs,
      [&node](const TensorRefs& in, std::vector<Tensor>& out) -> absl::Status {
        OC_ASSIGN_OR_RETURN(const Shape shape, BroadcastAll(node, in));
        if (kKind == Kind::kSum || kKind == Kind::kMean) {
          OC_DISPATCH_FLOAT(in[0]->dtype(), node,
                            { out[0] = FoldTyped<T>(kKind, in, shape); });
        } else {
          OC_DISPATCH_NUMERIC(in[0]->dtype(), node,
                              { out[0] = FoldTyped<T>(kKind, in, shape); });
        }
        return absl::OkStatus();
      });
}

template <Kind kKind>
absl::Status VariadicBackward(const Node& node, const TensorRefs& inputs,
                              const TensorRefs& outputs,
                              const TensorRefs& grad_outputs,
                              const OpContext* ctx,
                              const std::vector<bool>& need_grad,
                              std::vector<Tensor>& grad_inputs) {
  const Tensor& out = *outputs[0];
  const Tensor dout = GradOrZeros(grad_outputs[0], out);
  const Shape& shape = dout.shape();
  const size_t n_in = inputs.size();
  OC_DISPATCH_FLOAT(out.dtype(), node, {
    const T* pd = dout.data<T>();
    const int64_t n = dout.numel();
    // Max/Min: index of the input that receives each element's gradient.
    std::vector<int32_t> selected;
    if (kKind == Kind::kMax || kKind == Kind::kMin) {
      selected.assign(static_cast<size_t>(n), -1);
      const T* po = out.data<T>();
      for (size_t j = 0; j < n_in; ++j) {
        const BroadcastReader r(inputs[j]->shape(), shape);
        const T* p = inputs[j]->data<T>();
        for (int64_t i = 0; i < n; ++i) {
          if (selected[i] >= 0) continue;
          const T v = p[r(i)];
          if (v == po[i] || (std::isnan(v) && std::isnan(po[i])))
            selected[i] = static_cast<int32_t>(j);
        }
      }
    }
    for (size_t j = 0; j < n_in; ++j) {
      if (j >= need_grad.size() || !need_grad[j]) continue;
      Tensor full = Tensor::Uninitialized(out.dtype(), shape);
      T* pf = full.mutable_data<T>();
      const T scale = kKind == Kind::kMean ? T{1} / static_cast<T>(n_in) : T{1};
      for (int64_t i = 0; i < n; ++i) {
        const bool gets =
            selected.empty() || selected[i] == static_cast<int32_t>(j);
        pf[i] = gets ? pd[i] * scale : T{0};
      }
      grad_inputs[j] = ReduceToShape(full, inputs[j]->shape());
    }
  });
  return absl::OkStatus();
}

template <Kind kKind>
void Add(std::vector<OpDef>& ops, const char* type) {
  OpDef def;
  def.op_type = type;
  def.since_version = 6;
  def.forward = VariadicForward<kKind>;
  def.backward = VariadicBackward<kKind>;
  def.differentiable_inputs = OpDef::kEveryInput;  // every input (variadic)
  ops.push_back(def);
}

}  // namespace

void AddVariadicOps(std::vector<OpDef>& ops) {
  Add<Kind::kMax>(ops, "Max");
  Add<Kind::kMin>(ops, "Min");
  Add<Kind::kSum>(ops, "Sum");
  Add<Kind::kMean>(ops, "Mean");
}

}  // namespace onnx_crypt::cpu
