// Cast (6, 9, 13, 19, 21; declared for opsets 6..22) and CastLike (15, 19,
// 21; opsets 15..22): y = x converted to the type `to` (Cast's attribute) or
// to the type of CastLike's second input. Element types: bool, int8..int64,
// uint8..uint64, float16, bfloat16, float32, float64. String, float8, int4
// and float4 casts are refused with UnimplementedError naming the node; the
// `saturate` attribute (19+) only concerns float8 and is ignored.
// Conversions:
//  - to bool: x != 0 (NaN gives true); from bool: 0 / 1.
//  - integer -> integer: modulo 2^bits (two's complement), as static_cast.
//  - float -> integer: truncation toward zero; NaN gives 0 and values out of
//    range saturate at the target's limits (ONNX leaves both unspecified).
//  - integer / float -> float32 / float64: rounded to nearest (even).
//  - -> float16 / bfloat16: rounded once to nearest even. From float64 (and
//    integers) this goes through a float32 rounded to odd, which keeps the
//    result exactly rounded (float32 has more than 2 p + 2 bits of the 16-bit
//    type's precision p); int64 magnitudes above 2^53 are first rounded to
//    double.
//  - float16 / bfloat16 -> anything: widened to float32 exactly first.
// Backward: for a float -> float cast, dx = dy cast back to x's type; a float
// input cast to an integer or bool type gets a zero gradient (the cast is
// piecewise constant); an integer or bool input gets none.
#include <cmath>
#include <cstring>
#include <type_traits>

#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/elem_common.h"
#include "onnx_crypt/ops/cpu/op_helpers.h"

