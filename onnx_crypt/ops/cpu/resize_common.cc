// Resize/Upsample filters (see resize_common.h). The per-axis taps follow the
// ONNX reference implementation: its neighbour search over edge-padded data
// is equivalent to clamping tap indices into [0, n), and it takes the
// interpolation ratio in (0, 1] (an integral coordinate x is floor x - 1 with
// ratio 1), which changes which taps are listed but not the result.
#include "onnx_crypt/ops/cpu/resize_common.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "onnx_crypt/ops/cpu/op_helpers.h"

namespace onnx_crypt::cpu {
namespace {

absl::StatusOr<double> OriginalCoordinate(const Node& node,
                                          const ResizeSpec& spec, int64_t d,
                                          int64_t j, int64_t n) {
  const std::string& mode = spec.coordinate_mode;
  const double x = static_cast<double>(j);
  const double scale = spec.scales[d];
  const double width = spec.out_width[d];
  if (mode == "half_pixel") return (x + 0.5) / scale - 0.5;
  if (mode == "half_pixel_symmetric") {
    const double adjustment = static_cast<double>(spec.out_shape[d]) / width;
    const double offset = 0.5 * static_cast<double>(n) * (1.0 - adjustment);
    return offset + (x + 0.5) / scale - 0.5;
  }
  if (mode == "pytorch_half_pixel") {
    return width == 1.0 ? 0.0 : (x + 0.5) / scale - 0.5;
  }
  if (mode == "align_corners") {
    return width == 1.0 ? 0.0 : x * static_cast<double>(n - 1) / (width - 1.0);
  }
  if (mode == "asymmetric") return x / scale;
  if (mode == "tf_half_pixel_for_nn") return (x + 0.5) / scale;
  if (mode == "tf_crop_and_resize") {
    const double s = spec.roi_start[d], e = spec.roi_end[d];
    const double span = static_cast<double>(n - 1);
    if (width == 1.0) return (e - s) * span / 2.0 + s * span;
    return x * (e - s) * span / (width - 1.0) + s * span;
  }
  return absl::InvalidArgumentError(
      absl::StrCat(node.Describe(), ": coordinate_transformation_mode '", mode,
                   "' is not supported"));
}

absl::StatusOr<int64_t> NearestIndex(const Node& node, const std::string& mode,
                                     double x, double scale) {
  const double f = std::floor(x);
  if (mode == "simple") {
    return static_cast<int64_t>(scale < 1.0 ? std::ceil(x) : std::trunc(x));
  }
  if (x == f) return static_cast<int64_t>(f);
  const double r = x - f;
  if (mode == "round_prefer_floor")
    return static_cast<int64_t>(r <= 0.5 ? f : f + 1);
  if (mode == "round_prefer_ceil")
    return static_cast<int64_t>(r < 0.5 ? f : f + 1);
  if (mode == "floor") return static_cast<int64_t>(f);
  if (mode == "ceil") return static_cast<int64_t>(f + 1);
  return absl::InvalidArgumentError(absl::StrCat(
      node.Describe(), ": nearest_mode '", mode, "' is not supported"));
}

double CubicKernel(double x, double a) {
  x = std::abs(x);
  if (x <= 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a;
  return 0.0;
}

// Taps (first input index, weights) of one output coordinate x_orig for the
// linear and cubic filters; first + t is tap t's (unclamped) input index.
void FilterTaps(const ResizeSpec& spec, double x, double scale, int64_t* first,
                std::vector<double>* w) {
  // The ONNX reference takes the ratio in (0, 1]: an integral x is treated as
  // floor = x - 1 with ratio 1.
  double f = std::floor(x);
  double ratio = x - f;
  if (ratio == 0.0) {
    f -= 1.0;
    ratio = 1.0;
  }
  const int64_t base = static_cast<int64_t>(f);
  w->clear();
  const bool linear = spec.mode == ResizeSpec::Mode::kLinear;
  if (!spec.antialias) {
    if (linear) {
      *first = base;
      *w = {1.0 - ratio, ratio};
    } else {
      *first = base - 1;
      for (int t = -1; t <= 2; ++t)
        w->push_back(CubicKernel(static_cast<double>(t) - ratio, spec.cubic_a));
    }
    return;
  }
  const double s = std::min(scale, 1.0);
  const int64_t start =
      static_cast<int64_t>(std::floor((linear ? -1.0 : -2.0) / s)) + 1;
  const int64_t end = 2 - start;  // exclusive: 2 - 2 * start taps
  *first = base + start;
  double sum = 0.0;
  for (int64_t i = start; i < end; ++i) {
    const double arg = s * (static_cast<double>(i) - ratio);
    const double v = linear ? std::clamp(1.0 - std::abs(arg), 0.0, 1.0)
                            : CubicKernel(arg, spec.cubic_a);
    w->push_back(v);
    sum += v;
  }
  for (double& v : *w) v /= sum;
}

}  // namespace

absl::StatusOr<ResizePlan> MakeResizePlan(const Node& node, const Shape& in,
                                          const ResizeSpec& spec) {
  const int64_t rank = static_cast<int64_t>(in.size());
  if (static_cast<int64_t>(spec.out_shape.size()) != rank ||
      static_cast<int64_t>(spec.scales.size()) != rank) {
    return NodeError(node, "scales or sizes do not match the input rank");
  }
  const absl::Status size_ok = CheckTensorSize(DType::kFloat64, spec.out_shape);
  if (!size_ok.ok()) return NodeError(node, size_ok.message());
  ResizePlan plan;
  plan.out_shape = spec.out_shape;
  plan.extrapolation_value = spec.extrapolation_value;
  plan.nearest = spec.mode == ResizeSpec::Mode::kNearest;
  const bool crop = spec.coordinate_mode == "tf_crop_and_resize";
  std::vector<double> w;
  for (int64_t d = 0; d < rank; ++d) {
    ResizeAxis a;
    a.in = in[d];
    a.out = spec.out_shape[d];
    if (a.out < 0 || (a.in == 0 && a.out > 0) || !(spec.scales[d] > 0.0)) {
      return NodeError(
          node, absl::StrCat("cannot resize dimension ", d, " of size ", a.in,
                             " to ", a.out, " (scale ", spec.scales[d], ")"));
    }
    a.outside.assign(static_cast<size_t>(a.out), false);
    if (a.in == a.out && spec.scales[d] == 1.0 && !crop) {
      // An axis that is not resized is copied, whatever the mode: the
      // formulas would shift it in tf_half_pixel_for_nn with ceil rounding
      // (x + 0.5 -> x + 1); onnxruntime keeps it too.
      a.identity = true;
      for (int64_t j = 0; j < a.out; ++j) {
        a.index.push_back(j);
        a.weight.push_back(1.0);
      }
      plan.axes.push_back(std::move(a));
      continue;
    }
    for (int64_t j = 0; j < a.out; ++j) {
      OC_ASSIGN_OR_RETURN(const double x,
                          OriginalCoordinate(node, spec, d, j, a.in));
      if (crop && (x < 0.0 || x > static_cast<double>(a.in - 1))) {
        a.outside[j] = true;
        plan.any_outside = true;
      }
      int64_t first = 0;
      if (plan.nearest) {
        OC_ASSIGN_OR_RETURN(
            first, NearestIndex(node, spec.nearest_mode, x, spec.scales[d]));
        w = {1.0};
      } else {
        FilterTaps(spec, x, spec.scales[d], &first, &w);
      }
      const int taps = static_cast<int>(w.size());
      if (j == 0) a.taps = taps;
      if (spec.exclude_outside) {
        double sum = 0.0;
        for (int t = 0; t < taps; ++t) {
          const int64_t i = first + t;
          if (i < 0 || i >= a.in) w[t] = 0.0;
          sum += w[t];
        }
        if (sum != 0.0) {
          for (double& v : w) v /= sum;
        }
      }
      for (int t = 0; t < taps; ++t) {
        a.index.push_back(std::clamp<int64_t>(first + t, 0, a.in - 1));
        a.weight.push_back(w[t]);
      }
    }
    a.identity = a.in == a.out;
    for (int64_t j = 0; a.identity && j < a.out; ++j) {
      for (int t = 0; t < a.taps; ++t) {
        const double v = a.weight[j * a.taps + t];
        const int64_t i = a.index[j * a.taps + t];
        if (a.outside[j] || (v != 0.0 && (i != j || v != 1.0))) {
          a.identity = false;
        }
      }
    }
    plan.axes.push_back(std::move(a));
  }
  return plan;
}

namespace {

// Whether output position `flat` lies outside the crop on some axis.
bool Outside(const ResizePlan& plan, int64_t flat) {
  for (int64_t d = static_cast<int64_t>(plan.axes.size()) - 1; d >= 0; --d) {
    const int64_t n = plan.out_shape[d];
    if (plan.axes[d].outside[flat % n]) return true;
    flat /= n;
  }
  return false;
}

// Calls visit(out_flat, in_flat) for each output element (nearest: one tap).
template <typename Visit>
void ForEachNearest(const ResizePlan& plan, const Shape& in, Visit visit) {
  const int64_t rank = static_cast<int64_t>(in.size());
  const std::vector<int64_t> strides = RowMajorStrides(in);
  const int64_t total = NumElements(plan.out_shape);
  std::vector<int64_t> index(static_cast<size_t>(rank), 0);
  int64_t src = 0;
  for (int64_t d = 0; d < rank && total > 0; ++d)
    src += plan.axes[d].index[0] * strides[d];
  for (int64_t o = 0; o < total; ++o) {
    visit(o, src);
    for (int64_t d = rank - 1; d >= 0; --d) {
      const std::vector<int64_t>& idx = plan.axes[d].index;
      src -= idx[index[d]] * strides[d];
      ++index[d];
      if (index[d] < plan.out_shape[d]) {
        src += idx[index[d]] * strides[d];
        break;
      }
      index[d] = 0;
      src += idx[0] * strides[d];
    }
  }
}

// One axis: [outer, n_in, inner] -> [outer, n_out, inner] (or the transpose
// when `transpose`: [outer, n_out, inner] -> [outer, n_in, inner]).
template <typename T>
std::vector<T> ApplyAxis(const ResizeAxis& a, const std::vector<T>& src,
                         int64_t outer, int64_t inner, bool transpose) {
  const int64_t n_src = transpose ? a.out : a.in;
  const int64_t n_dst = transpose ? a.in : a.out;
  std::vector<T> dst(static_cast<size_t>(outer * n_dst * inner), T(0));
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t j = 0; j < a.out; ++j) {
      for (int t = 0; t < a.taps; ++t) {
        const T w = static_cast<T>(a.weight[j * a.taps + t]);
        if (w == T(0)) continue;
        const int64_t i = a.index[j * a.taps + t];
        const T* from;
        T* to;
        if (transpose) {
          from = src.data() + (o * n_src + j) * inner;
          to = dst.data() + (o * n_dst + i) * inner;
        } else {
          from = src.data() + (o * n_src + i) * inner;
          to = dst.data() + (o * n_dst + j) * inner;
        }
        for (int64_t k = 0; k < inner; ++k) to[k] += w * from[k];
      }
    }
  }
  return dst;
}

template <typename T>
Tensor FilterForward(const Tensor& x, const ResizePlan& plan) {
  std::vector<T> cur(x.data<T>(), x.data<T>() + x.numel());
  Shape shape = x.shape();
  const int64_t rank = x.rank();
  for (int64_t d = 0; d < rank; ++d) {
    const ResizeAxis& a = plan.axes[d];
    if (a.identity) continue;
    int64_t outer = 1, inner = 1;
    for (int64_t e = 0; e < d; ++e) outer *= shape[e];
    for (int64_t e = d + 1; e < rank; ++e) inner *= shape[e];
    cur = ApplyAxis<T>(a, cur, outer, inner, /*transpose=*/false);
    shape[d] = a.out;
  }
  Tensor y = Tensor::Uninitialized(x.dtype(), plan.out_shape);
  T* out = y.mutable_data<T>();
  for (int64_t i = 0; i < y.numel(); ++i) {
    out[i] = plan.any_outside && Outside(plan, i)
                 ? static_cast<T>(plan.extrapolation_value)
                 : cur[i];
  }
  return y;
}

template <typename T>
Tensor FilterBackward(const Tensor& x, const ResizePlan& plan,
                      const Tensor& dy) {
  std::vector<T> cur(dy.data<T>(), dy.data<T>() + dy.numel());
  if (plan.any_outside) {
    for (int64_t i = 0; i < dy.numel(); ++i) {
      if (Outside(plan, i)) cur[i] = T(0);
    }
  }
  Shape shape = plan.out_shape;
  const int64_t rank = x.rank();
  for (int64_t d = rank - 1; d >= 0; --d) {
    const ResizeAxis& a = plan.axes[d];
    if (a.identity) continue;
    int64_t outer = 1, inner = 1;
    for (int64_t e = 0; e < d; ++e) outer *= shape[e];
    for (int64_t e = d + 1; e < rank; ++e) inner *= shape[e];
    cur = ApplyAxis<T>(a, cur, outer, inner, /*transpose=*/true);
    shape[d] = a.in;
  }
  Tensor dx = Tensor::Uninitialized(x.dtype(), x.shape());
  std::copy(cur.begin(), cur.end(), dx.mutable_data<T>());
  return dx;
}

}  // namespace

