// MaxPool (opsets 7-18; 1-D, 2-D and 3-D), forward and backward.
//
//   Y[n, c, o] = max_{taps j inside X} X[n, c, o*s - p_begin + j*d]
// (padding never wins; window geometry in pool_util.h, with ceil_mode and
// dilations from opset 10). The first maximal tap in row-major tap order is
// the argmax, so ties break deterministically. Backward routes dY to it:
//   dX[argmax(n, c, o)] += dY[n, c, o]
// The argmax of every output is kept in the OpContext. The fast path
// (fast_kernels.h; float32 2-D pooling without the Indices output) computes
// the values alone, with the same taps in the same order, and keeps no
// context: backward then recomputes the argmax from X. The optional Indices
// output holds the argmax as a flat index into X, with the spatial part in
// row-major (storage_order 0) or column-major (storage_order 1) order.
#include <limits>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/fast_kernels.h"
#include "onnx_crypt/ops/cpu/parallel.h"
#include "onnx_crypt/ops/cpu/pool_two_by_two.h"
#include "onnx_crypt/ops/cpu/pool_util.h"
#include "onnx_crypt/ops/cpu/util.h"

namespace onnx_crypt::cpu {

namespace {

struct MaxPoolContext : OpContext {
  std::vector<int64_t>
      argmax;  // per output element: flat index into X, -1 for an empty window
};

absl::StatusOr<WindowGeometry> Geometry(const Node& node, const Tensor& x) {
  OC_ASSIGN_OR_RETURN(std::vector<int64_t> kernel,
                      PoolKernelShape(node, x.shape()));
  return MakeWindowGeometry(node, x.shape(), kernel,
                            node.GetInt("ceil_mode", 0) != 0);
}

// The values of IsFullTwoByTwo pooling: the same taps in the same order as
// MaxPool2D (a later tap wins only when greater), as a loop over row pairs
// that the compiler vectorizes.
template <typename T>
void MaxPoolTwoByTwo(const WindowGeometry& g, const T* x, T* y) {
  ForEachTwoByTwo(g, x, y, MaxOfFour());
}

// 2-D pooling without dilation (what CNN exporters emit): the same result as
// the generic loop below, with the window bounds hoisted out of the inner loops
// (about 5x faster; MaxPool was a third of a LeNet forward pass). Fills y when
// kValues and argmax when kArgmax. The (n, c) planes are independent, so they
// are split over the kernel threads (parallel.h; exact at any thread count).
template <typename T, bool kValues, bool kArgmax>
void MaxPool2D(const WindowGeometry& g, const T* x, T* y,
               std::vector<int64_t>& argmax) {
  const std::vector<DimWindow> wh = DimWindows(g, 1), ww = DimWindows(g, 2);
  const int64_t in_size = g.InSize(), out_size = g.OutSize();
  const int64_t width = g.in[2];
  if (kArgmax) {
    argmax.resize(static_cast<size_t>(g.batch * g.channels * out_size));
  }
  int64_t* arg_out = kArgmax ? argmax.data() : nullptr;
  const auto planes = [&](int64_t nc_begin, int64_t nc_end) {
    int64_t out = nc_begin * out_size;
    for (int64_t nc = nc_begin; nc < nc_end; ++nc) {
      const T* xp = x + nc * in_size;
      for (const DimWindow& h : wh) {
        for (const DimWindow& w : ww) {
          if (h.k_begin >= h.k_end || w.k_begin >= w.k_end) {
            if (kValues) y[out] = std::numeric_limits<T>::lowest();
            if (kArgmax) arg_out[out] = -1;
            ++out;
            continue;
          }
          int64_t arg = (h.start + h.k_begin) * width + w.start + w.k_begin;
          T best = xp[arg];
          for (int64_t kh = h.k_begin; kh < h.k_end; ++kh) {
            const int64_t row = (h.start + kh) * width + w.start;
            for (int64_t kw = w.k_begin; kw < w.k_end; ++kw) {
              const T v = xp[row + kw];
              if (v > best) {
                best = v;
                if (kArgmax) arg = row + kw;
              }
            }
          }
          if (kValues) y[out] = best;
          if (kArgmax) arg_out[out] = nc * in_size + arg;
          ++out;
        }
      }
    }
  };
  ParallelFor(g.batch * g.channels, GrainFor(out_size * g.KernelSize()),
              planes);
}

template <typename T>
void MaxPoolCompute(const WindowGeometry& g, const T* x, T* y,
                    std::vector<int64_t>& argmax) {
  if (g.spatial_rank == 2 && g.dilation[1] == 1 && g.dilation[2] == 1 &&
      g.in[0] == 1) {
    if (y == nullptr) {
      MaxPool2D<T, false, true>(g, x, y, argmax);
    } else {
      MaxPool2D<T, true, true>(g, x, y, argmax);
    }
    return;
  }
  const std::vector<DimWindow> wd = DimWindows(g, 0), wh = DimWindows(g, 1),
                               ww = DimWindows(g, 2);
  const int64_t in_size = g.InSize(), out_size = g.OutSize();
  argmax.assign(static_cast<size_t>(g.batch * g.channels * out_size), -1);
  int64_t out = 0;
  for (int64_t nc = 0; nc < g.batch * g.channels; ++nc) {
    const T* xp = x + nc * in_size;
    for (const DimWindow& d : wd) {
      for (const DimWindow& h : wh) {
        for (const DimWindow& w : ww) {
          T best = std::numeric_limits<T>::lowest();
          int64_t arg = -1;
          for (int64_t kd = d.k_begin; kd < d.k_end; ++kd) {
            const int64_t id = d.start + kd * g.dilation[0];
            for (int64_t kh = h.k_begin; kh < h.k_end; ++kh) {
              const int64_t row =
                  (id * g.in[1] + h.start + kh * g.dilation[1]) * g.in[2];
              for (int64_t kw = w.k_begin; kw < w.k_end; ++kw) {
                const int64_t idx = row + w.start + kw * g.dilation[2];
                if (arg < 0 || xp[idx] > best) {
                  best = xp[idx];
                  arg = idx;
                }
              }
            }
          }
          if (y != nullptr) y[out] = best;
          argmax[static_cast<size_t>(out)] = arg < 0 ? -1 : nc * in_size + arg;
          ++out;
        }
      }
    }
  }
}

// The Indices output from the argmax (see the file comment).
Tensor IndicesTensor(const WindowGeometry& g, const Shape& shape,
                     const std::vector<int64_t>& argmax, bool column_major) {
  Tensor indices(DType::kInt64, shape);
  int64_t* out = indices.mutable_data<int64_t>();
  const int64_t in_size = g.InSize();
  for (size_t i = 0; i < argmax.size(); ++i) {
    const int64_t flat = argmax[i];
    if (!column_major || flat < 0) {
      out[i] = flat;
      continue;
    }
    const int64_t nc = flat / in_size, rest = flat % in_size;
    const int64_t iw = rest % g.in[2], ih = (rest / g.in[2]) % g.in[1];
    const int64_t id = rest / (g.in[2] * g.in[1]);
    out[i] = nc * in_size + id + g.in[0] * (ih + g.in[1] * iw);
  }
  return indices;
}

absl::Status Forward(const Node& node, const TensorRefs& inputs,
                     std::vector<Tensor>& outputs,
                     std::unique_ptr<OpContext>* ctx) {
  if (inputs.empty()) return NodeError(node, "expects input X");
  const Tensor& x = *inputs[0];
  OC_ASSIGN_OR_RETURN(WindowGeometry g, Geometry(node, x));
  const Shape y_shape = g.OutputShape(g.channels);
  Tensor y = Tensor::Uninitialized(x.dtype(), y_shape);
  const bool want_indices = outputs.size() > 1 && !node.outputs[1].empty();
  if (FastKernelsEnabled() && !want_indices && g.spatial_rank == 2 &&
      g.dilation[1] == 1 && g.dilation[2] == 1 && g.in[0] == 1 &&
      x.dtype() == DType::kFloat32) {
    // The values alone, without the argmax (an int64 per output, most of the
    // memory traffic of an inference pass); backward recomputes the argmax
    // from X by the same loop, so it is the same.
    if (IsFullTwoByTwo(g)) {
      MaxPoolTwoByTwo<float>(g, x.data<float>(), y.mutable_data<float>());
    } else {
      std::vector<int64_t> none;
      MaxPool2D<float, true, false>(g, x.data<float>(), y.mutable_data<float>(),
                                    none);
    }
    outputs[0] = std::move(y);
    return absl::OkStatus();
  }
  auto context = std::make_unique<MaxPoolContext>();
  // Opset 12 also allows 8-bit integers (forward only: they carry no gradient).
  if (x.dtype() == DType::kUint8) {
    MaxPoolCompute<uint8_t>(g, x.data<uint8_t>(), y.mutable_data<uint8_t>(),
                            context->argmax);
  } else if (x.dtype() == DType::kInt8) {
    MaxPoolCompute<int8_t>(g, x.data<int8_t>(), y.mutable_data<int8_t>(),
                           context->argmax);
  } else {
    OC_DISPATCH_FLOAT(x.dtype(), node, {
      MaxPoolCompute<T>(g, x.data<T>(), y.mutable_data<T>(), context->argmax);
    });
  }
  outputs[0] = std::move(y);
  if (outputs.size() > 1 && !node.outputs[1].empty()) {
    const int64_t storage_order = node.GetInt("storage_order", 0);
    if (storage_order != 0 && storage_order != 1) {
      return NodeError(node, absl::StrCat("storage_order must be 0 or 1, got ",
                                          storage_order));
    }
    outputs[1] = IndicesTensor(g, y_shape, context->argmax, storage_order == 1);
  }
  *ctx = std::move(context);
  return absl::OkStatus();
}

template <typename T>
void MaxPoolBackward(const std::vector<int64_t>& argmax, const Tensor& dy,
                     Tensor& dx) {
  const T* g = dy.data<T>();
  T* out = dx.mutable_data<T>();
  for (size_t i = 0; i < argmax.size(); ++i) {
    if (argmax[i] >= 0) out[argmax[i]] += g[i];
  }
}

absl::Status Backward(const Node& node, const TensorRefs& inputs,
                      const TensorRefs& outputs, const TensorRefs& grad_outputs,
                      const OpContext* ctx, const std::vector<bool>& need_grad,
                      std::vector<Tensor>& grad_inputs) {
  if (!need_grad[0]) return absl::OkStatus();
  const Tensor& x = *inputs[0];
  OC_ASSIGN_OR_RETURN(WindowGeometry g, Geometry(node, x));
  grad_inputs[0] = Tensor(x.dtype(), x.shape());
  const Tensor* dy = grad_outputs[0];
  if (!dy->defined()) return absl::OkStatus();
  if (dy->shape() != g.OutputShape(g.channels) || dy->dtype() != x.dtype()) {
    return NodeError(node, absl::StrCat("output gradient ", dy->DebugString(),
                                        " does not match the output"));
  }
  const auto* context = dynamic_cast<const MaxPoolContext*>(ctx);
  std::vector<int64_t> recomputed;
  if (context == nullptr) {
    OC_DISPATCH_FLOAT(x.dtype(), node, {
      MaxPoolCompute<T>(g, x.data<T>(), nullptr, recomputed);
    });
  }
  const std::vector<int64_t>& argmax =
      context != nullptr ? context->argmax : recomputed;
  if (static_cast<int64_t>(argmax.size()) != dy->numel()) {
    return absl::InternalError(
        absl::StrCat(node.Describe(),
                     ": forward context does not match the output gradient"));
  }
  OC_DISPATCH_FLOAT(x.dtype(), node,
                    { MaxPoolBackward<T>(argmax, *dy, grad_inputs[0]); });
  return absl::OkStatus();
}

}  // namespace

void AddMaxPoolOps(std::vector<OpDef>& ops) {
  OpDef def;
  def.op_type = "MaxPool";
  def.since_version = 7;
  def.until_version = 18;
  def.forward = &Forward;
  def.backward = &Backward;
  def.differentiable_inputs = 0b1;  // X
  ops.push_back(def);
}

}  // namespace onnx_crypt::cpu