namespace onnx_crypt::cpu {
namespace {

bool Supported(DType d) {
  switch (d) {
    case DType::kFloat32:
    case DType::kFloat64:
    case DType::kFloat16:
    case DType::kBFloat16:
    case DType::kInt8:
    case DType::kInt16:
    case DType::kInt32:
    case DType::kInt64:
    case DType::kUint8:
    case DType::kUint16:
    case DType::kUint32:
    case DType::kUint64:
    case DType::kBool:
      return true;
    default:
      return false;
  }
}

// Name of an ONNX TensorProto data type code, for error messages.
std::string OnnxTypeName(int64_t code) {
  switch (code) {
    case 8:
      return "string";
    case 14:
      return "complex64";
    case 15:
      return "complex128";
    case 17:
      return "float8e4m3fn";
    case 18:
      return "float8e4m3fnuz";
    case 19:
      return "float8e5m2";
    case 20:
      return "float8e5m2fnuz";
    case 21:
      return "uint4";
    case 22:
      return "int4";
    case 23:
      return "float4e2m1";
    default:
      return absl::StrCat("data type ", code);
  }
}

bool IsFloat(DType d) {
  return d == DType::kFloat32 || d == DType::kFloat64 || IsHalfType(d);
}

// d rounded to float32 with round-to-odd: truncated toward zero, and the last
// bit set when that was inexact.
float DoubleToFloatRoundOdd(double d) {
  float f = static_cast<float>(d);
  if (!std::isfinite(f) || static_cast<double>(f) == d) return f;
  if (std::fabs(static_cast<double>(f)) > std::fabs(d))
    f = std::nextafter(f, 0.0f);
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof(bits));
  bits |= 1u;
  std::memcpy(&f, &bits, sizeof(bits));
  return f;
}

template <typename To, typename From>
To CastValue(From v) {
  if constexpr (std::is_same_v<To, bool>) {
    return v != From{0};
  } else if constexpr (std::is_floating_point_v<From> &&
                       std::is_integral_v<To>) {
    return SaturatingCast<To>(static_cast<double>(v));
  } else {
    return static_cast<To>(v);
  }
}

template <typename To, typename From>
void CastAll(const Tensor& x, Tensor* y) {
  const From* p = x.data<From>();
  To* q = y->mutable_data<To>();
  for (int64_t i = 0; i < x.numel(); ++i) q[i] = CastValue<To, From>(p[i]);
}

// x (not 16-bit) -> To (not 16-bit).
template <typename To>
absl::Status CastPlain(const Node& node, const Tensor& x, Tensor* y) {
  OC_DISPATCH_ALL(x.dtype(), node, { CastAll<To, T>(x, y); });
  return absl::OkStatus();
}

// x (not 16-bit) -> float32 values that round correctly to a 16-bit type.
absl::StatusOr<Tensor> ToFloat32ForHalf(const Node& node, const Tensor& x) {
  if (x.dtype() == DType::kFloat32) return x;
  Tensor f = Tensor::Uninitialized(DType::kFloat32, x.shape());
  float* q = f.mutable_data<float>();
  OC_DISPATCH_ALL(x.dtype(), node, {
    const T* p = x.data<T>();
    for (int64_t i = 0; i < x.numel(); ++i)
      q[i] = DoubleToFloatRoundOdd(static_cast<double>(p[i]));
  });
  return f;
}

absl::StatusOr<Tensor> CastTensor(const Node& node, const Tensor& x, DType to) {
  if (!Supported(x.dtype())) {
    return absl::UnimplementedError(
        absl::StrCat(node.Describe(), ": casting from ", DTypeName(x.dtype()),
                     " is not implemented"));
  }
  if (x.dtype() == to) return x;
  if (IsHalfType(to)) {
    if (IsHalfType(x.dtype())) return NarrowToHalf(WidenHalf(x), to);
    OC_ASSIGN_OR_RETURN(const Tensor f, ToFloat32ForHalf(node, x));
    return NarrowToHalf(f, to);
  }
  const Tensor src = WidenHalf(x);
  Tensor y = Tensor::Uninitialized(to, x.shape());
  switch (to) {
    case DType::kFloat32:
      OC_RETURN_IF_ERROR(CastPlain<float>(node, src, &y));
      break;
    case DType::kFloat64:
      OC_RETURN_IF_ERROR(CastPlain<double>(node, src, &y));
      break;
    case DType::kInt8:
      OC_RETURN_IF_ERROR(CastPlain<int8_t>(node, src, &y));
      break;
    case DType::kInt16:
      OC_RETURN_IF_ERROR(CastPlain<int16_t>(node, src, &y));
      break;
    case DType::kInt32:
      OC_RETURN_IF_ERROR(CastPlain<int32_t>(node, src, &y));
      break;
    case DType::kInt64:
      OC_RETURN_IF_ERROR(CastPlain<int64_t>(node, src, &y));
      break;
    case DType::kUint8:
      OC_RETURN_IF_ERROR(CastPlain<uint8_t>(node, src, &y));
      break;
    case DType::kUint16:
      OC_RETURN_IF_ERROR(CastPlain<uint16_t>(node, src, &y));
      break;
    case DType::kUint32:
      OC_RETURN_IF_ERROR(CastPlain<uint32_t>(node, src, &y));
      break;
    case DType::kUint64:
      OC_RETURN_IF_ERROR(CastPlain<uint64_t>(node, src, &y));
      break;
    case DType::kBool:
      OC_RETURN_IF_ERROR(CastPlain<bool>(node, src, &y));
      break;
    default:
      return absl::UnimplementedError(
          absl::StrCat(node.Describe(), ": casting to ", DTypeName(to),
                       " is not implemented"));
  }
  return y;
}

// The target type of a Cast node.
absl::StatusOr<DType> CastTarget(const Node& node) {
  if (!node.HasAttr("to")) return NodeError(node, "attribute `to` is missing");
  const int64_t code = node.GetInt("to", 0);
  const DType to = static_cast<DType>(code);
  if (code > 0 && code <= 16 && Supported(to)) return to;
  if (code == 8 || code == 14 || code == 15 || (code >= 17 && code <= 23)) {
    return absl::UnimplementedError(
        absl::StrCat(node.Describe(), ": casting to ", OnnxTypeName(code),
                     " is not implemented"));
  }
  return NodeError(node, absl::StrCat("attribute `to` = ", code,
                                      " is not an ONNX data type"));
}

absl::Status CastForward(const Node& node, const TensorRefs& inputs,
                         std::vector<Tensor>& outputs,
                         std::unique_ptr<OpContext>* ctx) {
  OC_RETURN_IF_ERROR(RequireInput(node, inputs, 0));
  OC_ASSIGN_OR_RETURN(const DType to, CastTarget(node));
  OC_ASSIGN_OR_RETURN(outputs[0], CastTensor(node, *inputs[0], to));
  return absl::OkStatus();
}

absl::Status CastLikeForward(const Node& node, const TensorRefs& inputs,
                             std::vector<Tensor>& outputs,
                             std::unique_ptr<OpContext>* ctx) {
  OC_RETURN_IF_ERROR(RequireInput(node, inputs, 0));
  OC_RETURN_IF_ERROR(RequireInput(node, inputs, 1));
  const DType to = inputs[1]->dtype();
  if (!Supported(to)) {
    return absl::UnimplementedError(absl::StrCat(node.Describe(),
                                                 ": casting to ", DTypeName(to),
                                                 " is not implemented"));
  }
  OC_ASSIGN_OR_RETURN(outputs[0], CastTensor(node, *inputs[0], to));
  return absl::OkStatus();
}

absl::Status CastBackward(const Node& node, const TensorRefs& inputs,
                          const TensorRefs& outputs,
                          const TensorRefs& grad_outputs, const OpContext* ctx,
                          const std::vector<bool>& need_grad,
                          std::vector<Tensor>& grad_inputs) {
  if (need_grad.empty() || !need_grad[0]) return absl::OkStatus();
  const Tensor& x = *inputs[0];
  const Tensor& y = *outputs[0];
  if (!IsFloat(x.dtype())) return absl::OkStatus();  // no integer gradient
  const bool has_grad = grad_outputs.size() > 0 && grad_outputs[0] != nullptr &&
                        grad_outputs[0]->defined();
  if (!IsFloat(y.dtype()) || !has_grad) {
    grad_inputs[0] = Tensor(x.dtype(), x.shape());
    return absl::OkStatus();
  }
  OC_ASSIGN_OR_RETURN(grad_inputs[0],
                      CastTensor(node, *grad_outputs[0], x.dtype()));
  return absl::OkStatus();
}

}  // namespace

void AddCastOps(std::vector<OpDef>& ops) {
  OpDef def;
  def.op_type = "Cast";
  def.since_version = 6;
  def.until_version = 22;  // Cast-23 adds float8e8m0 / float4 types
  def.forward = CastForward;
  def.backward = CastBackward;
  def.differentiable_inputs = 0b1;
  ops.push_back(def);
  def.op_type = "CastLike";
  def.since_version = 15;
  def.until_version = 22;
  def.forward = CastLikeForward;
  ops.push_back(def);
}

}  // namespace onnx_crypt::cpu