absl::StatusOr<Tensor> ResizeApply(const Node& node, const Tensor& x,
                                   const ResizePlan& plan) {
  if (plan.nearest) {
    const size_t esize = DTypeSize(x.dtype());
    if (esize == 0) {
      return NodeError(node, absl::StrCat("unsupported element type ",
                                          DTypeName(x.dtype())));
    }
    Tensor y = Tensor::Uninitialized(x.dtype(), plan.out_shape);
    const uint8_t* from = x.raw();
    uint8_t* to = y.mutable_raw();
    ForEachNearest(plan, x.shape(), [&](int64_t o, int64_t i) {
      std::memcpy(to + o * esize, from + i * esize, esize);
    });
    if (plan.any_outside) {
      const Tensor fill =
          Tensor::Scalar<double>(plan.extrapolation_value).CastTo(x.dtype());
      for (int64_t o = 0; o < y.numel(); ++o) {
        if (Outside(plan, o)) std::memcpy(to + o * esize, fill.raw(), esize);
      }
    }
    return y;
  }
  switch (x.dtype()) {
    case DType::kFloat32:
      return FilterForward<float>(x, plan);
    case DType::kFloat64:
      return FilterForward<double>(x, plan);
    default:
      return absl::UnimplementedError(
          absl::StrCat(node.Describe(),
                       ": linear and cubic modes support float32 and "
                       "float64 only, got ",
                       DTypeName(x.dtype())));
  }
}

absl::StatusOr<Tensor> ResizeGradient(const Node& node, const Tensor& x,
                                      const ResizePlan& plan,
                                      const Tensor& dy) {
  if (dy.shape() != plan.out_shape || dy.dtype() != x.dtype()) {
    return NodeError(node, absl::StrCat("gradient ", dy.DebugString(),
                                        " does not match the output"));
  }
  OC_DISPATCH_FLOAT(x.dtype(), node, {
    if (!plan.nearest) return FilterBackward<T>(x, plan, dy);
    Tensor dx(x.dtype(), x.shape());
    const T* g = dy.data<T>();
    T* out = dx.mutable_data<T>();
    ForEachNearest(plan, x.shape(), [&](int64_t o, int64_t i) {
      if (!plan.any_outside || !Outside(plan, o)) out[i] += g[o];
    });
    return dx;
  });
  return absl::InternalError("unreachable");
}

}  // namespace onnx_crypt::cpu
