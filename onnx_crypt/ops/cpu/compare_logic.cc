// Comparison and logic ops (multidirectional broadcasting, bool output); none
// is differentiable, so none has a backward.
//   Equal (7+):            a == b   (7: bool/int32/int64; 11+: every numeric
//                                    type; 19 adds string: refused)
//   Less, Greater (7+):    a < b, a > b
//   LessOrEqual, GreaterOrEqual (12+): a <= b, a >= b
//   Not (1+):              !x        (bool)
//   And, Or, Xor (7+):     a && b, a || b, a != b (bool)
// Comparisons accept every numeric dtype and bool (the types of all versions,
// a superset of the early ones); float16/bfloat16 compare exactly after
// widening to float32. Integers compare in their own type, so int64 shape
// values are exact. NaN compares unequal to everything (IEEE).
#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/elem_common.h"
#include "onnx_crypt/ops/cpu/op_helpers.h"

namespace onnx_crypt::cpu {
namespace {

struct EqualFn {
  template <class T>
  bool operator()(T a, T b) const {
    return a == b;
  }
};
struct LessFn {
  template <class T>
  bool operator()(T a, T b) const {
    return a < b;
  }
};
struct GreaterFn {
  template <class T>
  bool operator()(T a, T b) const {
    return a > b;
  }
};
struct LessOrEqualFn {
  template <class T>
  bool operator()(T a, T b) const {
    return a <= b;
  }
};
struct GreaterOrEqualFn {
  template <class T>
  bool operator()(T a, T b) const {
    return a >= b;
  }
};
struct AndFn {
  bool operator()(bool a, bool b) const { return a && b; }
};
struct OrFn {
  bool operator()(bool a, bool b) const { return a || b; }
};
struct XorFn {
  bool operator()(bool a, bool b) const { return a != b; }
};

template <typename T, typename F>
Tensor CompareTyped(const Tensor& a, const Tensor& b, const Shape& out_shape) {
  Tensor out = Tensor::Uninitialized(DType::kBool, out_shape);
  const BroadcastReader ra(a.shape(), out_shape);
  const BroadcastReader rb(b.shape(), out_shape);
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  bool* po = out.mutable_data<bool>();
  const F f;
  for (int64_t i = 0; i < out.numel(); ++i) po[i] = f(pa[ra(i)], pb[rb(i)]);
  return out;
}

template <typename F>
absl::Status CompareForward(const Node& node, const TensorRefs& inputs,
                            std::vector<Tensor>& outputs,
                            std::unique_ptr<OpContext>* ctx) {
  OC_RETURN_IF_ERROR(RequireInput(node, inputs, 0));
  OC_RETURN_IF_ERROR(RequireInput(node, inputs, 1));
  OC_RETURN_IF_ERROR(RequireSameDType(node, inputs));
  return WithHalfAsFloat(
      inputs, outputs,
      [&node](const TensorRefs& in, std::vector<Tensor>& out) -> absl::Status {
        const Tensor& a = *in[0];
        const Tensor& b = *in[1];
        OC_ASSIGN_OR_RETURN(const Shape shape,
                            BroadcastShapes(a.shape(), b.shape(), node));
        OC_DISPATCH_ALL(a.dtype(), node,
                        { out[0] = CompareTyped<T, F>(a, b, shape); });
        return absl::OkStatus();
      });
}

absl::Status RequireBool(const Node& node, const TensorRefs& inputs) {
  for (size_t i = 0; i < inputs.size(); ++i) {
    OC_RETURN_IF_ERROR(RequireInput(node, inputs, i));
    if (inputs[i]->dtype() != DType::kBool) {
      return NodeError(
          node, absl::StrCat("input ", i, " has type ",
                             DTypeName(inputs[i]->dtype()), ", expected bool"));
    }
  }
  return absl::OkStatus();
}

template <typename F>
absl::Status LogicForward(const Node& node, const TensorRefs& inputs,
                          std::vector<Tensor>& outputs,
                          std::unique_ptr<OpContext>* ctx) {
  if (inputs.size() != 2) return NodeError(node, "expects 2 inputs");
  OC_RETURN_IF_ERROR(RequireBool(node, inputs));
  const Tensor& a = *inputs[0];
  const Tensor& b = *inputs[1];
  OC_ASSIGN_OR_RETURN(const Shape shape,
                      BroadcastShapes(a.shape(), b.shape(), node));
  outputs[0] = CompareTyped<bool, F>(a, b, shape);
  return absl::OkStatus();
}

absl::Status NotForward(const Node& node, const TensorRefs& inputs,
                        std::vector<Tensor>& outputs,
                        std::unique_ptr<OpContext>* ctx) {
  if (inputs.size() != 1) return NodeError(node, "expects 1 input");
  OC_RETURN_IF_ERROR(RequireBool(node, inputs));
  const Tensor& x = *inputs[0];
  Tensor y = Tensor::Uninitialized(DType::kBool, x.shape());
  const bool* px = x.data<bool>();
  bool* py = y.mutable_data<bool>();
  for (int64_t i = 0; i < x.numel(); ++i) py[i] = !px[i];
  outputs[0] = std::move(y);
  return absl::OkStatus();
}

void Add(std::vector<OpDef>& ops, const char* type, int since, ForwardFn fwd) {
  OpDef def;
  def.op_type = type;
  def.since_version = since;
  def.forward = fwd;
  ops.push_back(def);
}

}  // namespace

void AddCompareLogicOps(std::vector<OpDef>& ops) {
  Add(ops, "Equal", 7, CompareForward<EqualFn>);
  Add(ops, "Less", 7, CompareForward<LessFn>);
  Add(ops, "Greater", 7, CompareForward<GreaterFn>);
  Add(ops, "LessOrEqual", 12, CompareForward<LessOrEqualFn>);
  Add(ops, "GreaterOrEqual", 12, CompareForward<GreaterOrEqualFn>);
  Add(ops, "Not", 1, NotForward);
  Add(ops, "And", 7, LogicForward<AndFn>);
  Add(ops, "Or", 7, LogicForward<OrFn>);
  Add(ops, "Xor", 7, LogicForward<XorFn>);
}

}  // namespace onnx_crypt::cpu
