// Conv (opsets 7-18; 1-D, 2-D and 3-D), forward and backward, by im2col and
// BLAS GEMM.
//
// X: N x C x D..., W: M x C/G x K..., optional B: M; Y: N x M x O...
// For group g (G groups; Cg = C/G input, Mg = M/G output channels), image n:
//   col[(c, k), o] = X[n, g*Cg + c, o*s - p_begin + k*d]  (0 outside X)
//   Y[n, g*Mg + m, o] = sum_{c,k} W[g*Mg + m, c, k] * col[(c, k), o]
//                       + B[g*Mg + m]
// so per group Y_g = W_g (Mg x Cg*K) @ col (Cg*K x O). Backward with dY:
//   dW_g = sum_n dY_g (Mg x O) @ col^T
//   dcol = W_g^T @ dY_g,  dX = col2im(dcol)  (scatter-add)
//   dB[m] = sum_{n,o} dY[n, m, o]
// Several images share one col matrix (columns (n, o)) so that the GEMMs are
// large when images are small (kTargetColumns, kColBudget below). A
// 1x1 kernel with stride 1 and no padding reads X directly (col = X).
//
// That is the reference. float32 runs through oneDNN instead (conv_dnnl.h)
// where it is built in, unless the reference kernels are requested
// (fast_kernels.h).
#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/ops/cpu/blas.h"
#include "onnx_crypt/ops/cpu/conv_fused.h"
#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/fast_kernels.h"
#include "onnx_crypt/ops/cpu/pool_util.h"
#include "onnx_crypt/ops/cpu/util.h"

#if defined(ONNX_CRYPT_HAVE_DNNL)
#include "onnx_crypt/ops/cpu/conv_dnnl.h"
#include "onnx_crypt/ops/cpu/layout_dnnl.h"
#endif

