// ArgMax and ArgMin (opsets 1-21): the int64 index along `axis` (default 0)
// of the largest / smallest element, keepdims (default 1) keeping that axis
// with size 1. Ties go to the first index, or to the last with
// select_last_index = 1 (opset 12+; absent before, which is the same as 0). A
// NaN counts as the extreme (as numpy's argmax does: the first NaN, or the last
// one with select_last_index). No backward: the output is an index.
//
// Element types: float32, float64, int32, int64.
#include <cmath>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/op_helpers.h"
#include "onnx_crypt/ops/cpu/util.h"

namespace onnx_crypt::cpu {

namespace {

template <typename T>
bool IsNan(T v) {
  if constexpr (std::is_floating_point_v<T>) {
    return std::isnan(v);
  } else {
    return false;
  }
}

template <typename T>
void ArgImpl(bool is_max, bool last, int64_t outer, int64_t n, int64_t inner,
             const T* x, int64_t* y) {
  for (int64_t a = 0; a < outer; ++a) {
    for (int64_t b = 0; b < inner; ++b) {
      const T* base = x + a * n * inner + b;
      int64_t best = 0;
      for (int64_t k = 1; k < n; ++k) {
        const T v = base[k * inner];
        const T cur = base[best * inner];
        bool take;
        if (IsNan(cur)) {
          take = last && IsNan(v);
        } else if (IsNan(v)) {
          take = true;
        } else {
          take = is_max ? (last ? v >= cur : v > cur)
                        : (last ? v <= cur : v < cur);
        }
        if (take) best = k;
      }
      y[a * inner + b] = best;
    }
  }
}

template <bool kIsMax>
absl::Status Forward(const Node& node, const TensorRefs& inputs,
                     std::vector<Tensor>& outputs,
                     std::unique_ptr<OpContext>* ctx) {
  OC_RETURN_IF_ERROR(RequireInput(node, inputs, 0));
  const Tensor& x = *inputs[0];
  if (x.rank() == 0) return NodeError(node, "input must have rank >= 1");
  OC_ASSIGN_OR_RETURN(const int64_t axis,
                      NormalizeAxis(node.GetInt("axis", 0), x.rank(), node));
  const bool keepdims = node.GetInt("keepdims", 1) != 0;
  const bool last = node.GetInt("select_last_index", 0) != 0;
  if (x.dim(axis) == 0) {
    return NodeError(node, absl::StrCat("axis ", axis, " of input ",
                                        x.DebugString(), " is empty"));
  }
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= x.dim(d);
  for (int64_t d = axis + 1; d < x.rank(); ++d) inner *= x.dim(d);
  Shape out_shape;
  for (int64_t d = 0; d < x.rank(); ++d) {
    if (d != axis) {
      out_shape.push_back(x.dim(d));
    } else if (keepdims) {
      out_shape.push_back(1);
    }
  }
  Tensor y = Tensor::Uninitialized(DType::kInt64, out_shape);
  int64_t* yd = y.mutable_data<int64_t>();
  const int64_t n = x.dim(axis);
  switch (x.dtype()) {
    case DType::kFloat32:
      ArgImpl<float>(kIsMax, last, outer, n, inner, x.data<float>(), yd);
      break;
    case DType::kFloat64:
      ArgImpl<double>(kIsMax, last, outer, n, inner, x.data<double>(), yd);
      break;
    case DType::kInt32:
      ArgImpl<int32_t>(kIsMax, last, outer, n, inner, x.data<int32_t>(), yd);
      break;
    case DType::kInt64:
      ArgImpl<int64_t>(kIsMax, last, outer, n, inner, x.data<int64_t>(), yd);
      break;
    default:
      return NodeError(node, absl::StrCat("unsupported element type ",
                                          DTypeName(x.dtype())));
  }
  outputs[0] = std::move(y);
  return absl::OkStatus();
}

}  // namespace

void AddArgMaxMinOps(std::vector<OpDef>& ops) {
  OpDef def;
  def.since_version = 1;
  def.until_version = 21;
  def.op_type = "ArgMax";
  def.forward = &Forward<true>;
  ops.push_back(def);
  def.op_type = "ArgMin";
  def.forward = &Forward<false>;
  ops.push_back(def);
}

}  // namespace onnx_crypt::cpu
