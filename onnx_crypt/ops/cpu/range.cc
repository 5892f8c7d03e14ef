// Range (opset 11+): scalars start, limit, delta of one type (float32, float64,
// int16, int32, int64) give the 1-D tensor
//   y[i] = start + i * delta,  i < max(ceil((limit - start) / delta), 0),
// computed in that type (integers exactly). No differentiable input.
#include <cmath>

#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/op_helpers.h"

namespace onnx_crypt::cpu {
namespace {

template <typename T>
absl::StatusOr<Tensor> FloatRange(const Node& node, T start, T limit, T delta) {
  if (delta == 0 || !std::isfinite(start) || !std::isfinite(limit) ||
      !std::isfinite(delta)) {
    return NodeError(node, "needs finite start/limit and a non-zero delta");
  }
  const double count = std::ceil(static_cast<double>((limit - start) / delta));
  const int64_t n = count > 0 ? static_cast<int64_t>(count) : 0;
  const absl::Status size_ok = CheckTensorSize(DTypeOf<T>::value, {n});
  if (!size_ok.ok()) return NodeError(node, size_ok.message());
  Tensor y = Tensor::Uninitialized(DTypeOf<T>::value, {n});
  T* out = y.mutable_data<T>();
  for (int64_t i = 0; i < n; ++i) out[i] = start + static_cast<T>(i) * delta;
  return y;
}

// Integer range of element type `dtype` (int16/int32/int64), in int64.
absl::StatusOr<Tensor> IntRange(const Node& node, DType dtype, int64_t start,
                                int64_t limit, int64_t delta) {
  if (delta == 0) return NodeError(node, "delta must not be 0");
  // n = ceil((limit - start) / delta) without overflow: in 128 bits.
  const __int128 span = static_cast<__int128>(limit) - start;
  __int128 n = 0;
  if ((span > 0 && delta > 0) || (span < 0 && delta < 0)) {
    const __int128 d = delta;
    n = span / d + (span % d != 0 ? 1 : 0);
  }
  const absl::Status size_ok = CheckTensorSize(
      dtype, {static_cast<int64_t>(std::min<__int128>(n, INT64_MAX))});
  if (!size_ok.ok()) return NodeError(node, size_ok.message());
  Tensor y = Tensor::Uninitialized(DType::kInt64, {static_cast<int64_t>(n)});
  int64_t* out = y.mutable_data<int64_t>();
  for (int64_t i = 0; i < static_cast<int64_t>(n); ++i) {
    out[i] = static_cast<int64_t>(start + static_cast<__int128>(i) * delta);
  }
  return dtype == DType::kInt64 ? y : y.CastTo(dtype);
}

absl::Status RangeForward(const Node& node, const TensorRefs& inputs,
                          std::vector<Tensor>& outputs,
                          std::unique_ptr<OpContext>* ctx) {
  for (size_t i = 0; i < 3; ++i) {
    OC_RETURN_IF_ERROR(RequireInput(node, inputs, i));
    if (inputs[i]->numel() != 1 || inputs[i]->dtype() != inputs[0]->dtype()) {
      return NodeError(node,
                       absl::StrCat("start, limit and delta must be scalars of "
                                    "one type, input ",
                                    i, " is ", inputs[i]->DebugString()));
    }
  }
  const DType dtype = inputs[0]->dtype();
  switch (dtype) {
    case DType::kFloat32: {
      OC_ASSIGN_OR_RETURN(outputs[0],
                          FloatRange<float>(node, inputs[0]->data<float>()[0],
                                            inputs[1]->data<float>()[0],
                                            inputs[2]->data<float>()[0]));
      break;
    }
    case DType::kFloat64: {
      OC_ASSIGN_OR_RETURN(outputs[0],
                          FloatRange<double>(node, inputs[0]->data<double>()[0],
                                             inputs[1]->data<double>()[0],
                                             inputs[2]->data<double>()[0]));
      break;
    }
    case DType::kInt16:
    case DType::kInt32:
    case DType::kInt64: {
      OC_ASSIGN_OR_RETURN(outputs[0],
                          IntRange(node, dtype, inputs[0]->ToInt64Vector()[0],
                                   inputs[1]->ToInt64Vector()[0],
                                   inputs[2]->ToInt64Vector()[0]));
      break;
    }
    default:
      return NodeError(
          node, absl::StrCat("unsupported element type ", DTypeName(dtype)));
  }
  return absl::OkStatus();
}

}  // namespace

void AddRangeOps(std::vector<OpDef>& ops) {
  OpDef def;
  def.op_type = "Range";
  def.since_version = 11;
  def.forward = RangeForward;
  ops.push_back(def);
}

}  // namespace onnx_crypt::cpu