namespace onnx_crypt::cpu {

namespace {

// Images share a col matrix until it has kTargetColumns columns (GEMMs narrower
// than that use BLAS poorly), within kColBudget elements (a buffer that stays
// near the caches); an image that needs more than the budget gets its own.
constexpr int64_t kTargetColumns = 4096;
constexpr int64_t kColBudget = int64_t{1} << 21;

struct ConvPlan {
  WindowGeometry geom;
  int64_t group = 1;
  int64_t in_channels = 0;   // C
  int64_t out_channels = 0;  // M
  int64_t cg = 0;            // C / G
  int64_t mg = 0;            // M / G
  int64_t rows = 0;          // Cg * K: rows of col
  int64_t chunk = 1;         // images per col matrix
  bool direct = false;       // 1x1, stride 1, no pads: col is X itself
};

absl::StatusOr<ConvPlan> MakePlan(const Node& node, const Tensor& x,
                                  const Tensor& w, const Tensor* b) {
  if (x.dtype() != w.dtype() ||
      (b != nullptr && b->defined() && b->dtype() != x.dtype())) {
    return NodeError(node, "X, W and B must have the same element type");
  }
  if (x.rank() < 3 || w.rank() != x.rank()) {
    return NodeError(node,
                     absl::StrCat("X ", ShapeToString(x.shape()), " and W ",
                                  ShapeToString(w.shape()),
                                  " must have the same rank, at least 3"));
  }
  ConvPlan p;
  p.group = node.GetInt("group", 1);
  p.in_channels = x.dim(1);
  p.out_channels = w.dim(0);
  int64_t grouped_in = 0;
  if (p.group < 1 || p.in_channels % p.group != 0 ||
      p.out_channels % p.group != 0 ||
      !CheckedMul(w.dim(1), p.group, &grouped_in) ||
      grouped_in != p.in_channels) {
    return NodeError(node, absl::StrCat("group ", p.group, " does not fit X ",
                                        ShapeToString(x.shape()), " and W ",
                                        ShapeToString(w.shape())));
  }
  std::vector<int64_t> kernel(w.shape().begin() + 2, w.shape().end());
  if (node.HasAttr("kernel_shape") &&
      node.GetInts("kernel_shape", {}) != kernel) {
    return NodeError(
        node,
        absl::StrCat("kernel_shape [",
                     absl::StrJoin(node.GetInts("kernel_shape", {}), ", "),
                     "] does not match W ", ShapeToString(w.shape())));
  }
  if (b != nullptr && b->defined() && b->numel() != p.out_channels) {
    return NodeError(
        node, absl::StrCat("B ", ShapeToString(b->shape()), " must have ",
                           p.out_channels, " elements"));
  }
  OC_ASSIGN_OR_RETURN(
      p.geom, MakeWindowGeometry(node, x.shape(), kernel, /*ceil_mode=*/false));
  const absl::Status size_ok =
      CheckTensorSize(x.dtype(), p.geom.OutputShape(p.out_channels));
  if (!size_ok.ok()) return NodeError(node, size_ok.message());
  p.cg = p.in_channels / p.group;
  p.mg = p.out_channels / p.group;
  p.rows = p.cg * p.geom.KernelSize();
  const WindowGeometry& g = p.geom;
  p.direct = g.KernelSize() == 1;
  for (int i = 0; i < kMaxSpatialRank; ++i) {
    p.direct = p.direct && g.stride[i] == 1 && g.pad_begin[i] == 0 &&
               g.pad_end[i] == 0;
  }
  const int64_t out_size = std::max<int64_t>(1, g.OutSize());
  const int64_t by_columns = (kTargetColumns + out_size - 1) / out_size;
  const int64_t by_budget =
      kColBudget / std::max<int64_t>(1, p.rows * out_size);
  p.chunk = std::clamp<int64_t>(std::min(by_columns, by_budget), 1,
                                std::max<int64_t>(1, g.batch));
  return p;
}

// Output columns [lo, hi) of slot 2 (width) whose tap k reads inside the input.
void ValidRange(const WindowGeometry& g, int64_t k, int64_t* lo, int64_t* hi) {
  const int64_t offset =
      k * g.dilation[2] - g.pad_begin[2];  // input col = o * s + offset
  const int64_t s = g.stride[2];
  *lo = offset >= 0 ? 0 : (-offset + s - 1) / s;
  *hi = g.in[2] - offset <= 0
            ? 0
            : std::min(g.out[2], (g.in[2] - offset + s - 1) / s);
  *lo = std::min(*lo, g.out[2]);
  *hi = std::max(*hi, *lo);
}

// Walks every (row of col, output row (od, oh)) pair for `channels` channels of
// one image and calls fn(x_row_offset or -1 when the input row is outside,
// col_row_pointer_offset, kw) where the width run is handled by the caller.
// Shared by Im2Col and Col2Im so both read the same map.
template <typename Fn>
void ForEachRun(const WindowGeometry& g, int64_t channels, int64_t ld, Fn fn) {
  const int64_t kd_n = g.kernel[0], kh_n = g.kernel[1], kw_n = g.kernel[2];
  const int64_t out_hw = g.out[1] * g.out[2];
  int64_t row = 0;
  for (int64_t c = 0; c < channels; ++c) {
    for (int64_t kd = 0; kd < kd_n; ++kd) {
      for (int64_t kh = 0; kh < kh_n; ++kh) {
        for (int64_t kw = 0; kw < kw_n; ++kw, ++row) {
          for (int64_t od = 0; od < g.out[0]; ++od) {
            const int64_t id =
                od * g.stride[0] - g.pad_begin[0] + kd * g.dilation[0];
            for (int64_t oh = 0; oh < g.out[1]; ++oh) {
              const int64_t ih =
                  oh * g.stride[1] - g.pad_begin[1] + kh * g.dilation[1];
              const bool inside =
                  id >= 0 && id < g.in[0] && ih >= 0 && ih < g.in[1];
              const int64_t x_row =
                  inside ? ((c * g.in[0] + id) * g.in[1] + ih) * g.in[2] : -1;
              fn(x_row, row * ld + od * out_hw + oh * g.out[2], kw);
            }
          }
        }
      }
    }
  }
}

// col (rows x ld, this image's block starting at column 0 of `col`) from one
// image's `channels` channels at `x`.
template <typename T>
void Im2Col(const WindowGeometry& g, const T* x, int64_t channels, T* col,
            int64_t ld) {
  const int64_t ow_n = g.out[2], s = g.stride[2];
  std::vector<int64_t> lo(g.kernel[2]), hi(g.kernel[2]);
  for (int64_t kw = 0; kw < g.kernel[2]; ++kw)
    ValidRange(g, kw, &lo[kw], &hi[kw]);
  ForEachRun(g, channels, ld, [&](int64_t x_row, int64_t col_off, int64_t kw) {
    T* dst = col + col_off;
    if (x_row < 0) {
      std::fill(dst, dst + ow_n, T(0));
      return;
    }
    const int64_t a = lo[kw], b = hi[kw];
    const T* src = x + x_row + kw * g.dilation[2] -
                   g.pad_begin[2];  // src[o * s] is column o
    std::fill(dst, dst + a, T(0));
    if (s == 1) {
      std::memcpy(dst + a, src + a, static_cast<size_t>(b - a) * sizeof(T));
    } else {
      for (int64_t o = a; o < b; ++o) dst[o] = src[o * s];
    }
    std::fill(dst + b, dst + ow_n, T(0));
  });
}

// Adds col (same layout as Im2Col) back into one image's `channels` channels at
// `dx`.
template <typename T>
void Col2Im(const WindowGeometry& g, const T* col, int64_t channels, int64_t ld,
            T* dx) {
  const int64_t s = g.stride[2];
  std::vector<int64_t> lo(g.kernel[2]), hi(g.kernel[2]);
  for (int64_t kw = 0; kw < g.kernel[2]; ++kw)
    ValidRange(g, kw, &lo[kw], &hi[kw]);
  ForEachRun(g, channels, ld, [&](int64_t x_row, int64_t col_off, int64_t kw) {
    if (x_row < 0) return;
    const T* src = col + col_off;
    T* dst = dx + x_row + kw * g.dilation[2] - g.pad_begin[2];
    for (int64_t o = lo[kw]; o < hi[kw]; ++o) dst[o * s] += src[o];
  });
}

// Builds col for images [n0, n0 + count) and group `grp` (columns (n - n0, o)).
template <typename T>
void BuildCol(const ConvPlan& p, const T* x, int64_t n0, int64_t count,
              int64_t grp, T* col) {
  const int64_t out_size = p.geom.OutSize(), in_size = p.geom.InSize();
  for (int64_t b = 0; b < count; ++b) {
    const T* xn = x + ((n0 + b) * p.in_channels + grp * p.cg) * in_size;
    Im2Col(p.geom, xn, p.cg, col + b * out_size, count * out_size);
  }
}

template <typename T>
absl::Status ConvForward(const ConvPlan& p, const Tensor& x, const Tensor& w,
                         const Tensor& b, Tensor& y) {
  const WindowGeometry& g = p.geom;
  y = Tensor::Uninitialized(x.dtype(), g.OutputShape(p.out_channels));
  const int64_t out_size = g.OutSize(), in_size = g.InSize();
  const T* xd = x.data<T>();
  const T* wd = w.data<T>();
  T* yd = y.mutable_data<T>();
  if (p.direct) {
    for (int64_t n = 0; n < g.batch; ++n) {
      for (int64_t grp = 0; grp < p.group; ++grp) {
        Gemm<T>(false, false, p.mg, out_size, p.cg, T(1),
                wd + grp * p.mg * p.rows,
                xd + (n * p.in_channels + grp * p.cg) * in_size, T(0),
                yd + (n * p.out_channels + grp * p.mg) * out_size);
      }
    }
  } else {
    std::vector<T> col(static_cast<size_t>(p.rows * p.chunk * out_size));
    std::vector<T> tmp(
        p.chunk > 1 ? static_cast<size_t>(p.mg * p.chunk * out_size) : 0);
    for (int64_t n0 = 0; n0 < g.batch; n0 += p.chunk) {
      const int64_t count = std::min(p.chunk, g.batch - n0);
      const int64_t cols = count * out_size;
      for (int64_t grp = 0; grp < p.group; ++grp) {
        BuildCol(p, xd, n0, count, grp, col.data());
        const T* wg = wd + grp * p.mg * p.rows;
        if (count == 1) {
          Gemm<T>(false, false, p.mg, cols, p.rows, T(1), wg, col.data(), T(0),
                  yd + (n0 * p.out_channels + grp * p.mg) * out_size);
          continue;
        }
        Gemm<T>(false, false, p.mg, cols, p.rows, T(1), wg, col.data(), T(0),
                tmp.data());
        for (int64_t m = 0; m < p.mg; ++m) {
          for (int64_t bi = 0; bi < count; ++bi) {
            std::memcpy(
                yd + ((n0 + bi) * p.out_channels + grp * p.mg + m) * out_size,
                tmp.data() + m * cols + bi * out_size,
                static_cast<size_t>(out_size) * sizeof(T));
          }
        }
      }
    }
  }
  if (b.defined()) {
    const T* bd = b.data<T>();
    for (int64_t n = 0; n < g.batch; ++n) {
      for (int64_t m = 0; m < p.out_channels; ++m) {
        T* row = yd + (n * p.out_channels + m) * out_size;
        const T bias = bd[m];
        for (int64_t o = 0; o < out_size; ++o) row[o] += bias;
      }
    }
  }
  return absl::OkStatus();
}

#if defined(ONNX_CRYPT_HAVE_DNNL)
DnnlConvShape FastShape(const ConvPlan& p) {
  DnnlConvShape s;
  s.geom = p.geom;
  s.group = p.group;
  s.out_channels = p.out_channels;
  return s;
}
#endif

absl::Status Forward(const Node& node, const TensorRefs& inputs,
                     std::vector<Tensor>& outputs,
                     std::unique_ptr<OpContext>* ctx) {
  if (inputs.size() < 2) return NodeError(node, "expects inputs X and W");
  const Tensor& x = *inputs[0];
  const Tensor& w = *inputs[1];
  static const Tensor kAbsent;
  const Tensor& b = inputs.size() > 2 ? *inputs[2] : kAbsent;
  OC_ASSIGN_OR_RETURN(ConvPlan plan, MakePlan(node, x, w, &b));
#if defined(ONNX_CRYPT_HAVE_DNNL)
  if (x.dtype() == DType::kFloat32 && FastKernelsEnabled()) {
    outputs[0] = Tensor::Uninitialized(
        x.dtype(), plan.geom.OutputShape(plan.out_channels));
    const absl::Status s =
        DnnlConvForward(FastShape(plan), x.data<float>(), w.data<float>(),
                        b.defined() ? b.data<float>() : nullptr,
                        outputs[0].mutable_data<float>());
    if (!s.ok())
      return absl::InternalError(node.Describe() + ": " +
                                 std::string(s.message()));
    return absl::OkStatus();
  }
#endif
  OC_DISPATCH_FLOAT(x.dtype(), node,
                    { return ConvForward<T>(plan, x, w, b, outputs[0]); });
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Tensor> ChangeChannelsLayout(const Tensor& x, bool to_nhwc) {
  if (x.dtype() != DType::kFloat32 || x.shape().size() != 4) {
    return absl::InternalError(
        absl::StrCat("channels layout change of ", x.DebugString(),
                     ": needs a float32 N x C x H x W tensor"));
  }
  const Shape& d = x.shape();
  Tensor y = Tensor::Uninitialized(DType::kFloat32, d);
#if defined(ONNX_CRYPT_HAVE_DNNL)
  OC_RETURN_IF_ERROR(DnnlChangeLayout(d[0], d[1], d[2], d[3], to_nhwc,
                                      x.data<float>(),
                                      y.mutable_data<float>()));
#else
  const float* from = x.data<float>();
  float* to = y.mutable_data<float>();
  const int64_t c = d[1], hw = d[2] * d[3];
  for (int64_t n = 0; n < d[0]; ++n) {
    for (int64_t k = 0; k < c; ++k) {
      for (int64_t p = 0; p < hw; ++p) {
        const int64_t nchw = (n * c + k) * hw + p, nhwc = (n * hw + p) * c + k;
        to[to_nhwc ? nhwc : nchw] = from[to_nhwc ? nchw : nhwc];
      }
    }
  }
#endif
  return y;
}

absl::StatusOr<bool> ConvForwardFused(const Node& node,
                                      const TensorRefs& inputs,
                                      const ConvEpilogue& epilogue, Tensor* y) {
#if defined(ONNX_CRYPT_HAVE_DNNL)
  if (inputs.size() < 2 || !FastKernelsEnabled()) return false;
  const Tensor& x = *inputs[0];
  const Tensor& w = *inputs[1];
  static const Tensor kAbsent;
  const Tensor& b = inputs.size() > 2 ? *inputs[2] : kAbsent;
  if (x.dtype() != DType::kFloat32) return false;
  OC_ASSIGN_OR_RETURN(ConvPlan plan, MakePlan(node, x, w, &b));
  const Shape shape = plan.geom.OutputShape(plan.out_channels);
  DnnlConvEpilogue e;
  if ((epilogue.x_nhwc || epilogue.y_nhwc) &&
      (plan.geom.spatial_rank != 2 || x.shape().size() != 4)) {
    return false;
  }
  e.src_nhwc = epilogue.x_nhwc;
  e.dst_nhwc = epilogue.y_nhwc;
  Shape y_shape = shape;
  if (epilogue.pool != nullptr &&
      epilogue.pool->op_type == "GlobalAveragePool") {
    if (plan.geom.spatial_rank != 2) return false;
    e.pool = DnnlPool::kGlobalAverage;
    y_shape = {shape[0], shape[1], 1, 1};
  } else if (epilogue.pool != nullptr) {
    // Only the pools' own fast path (the 2 x 2 windows of
    // pool_two_by_two.h, as max_pool.cc and average_pool.cc choose it).
    const Node& pool = *epilogue.pool;
    if (plan.geom.spatial_rank != 2) return false;
    absl::StatusOr<std::vector<int64_t>> kernel = PoolKernelShape(pool, shape);
    if (!kernel.ok()) return false;
    absl::StatusOr<WindowGeometry> pg = MakeWindowGeometry(
        pool, shape, *kernel, pool.GetInt("ceil_mode", 0) != 0);
    if (!pg.ok() || !IsFullTwoByTwo(*pg) || pg->in[0] != 1 ||
        pg->out[1] != shape[2] / 2 || pg->out[2] != shape[3] / 2) {
      return false;
    }
    e.pool = pool.op_type == "MaxPool" ? DnnlPool::kMax : DnnlPool::kAverage;
    y_shape = pg->OutputShape(pg->channels);
  }
  if (!epilogue.scale.empty()) {
    if (static_cast<int64_t>(epilogue.scale.size()) != plan.out_channels ||
        epilogue.shift.size() != epilogue.scale.size()) {
      return false;
    }
    e.scale = epilogue.scale.data();
    e.shift = epilogue.shift.data();
  }
  if (epilogue.addend != nullptr) {
    if (epilogue.addend->dtype() != DType::kFloat32 ||
        epilogue.addend->shape() != shape) {
      return false;
    }
    e.addend = epilogue.addend->data<float>();
  }
  e.relu = epilogue.relu;
  e.relu_alpha = epilogue.relu_alpha;
  Tensor out = Tensor::Uninitialized(x.dtype(), y_shape);
  const absl::StatusOr<bool> fused = DnnlConvForwardFused(
      FastShape(plan), x.data<float>(), w.data<float>(),
      b.defined() ? b.data<float>() : nullptr, e, out.mutable_data<float>());
  if (!fused.ok()) {
    return absl::InternalError(node.Describe() + ": " +
                               std::string(fused.status().message()));
  }
  if (*fused) *y = std::move(out);
  return *fused;
#else
  return false;
#endif
}

namespace {

template <typename T>
absl::Status ConvBackward(const ConvPlan& p, const Tensor& x, const Tensor& w,
                          const Tensor& dy, bool need_dx, bool need_dw,
                          bool need_db, Tensor* dx, Tensor* dw, Tensor* db) {
  const WindowGeometry& g = p.geom;
  const int64_t out_size = g.OutSize(), in_size = g.InSize();
  const T* xd = x.data<T>();
  const T* wd = w.data<T>();
  const T* dyd = dy.data<T>();
  if (need_db) {
    *db = Tensor(x.dtype(), {p.out_channels});
    T* dbd = db->mutable_data<T>();
    for (int64_t n = 0; n < g.batch; ++n) {
      for (int64_t m = 0; m < p.out_channels; ++m) {
        const T* row = dyd + (n * p.out_channels + m) * out_size;
        T sum = T(0);
        for (int64_t o = 0; o < out_size; ++o) sum += row[o];
        dbd[m] += sum;
      }
    }
  }
  if (!need_dx && !need_dw) return absl::OkStatus();
  if (need_dx) *dx = Tensor(x.dtype(), x.shape());
  if (need_dw) *dw = Tensor(w.dtype(), w.shape());
  T* dxd = need_dx ? dx->mutable_data<T>() : nullptr;
  T* dwd = need_dw ? dw->mutable_data<T>() : nullptr;
  if (p.direct) {
    for (int64_t n = 0; n < g.batch; ++n) {
      for (int64_t grp = 0; grp < p.group; ++grp) {
        const T* dyg = dyd + (n * p.out_channels + grp * p.mg) * out_size;
        const int64_t x_off = (n * p.in_channels + grp * p.cg) * in_size;
        if (need_dw) {
          Gemm<T>(false, true, p.mg, p.cg, out_size, T(1), dyg, xd + x_off,
                  T(1), dwd + grp * p.mg * p.rows);
        }
        if (need_dx) {
          Gemm<T>(true, false, p.cg, out_size, p.mg, T(1),
                  wd + grp * p.mg * p.rows, dyg, T(0), dxd + x_off);
        }
      }
    }
    return absl::OkStatus();
  }
  std::vector<T> col(static_cast<size_t>(p.rows * p.chunk * out_size));
  std::vector<T> dy_chunk(
      p.chunk > 1 ? static_cast<size_t>(p.mg * p.chunk * out_size) : 0);
  for (int64_t n0 = 0; n0 < g.batch; n0 += p.chunk) {
    const int64_t count = std::min(p.chunk, g.batch - n0);
    const int64_t cols = count * out_size;
    for (int64_t grp = 0; grp < p.group; ++grp) {
      // dY_g for these images as Mg x (count * O).
      const T* dyg = dyd + (n0 * p.out_channels + grp * p.mg) * out_size;
      if (count > 1) {
        for (int64_t m = 0; m < p.mg; ++m) {
          for (int64_t bi = 0; bi < count; ++bi) {
            std::memcpy(
                dy_chunk.data() + m * cols + bi * out_size,
                dyd + ((n0 + bi) * p.out_channels + grp * p.mg + m) * out_size,
                static_cast<size_t>(out_size) * sizeof(T));
          }
        }
        dyg = dy_chunk.data();
      }
      if (need_dw) {
        BuildCol(p, xd, n0, count, grp, col.data());
        Gemm<T>(false, true, p.mg, p.rows, cols, T(1), dyg, col.data(), T(1),
                dwd + grp * p.mg * p.rows);
      }
      if (need_dx) {
        Gemm<T>(true, false, p.rows, cols, p.mg, T(1), wd + grp * p.mg * p.rows,
                dyg, T(0), col.data());
        for (int64_t bi = 0; bi < count; ++bi) {
          Col2Im(g, col.data() + bi * out_size, p.cg, cols,
                 dxd + ((n0 + bi) * p.in_channels + grp * p.cg) * in_size);
        }
      }
    }
  }
  return absl::OkStatus();
}

absl::Status Backward(const Node& node, const TensorRefs& inputs,
                      const TensorRefs& outputs, const TensorRefs& grad_outputs,
                      const OpContext* ctx, const std::vector<bool>& need_grad,
                      std::vector<Tensor>& grad_inputs) {
  const Tensor& x = *inputs[0];
  const Tensor& w = *inputs[1];
  static const Tensor kAbsent;
  const Tensor& b = inputs.size() > 2 ? *inputs[2] : kAbsent;
  OC_ASSIGN_OR_RETURN(ConvPlan plan, MakePlan(node, x, w, &b));
  const bool need_dx = need_grad[0];
  const bool need_dw = need_grad.size() > 1 && need_grad[1];
  const bool need_db = b.defined() && need_grad.size() > 2 && need_grad[2];
  Tensor zeros;
  const Tensor* dy = grad_outputs[0];
  if (!dy->defined()) {
    zeros = Tensor(x.dtype(), plan.geom.OutputShape(plan.out_channels));
    dy = &zeros;
  } else if (dy->shape() != plan.geom.OutputShape(plan.out_channels) ||
             dy->dtype() != x.dtype()) {
    return NodeError(node, absl::StrCat("output gradient ", dy->DebugString(),
                                        " does not match the output"));
  }
  Tensor unused;
#if defined(ONNX_CRYPT_HAVE_DNNL)
  if (x.dtype() == DType::kFloat32 && FastKernelsEnabled()) {
    float* dx = nullptr;
    float* dw = nullptr;
    float* db = nullptr;
    if (need_dx) {
      grad_inputs[0] = Tensor::Uninitialized(x.dtype(), x.shape());
      dx = grad_inputs[0].mutable_data<float>();
    }
    if (need_dw) {
      grad_inputs[1] = Tensor::Uninitialized(w.dtype(), w.shape());
      dw = grad_inputs[1].mutable_data<float>();
    }
    if (need_db) {
      grad_inputs[2] = Tensor::Uninitialized(b.dtype(), {plan.out_channels});
      db = grad_inputs[2].mutable_data<float>();
    }
    const absl::Status s =
        DnnlConvBackward(FastShape(plan), x.data<float>(), w.data<float>(),
                         dy->data<float>(), dx, dw, db);
    if (!s.ok())
      return absl::InternalError(node.Describe() + ": " +
                                 std::string(s.message()));
    return absl::OkStatus();
  }
#endif
  OC_DISPATCH_FLOAT(x.dtype(), node, {
    return ConvBackward<T>(plan, x, w, *dy, need_dx, need_dw, need_db,
                           &grad_inputs[0], need_dw ? &grad_inputs[1] : &unused,
                           need_db ? &grad_inputs[2] : &unused);
  });
  return absl::OkStatus();
}

}  // namespace

void AddConvOps(std::vector<OpDef>& ops) {
  OpDef def;
  def.op_type = "Conv";
  def.since_version = 7;
  def.until_version = 18;
  def.forward = &Forward;
  def.backward = &Backward;
  def.differentiable_inputs = 0b111;  // X, W, B
  ops.push_back(def);
}

}  // namespace onnx_crypt::cpu
