// Helpers for the comparison, logic, selection, variadic and cast ops (ops
// part "ops-elem"): a dispatch over every numeric dtype, N-way multidirectional
// broadcasting, and float16/bfloat16 handled by widening to float32.
//
// float16 and bfloat16 have no C++ arithmetic type here: ops that accept them
// widen such inputs to float32 (exact), compute in float32 and round the
// float32 results back once to the 16-bit type (ir/half.h, nearest even).
// Header-only templates plus elem_common.cc; errors are statuses naming the
// node.
#ifndef ONNX_CRYPT_OPS_CPU_ELEM_COMMON_H_
#define ONNX_CRYPT_OPS_CPU_ELEM_COMMON_H_

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/ir/graph.h"
#include "onnx_crypt/ir/tensor.h"
#include "onnx_crypt/ops/cpu/util.h"
#include "onnx_crypt/ops/op.h"

namespace onnx_crypt::cpu {

// Runs `body` with `T` bound to the C++ type of `dtype` for float32, float64,
// int8..int64 and uint8..uint64 (OC_DISPATCH_NUMERIC), or those and bool
// (OC_DISPATCH_ALL). Other dtypes (float16/bfloat16: widen first; string)
// return InvalidArgument naming the node.
#define OC_ELEM_CASE(DT, CT, ...) \
  case ::onnx_crypt::DType::DT: { \
    using T = CT;                 \
    __VA_ARGS__                   \
  } break;
#define OC_ELEM_NUMERIC_CASES(...)             \
  OC_ELEM_CASE(kFloat32, float, __VA_ARGS__)   \
  OC_ELEM_CASE(kFloat64, double, __VA_ARGS__)  \
  OC_ELEM_CASE(kInt8, int8_t, __VA_ARGS__)     \
  OC_ELEM_CASE(kInt16, int16_t, __VA_ARGS__)   \
  OC_ELEM_CASE(kInt32, int32_t, __VA_ARGS__)   \
  OC_ELEM_CASE(kInt64, int64_t, __VA_ARGS__)   \
  OC_ELEM_CASE(kUint8, uint8_t, __VA_ARGS__)   \
  OC_ELEM_CASE(kUint16, uint16_t, __VA_ARGS__) \
  OC_ELEM_CASE(kUint32, uint32_t, __VA_ARGS__) \
  OC_ELEM_CASE(kUint64, uint64_t, __VA_ARGS__)
#define OC_ELEM_TYPE_ERROR(dtype, node)                              \
  return absl::InvalidArgumentError(                                 \
      absl::StrCat((node).Describe(), ": unsupported element type ", \
                   ::onnx_crypt::DTypeName(dtype)))
#define OC_DISPATCH_NUMERIC(dtype, node, ...) \
  do {                                        \
    switch (dtype) {                          \
      OC_ELEM_NUMERIC_CASES(__VA_ARGS__)      \
      default:                                \
        OC_ELEM_TYPE_ERROR(dtype, node);      \
    }                                         \
  } while (0)
#define OC_DISPATCH_ALL(dtype, node, ...)    \
  do {                                       \
    switch (dtype) {                         \
      OC_ELEM_NUMERIC_CASES(__VA_ARGS__)     \
      OC_ELEM_CASE(kBool, bool, __VA_ARGS__) \
      default:                               \
        OC_ELEM_TYPE_ERROR(dtype, node);     \
    }                                        \
  } while (0)

inline bool IsHalfType(DType d) {
  return d == DType::kFloat16 || d == DType::kBFloat16;
}

// float16/bfloat16 -> float32 (exact). Other tensors are returned as they are.
Tensor WidenHalf(const Tensor& t);
// float32 -> `half` (float16 or bfloat16), rounding to nearest even.
Tensor NarrowToHalf(const Tensor& f32, DType half);

// Runs `fn(inputs, outputs)` with every float16/bfloat16 input widened to
// float32; when input 0 was 16-bit, float32 outputs are narrowed back to
// its type. Inputs of other types pass through untouched.
template <typename F>
absl::Status WithHalfAsFloat(const TensorRefs& inputs,
                             std::vector<Tensor>& outputs, const F& fn) {
  bool any = false;
  for (const Tensor* t : inputs) any |= t != nullptr && IsHalfType(t->dtype());
  if (!any) return fn(inputs, outputs);
  std::vector<Tensor> widened(inputs.size());
  TensorRefs refs(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i] != nullptr && IsHalfType(inputs[i]->dtype())) {
      widened[i] = WidenHalf(*inputs[i]);
      refs[i] = &widened[i];
    } else {
      refs[i] = inputs[i];
    }
  }
  OC_RETURN_IF_ERROR(fn(refs, outputs));
  const DType half = inputs.empty() || inputs[0] == nullptr
                         ? DType::kUndefined
                         : inputs[0]->dtype();
  if (IsHalfType(half)) {
    for (Tensor& out : outputs) {
      if (out.defined() && out.dtype() == DType::kFloat32)
        out = NarrowToHalf(out, half);
    }
  }
  return absl::OkStatus();
}

// v < 0, without a "comparison is always false" warning for unsigned types.
template <typename T>
constexpr bool IsNegative(T v) {
  if constexpr (std::is_unsigned_v<T>) {
    return false;
  } else {
    return v < T{0};
  }
}

// double -> integer type I, truncating toward zero; NaN gives 0 and values
// outside I's range saturate at its limits (C++ leaves both undefined; ONNX
// leaves them unspecified).
template <typename I>
I SaturatingCast(double v) {
  if (std::isnan(v)) return I{0};
  if (v <= static_cast<double>(std::numeric_limits<I>::lowest()))
    return std::numeric_limits<I>::lowest();
  // max() of 64-bit types rounds up to 2^64 / 2^63 in double: >= catches it.
  if (v >= static_cast<double>(std::numeric_limits<I>::max()))
    return std::numeric_limits<I>::max();
  return static_cast<I>(v);
}

// The multidirectional broadcast of all present `inputs`' shapes.
absl::StatusOr<Shape> BroadcastAll(const Node& node, const TensorRefs& inputs);

// Reads input elements at the flat indices of a broadcast output: the flat
// index itself when the input has the output's shape, 0 for a one-element
// input, the generic BroadcastIndex otherwise.
class BroadcastReader {
 public:
  BroadcastReader(const Shape& in, const Shape& out)
      : out_(out),
        strides_(BroadcastStrides(in, out)),
        same_(in == out),
        single_(NumElements(in) == 1) {}
  int64_t operator()(int64_t flat) const {
    if (same_) return flat;
    if (single_) return 0;
    return BroadcastIndex(flat, out_, strides_);
  }

 private:
  Shape out_;
  std::vector<int64_t> strides_;
  bool same_;
  bool single_;
};

// OK when every present input has the dtype of input 0, else InvalidArgument
// naming the node.
absl::Status RequireSameDType(const Node& node, const TensorRefs& inputs);

}  // namespace onnx_crypt::cpu

#endif  // ONNX_CRYPT_OPS_CPU_ELEM_COMMON_H_
