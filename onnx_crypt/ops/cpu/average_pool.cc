// AveragePool (opsets 7-18; 1-D, 2-D and 3-D), forward and backward.
//
//   Y[n, c, o] = sum_{taps j inside X} X[n, c, o*s - p_begin + j*d] / count(o)
// count(o) is the number of taps inside X (count_include_pad = 0) or inside X
// plus its pads (count_include_pad = 1); taps of a ceil_mode window that run
// past the end padding never count (as in ONNX's reference and PyTorch).
// Window geometry in pool_util.h. Backward, for every tap of o reading i:
//   dX[n, c, i] += dY[n, c, o] / count(o)
// The fast path (fast_kernels.h) for full 2 x 2 windows of stride 2 sums the
// same taps in the same order, so it gives the same bits.
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

absl::StatusOr<WindowGeometry> Geometry(const Node& node, const Tensor& x) {
  OC_ASSIGN_OR_RETURN(std::vector<int64_t> kernel,
                      PoolKernelShape(node, x.shape()));
  return MakeWindowGeometry(node, x.shape(), kernel,
                            node.GetInt("ceil_mode", 0) != 0);
}

// Calls visit(nc, out, d, h, w, count) for every output of the (n, c) planes
// [nc_begin, nc_end) (default: all): the flat (n, c) index, the flat output
// index, the DimWindows of the three geometry slots and the divisor count(o).
template <typename Visit>
void ForEachOutput(const WindowGeometry& g, bool count_include_pad, Visit visit,
                   int64_t nc_begin = 0, int64_t nc_end = -1) {
  const std::vector<DimWindow> wd = DimWindows(g, 0), wh = DimWindows(g, 1),
                               ww = DimWindows(g, 2);
  if (nc_end < 0) nc_end = g.batch * g.channels;
  int64_t out = nc_begin * g.OutSize();
  for (int64_t nc = nc_begin; nc < nc_end; ++nc) {
    for (const DimWindow& d : wd) {
      for (const DimWindow& h : wh) {
        for (const DimWindow& w : ww) {
          const int64_t count =
              count_include_pad
                  ? d.k_end_padded * h.k_end_padded * w.k_end_padded
                  : (d.k_end - d.k_begin) * (h.k_end - h.k_begin) *
                        (w.k_end - w.k_begin);
          visit(nc, out, d, h, w, count);
          ++out;
        }
      }
    }
  }
}

// IsFullTwoByTwo pooling (count 4 with or without pads): the sum in the tap
// order of the loop below, from the same zero, as a loop over row pairs that
// the compiler vectorizes.
template <typename T>
void AveragePoolTwoByTwo(const WindowGeometry& g, const T* x, T* y) {
  ForEachTwoByTwo(g, x, y, MeanOfFour());
}

template <typename T>
void AveragePoolForward(const WindowGeometry& g, bool count_include_pad,
                        const T* x, T* y) {
  if (FastKernelsEnabled() && IsFullTwoByTwo(g)) {
    AveragePoolTwoByTwo(g, x, y);
    return;
  }
  const int64_t in_size = g.InSize();
  const auto one = [&](int64_t nc, int64_t out, const DimWindow& d,
                       const DimWindow& h, const DimWindow& w, int64_t count) {
    const T* xp = x + nc * in_size;
    T sum = T(0);
    for (int64_t kd = d.k_begin; kd < d.k_end; ++kd) {
      const int64_t id = d.start + kd * g.dilation[0];
      for (int64_t kh = h.k_begin; kh < h.k_end; ++kh) {
        const T* row = xp +
                       (id * g.in[1] + h.start + kh * g.dilation[1]) * g.in[2] +
                       w.start;
        for (int64_t kw = w.k_begin; kw < w.k_end; ++kw) {
          sum += row[kw * g.dilation[2]];
        }
      }
    }
    y[out] = count > 0 ? sum / static_cast<T>(count) : T(0);
  };
  // Planes are independent: split them over the kernel threads (exact).
  ParallelFor(g.batch * g.channels, GrainFor(g.OutSize() * g.KernelSize()),
              [&](int64_t begin, int64_t end) {
                ForEachOutput(g, count_include_pad, one, begin, end);
              });
}

template <typename T>
void AveragePoolBackward(const WindowGeometry& g, bool count_include_pad,
                         const T* dy, T* dx) {
  const int64_t in_size = g.InSize();
  ForEachOutput(g, count_include_pad,
                [&](int64_t nc, int64_t out, const DimWindow& d,
                    const DimWindow& h, const DimWindow& w, int64_t count) {
                  if (count == 0) return;
                  const T share = dy[out] / static_cast<T>(count);
                  T* xp = dx + nc * in_size;
                  for (int64_t kd = d.k_begin; kd < d.k_end; ++kd) {
                    const int64_t id = d.start + kd * g.dilation[0];
                    for (int64_t kh = h.k_begin; kh < h.k_end; ++kh) {
                      T* row = xp +
                               (id * g.in[1] + h.start + kh * g.dilation[1]) *
                                   g.in[2] +
                               w.start;
                      for (int64_t kw = w.k_begin; kw < w.k_end; ++kw) {
                        row[kw * g.dilation[2]] += share;
                      }
                    }
                  }
                });
}

absl::Status Forward(const Node& node, const TensorRefs& inputs,
                     std::vector<Tensor>& outputs,
                     std::unique_ptr<OpContext>* ctx) {
  if (inputs.empty()) return NodeError(node, "expects input X");
  const Tensor& x = *inputs[0];
  OC_ASSIGN_OR_RETURN(WindowGeometry g, Geometry(node, x));
  const bool include_pad = node.GetInt("count_include_pad", 0) != 0;
  Tensor y(x.dtype(), g.OutputShape(g.channels));
  OC_DISPATCH_FLOAT(x.dtype(), node, {
    AveragePoolForward<T>(g, include_pad, x.data<T>(), y.mutable_data<T>());
  });
  outputs[0] = std::move(y);
  return absl::OkStatus();
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
  const bool include_pad = node.GetInt("count_include_pad", 0) != 0;
  OC_DISPATCH_FLOAT(x.dtype(), node, {
    AveragePoolBackward<T>(g, include_pad, dy->data<T>(),
                           grad_inputs[0].mutable_data<T>());
  });
  return absl::OkStatus();
}

}  // namespace

void AddAveragePoolOps(std::vector<OpDef>& ops) {
  OpDef def;
  def.op_type = "AveragePool";
  def.since_version = 7;
  def.until_version = 18;
  def.forward = &Forward;
  def.backward = &Backward;
  def.differentiable_inputs = 0b1;  // X
  ops.push_back(def);
}

}  // namespace onnx_crypt::cpu
