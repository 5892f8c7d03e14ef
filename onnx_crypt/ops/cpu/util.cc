#include "onnx_crypt/ops/cpu/util.h"

namespace onnx_crypt::cpu {

absl::StatusOr<Shape> BroadcastShapes(const Shape& a, const Shape& b,
                                      const Node& node) {
  const size_t rank = std::max(a.size(), b.size());
  Shape out(rank, 1);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1) {
      return NodeError(node,
                       absl::StrCat("shapes ", ShapeToString(a), " and ",
                                    ShapeToString(b), " do not broadcast"));
    }
    out[i] = da == 1 ? db : da;
  }
  return out;
}

std::vector<int64_t> BroadcastStrides(const Shape& in, const Shape& out) {
  std::vector<int64_t> strides(out.size(), 0);
  int64_t stride = 1;
  for (int64_t i = static_cast<int64_t>(in.size()) - 1; i >= 0; --i) {
    const int64_t o =
        static_cast<int64_t>(out.size()) - static_cast<int64_t>(in.size()) + i;
    strides[o] = in[i] == 1 ? 0 : stride;
    stride *= in[i];
  }
  return strides;
}

namespace {

template <typename T>
void ReduceImpl(const Tensor& grad, const Shape& shape, Tensor* out) {
  const std::vector<int64_t> strides = BroadcastStrides(shape, grad.shape());
  const T* g = grad.data<T>();
  T* o = out->mutable_data<T>();
  for (int64_t i = 0; i < grad.numel(); ++i)
    o[BroadcastIndex(i, grad.shape(), strides)] += g[i];
}

}  // namespace

Tensor ReduceToShape(const Tensor& grad, const Shape& shape) {
  if (grad.shape() == shape) return grad;
  Tensor out(grad.dtype(), shape);
  if (grad.dtype() == DType::kFloat64) {
    ReduceImpl<double>(grad, shape, &out);
  } else {
    ReduceImpl<float>(grad, shape, &out);
  }
  return out;
}

absl::StatusOr<int64_t> NormalizeAxis(int64_t axis, int64_t rank,
                                      const Node& node) {
  if (axis < -rank || axis >= std::max<int64_t>(rank, 1)) {
    return NodeError(
        node, absl::StrCat("axis ", axis, " is out of range for rank ", rank));
  }
  return axis < 0 ? axis + rank : axis;
}

}  // namespace onnx_crypt::cpu
