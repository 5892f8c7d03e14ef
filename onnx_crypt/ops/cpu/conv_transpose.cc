// ConvTranspose (opsets 1-21; versions 1 and 11 compute the same; 1-D, 2-D and
// 3-D), forward and backward: a direct reference implementation.
//
// X: N x C x I..., W: C x M/G x K..., optional B: M; Y: N x M x O...
// With G groups (Cg = C/G, Mg = M/G), per spatial dim stride s, dilation d and
// leading pad p, every input position i and tap k of an input channel
// c = g*Cg + c' scatter into output position o = i*s + k*d - p:
//   Y[n, g*Mg + m, o] = B[g*Mg + m]
//       + sum_{c', i, k : i*s + k*d - p = o} X[n, c, i] * W[c, m, k]
// (positions o outside [0, O) are dropped). Backward with dY, over the same
// (i, k, o) triples:
//   dX[n, c, i] = sum_{m, k} dY[n, g*Mg + m, o] * W[c, m, k]
//   dW[c, m, k] = sum_{n, i} X[n, c, i] * dY[n, g*Mg + m, o]
//   dB[m] = sum_{n, o} dY[n, m, o]
// Output size per spatial dim, with the full size
//   F = s*(I - 1) + output_padding + (K - 1)*d + 1:
//   output_shape given: O = output_shape (its last k entries); total padding
//     T = max(0, F - O), p = T - T/2 for SAME_LOWER, T/2 otherwise (the odd
//     element at the end, as ONNX Runtime; a larger O leaves the last outputs
//     at B);
//   auto_pad SAME_UPPER / SAME_LOWER: O = I*s, T = F - O split the same way
//     (SAME_UPPER: p = T/2, the test data's and the spec's convention);
//   VALID: p = 0, O = F;  NOTSET: pads [p_begin..., p_end...], O = F - p_begin
//     - p_end.
//
// The registered kernel computes this by GEMM, per image n and group g, with
// X_g = X[n, group g] as Cg x I and W_g = W[group g] as Cg x (Mg*K):
//   col = W_g^T X_g  (Mg*K x I),  Y_g[m, o(i, k)] += col[(m, k), i]  (col2im)
//   dcol[(m, k), i] = dY_g[m, o(i, k)]  (0 outside; im2col)
//   dX_g = W_g dcol,  dW_g += X_g dcol^T
// The direct scatter loops (ConvTransposeDirect*, conv_transpose.h) are its
// oracle in tests, and run where the col matrix would exceed kColBudget.
#include "onnx_crypt/ops/cpu/conv_transpose.h"

#include <algorithm>
#include <array>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/ops/cpu/blas.h"
#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/op_helpers.h"
#include "onnx_crypt/ops/cpu/util.h"

namespace onnx_crypt::cpu {

namespace {

constexpr int kSlots = 3;  // spatial dims are right-aligned in 3 slots
// Largest col matrix (elements) of the GEMM path.
constexpr int64_t kColBudget = int64_t{1} << 24;

struct Plan {
  int spatial_rank = 0;
  int64_t batch = 0, in_channels = 0, out_channels = 0, group = 1;
  int64_t cg = 0, mg = 0;
  std::array<int64_t, kSlots> in{1, 1, 1}, out{1, 1, 1}, kernel{1, 1, 1},
      stride{1, 1, 1}, dilation{1, 1, 1}, pad{0, 0, 0};
  int64_t InSize() const { return in[0] * in[1] * in[2]; }
  int64_t OutSize() const { return out[0] * out[1] * out[2]; }
  int64_t KernelSize() const { return kernel[0] * kernel[1] * kernel[2]; }
  Shape OutputShape() const {
    Shape s{batch, out_channels};
    for (int j = kSlots - spatial_rank; j < kSlots; ++j) s.push_back(out[j]);
    return s;
  }
};

absl::StatusOr<std::vector<int64_t>> PerDim(const Node& node, const char* name,
                                            size_t count, int64_t fallback) {
  std::vector<int64_t> v = node.GetInts(name, {});
  if (v.empty()) return std::vector<int64_t>(count, fallback);
  if (v.size() != count) {
    return NodeError(node, absl::StrCat(name, " [", absl::StrJoin(v, ", "),
                                        "] must have ", count, " entries"));
  }
  return v;
}

absl::StatusOr<Plan> MakePlan(const Node& node, const TensorRefs& inputs) {
  OC_RETURN_IF_ERROR(RequireInput(node, inputs, 0));
  OC_RETURN_IF_ERROR(RequireInput(node, inputs, 1));
  const Tensor& x = *inputs[0];
  const Tensor& w = *inputs[1];
  const bool has_b = HasInput(inputs, 2);
  if (x.dtype() != w.dtype() || (has_b && inputs[2]->dtype() != x.dtype())) {
    return NodeError(node, "X, W and B must have the same element type");
  }
  if (x.rank() < 3 || w.rank() != x.rank()) {
    return NodeError(node,
                     absl::StrCat("X ", ShapeToString(x.shape()), " and W ",
                                  ShapeToString(w.shape()),
                                  " must have the same rank, at least 3"));
  }
  const size_t k = static_cast<size_t>(x.rank() - 2);
  if (k > static_cast<size_t>(kSlots)) {
    return absl::UnimplementedError(absl::StrCat(
        node.Describe(), ": more than 3 spatial dimensions are not supported"));
  }
  Plan p;
  p.spatial_rank = static_cast<int>(k);
  p.batch = x.dim(0);
  p.in_channels = x.dim(1);
  p.group = node.GetInt("group", 1);
  if (p.group < 1 || w.dim(0) != p.in_channels ||
      p.in_channels % p.group != 0) {
    return NodeError(node, absl::StrCat("group ", p.group, " does not fit X ",
                                        ShapeToString(x.shape()), " and W ",
                                        ShapeToString(w.shape())));
  }
  p.cg = p.in_channels / p.group;
  p.mg = w.dim(1);
  p.out_channels = p.mg * p.group;
  if (has_b &&
      (inputs[2]->rank() != 1 || inputs[2]->numel() != p.out_channels)) {
    return NodeError(node,
                     absl::StrCat("B ", inputs[2]->DebugString(), " must have ",
                                  p.out_channels, " elements"));
  }
  const std::vector<int64_t> kernel(w.shape().begin() + 2, w.shape().end());
  if (node.HasAttr("kernel_shape") &&
      node.GetInts("kernel_shape", {}) != kernel) {
    return NodeError(node, absl::StrCat("kernel_shape does not match W ",
                                        ShapeToString(w.shape())));
  }
  OC_ASSIGN_OR_RETURN(const std::vector<int64_t> strides,
                      PerDim(node, "strides", k, 1));
  OC_ASSIGN_OR_RETURN(const std::vector<int64_t> dilations,
                      PerDim(node, "dilations", k, 1));
  OC_ASSIGN_OR_RETURN(const std::vector<int64_t> out_pad,
                      PerDim(node, "output_padding", k, 0));
  OC_ASSIGN_OR_RETURN(const std::vector<int64_t> pads,
                      PerDim(node, "pads", 2 * k, 0));
  std::vector<int64_t> out_shape = node.GetInts("output_shape", {});
  if (out_shape.size() == k + 2) {
    out_shape.erase(out_shape.begin(), out_shape.begin() + 2);
  }
  if (!out_shape.empty() && out_shape.size() != k) {
    return NodeError(
        node, absl::StrCat("output_shape [", absl::StrJoin(out_shape, ", "),
                           "] must have ", k, " entries"));
  }
  const std::string auto_pad = node.GetString("auto_pad", "NOTSET");
  if (auto_pad != "NOTSET" && auto_pad != "VALID" && auto_pad != "SAME_UPPER" &&
      auto_pad != "SAME_LOWER") {
    return NodeError(node, absl::StrCat("unknown auto_pad ", auto_pad));
  }
  const bool lower = auto_pad == "SAME_LOWER";
  for (size_t j = 0; j < k; ++j) {
    const int slot = kSlots - static_cast<int>(k) + static_cast<int>(j);
    const int64_t in = x.dim(2 + j), kk = kernel[j];
    const int64_t s = strides[j], d = dilations[j], op = out_pad[j];
    if (s < 1 || d < 1 || op < 0 || kk < 1) {
      return NodeError(
          node, absl::StrCat("bad stride ", s, ", dilation ", d,
                             ", output_padding ", op, " or kernel ", kk));
    }
    const int64_t full = s * (in - 1) + op + (kk - 1) * d + 1;
    int64_t out = 0, pad_begin = 0;
    if (!out_shape.empty() || auto_pad == "SAME_UPPER" || lower) {
      out = !out_shape.empty() ? out_shape[j] : in * s;
      const int64_t total = std::max<int64_t>(0, full - out);
      pad_begin = lower ? total - total / 2 : total / 2;
    } else if (auto_pad == "VALID") {
      out = full;
    } else {
      pad_begin = pads[j];
      out = full - pads[j] - pads[j + k];
    }
    if (out < 0) {
      return NodeError(
          node, absl::StrCat("spatial dim ", j, " has output size ", out));
    }
    p.in[slot] = in;
    p.out[slot] = out;
    p.kernel[slot] = kk;
    p.stride[slot] = s;
    p.dilation[slot] = d;
    p.pad[slot] = pad_begin;
  }
  const absl::Status size_ok = CheckTensorSize(x.dtype(), p.OutputShape());
  if (!size_ok.ok()) return NodeError(node, size_ok.message());
  return p;
}

// Calls fn(i, k, o) (flat spatial indices of X's plane, W's taps and Y's
// plane) for every input position and tap that lands inside the output.
template <typename Fn>
void ForEachTap(const Plan& p, Fn fn) {
  for (int64_t i0 = 0; i0 < p.in[0]; ++i0)
    for (int64_t k0 = 0; k0 < p.kernel[0]; ++k0) {
      const int64_t o0 = i0 * p.stride[0] + k0 * p.dilation[0] - p.pad[0];
      if (o0 < 0 || o0 >= p.out[0]) continue;
      for (int64_t i1 = 0; i1 < p.in[1]; ++i1)
        for (int64_t k1 = 0; k1 < p.kernel[1]; ++k1) {
          const int64_t o1 = i1 * p.stride[1] + k1 * p.dilation[1] - p.pad[1];
          if (o1 < 0 || o1 >= p.out[1]) continue;
          const int64_t i01 = (i0 * p.in[1] + i1) * p.in[2];
          const int64_t k01 = (k0 * p.kernel[1] + k1) * p.kernel[2];
          const int64_t o01 = (o0 * p.out[1] + o1) * p.out[2];
          for (int64_t i2 = 0; i2 < p.in[2]; ++i2)
            for (int64_t k2 = 0; k2 < p.kernel[2]; ++k2) {
              const int64_t o2 =
                  i2 * p.stride[2] + k2 * p.dilation[2] - p.pad[2];
              if (o2 < 0 || o2 >= p.out[2]) continue;
              fn(i01 + i2, k01 + k2, o01 + o2);
            }
        }
    }
}

template <typename T>
void CtForward(const Plan& p, const T* x, const T* w, const T* b, T* y) {
  const int64_t in_size = p.InSize(), out_size = p.OutSize(),
                k_size = p.KernelSize();
  for (int64_t n = 0; n < p.batch; ++n) {
    for (int64_t m = 0; m < p.out_channels; ++m) {
      T* yp = y + (n * p.out_channels + m) * out_size;
      std::fill(yp, yp + out_size, b != nullptr ? b[m] : T(0));
    }
    for (int64_t c = 0; c < p.in_channels; ++c) {
      const int64_t g = c / p.cg;
      const T* xp = x + (n * p.in_channels + c) * in_size;
      for (int64_t m = 0; m < p.mg; ++m) {
        const T* wp = w + (c * p.mg + m) * k_size;
        T* yp = y + (n * p.out_channels + g * p.mg + m) * out_size;
        ForEachTap(p, [&](int64_t i, int64_t k, int64_t o) {
          yp[o] += xp[i] * wp[k];
        });
      }
    }
  }
}

template <typename T>
void CtBackward(const Plan& p, const T* x, const T* w, const T* dy, T* dx,
                T* dw, T* db) {
  const int64_t in_size = p.InSize(), out_size = p.OutSize(),
                k_size = p.KernelSize();
  if (db != nullptr) {
    for (int64_t n = 0; n < p.batch; ++n) {
      for (int64_t m = 0; m < p.out_channels; ++m) {
        const T* dyp = dy + (n * p.out_channels + m) * out_size;
        for (int64_t o = 0; o < out_size; ++o) db[m] += dyp[o];
      }
    }
  }
  if (dx == nullptr && dw == nullptr) return;
  for (int64_t n = 0; n < p.batch; ++n) {
    for (int64_t c = 0; c < p.in_channels; ++c) {
      const int64_t g = c / p.cg;
      const T* xp = x + (n * p.in_channels + c) * in_size;
      T* dxp = dx != nullptr ? dx + (n * p.in_channels + c) * in_size : nullptr;
      for (int64_t m = 0; m < p.mg; ++m) {
        const T* wp = w + (c * p.mg + m) * k_size;
        T* dwp = dw != nullptr ? dw + (c * p.mg + m) * k_size : nullptr;
        const T* dyp = dy + (n * p.out_channels + g * p.mg + m) * out_size;
        if (dxp != nullptr) {
          ForEachTap(p, [&](int64_t i, int64_t k, int64_t o) {
            dxp[i] += dyp[o] * wp[k];
          });
        }
        if (dwp != nullptr) {
          ForEachTap(p, [&](int64_t i, int64_t k, int64_t o) {
            dwp[k] += xp[i] * dyp[o];
          });
        }
      }
    }
  }
}

// Walks col's rows (m, k) and columns i for `channels` output channels: calls
// fn(col_index, plane_index or -1) where plane_index is m*O + o(i, k).
template <typename Fn>
void ForEachCol(const Plan& p, int64_t channels, Fn fn) {
  const int64_t in_size = p.InSize(), out_size = p.OutSize();
  int64_t row = 0;
  for (int64_t m = 0; m < channels; ++m)
    for (int64_t k0 = 0; k0 < p.kernel[0]; ++k0)
      for (int64_t k1 = 0; k1 < p.kernel[1]; ++k1)
        for (int64_t k2 = 0; k2 < p.kernel[2]; ++k2, ++row) {
          int64_t c = row * in_size;
          for (int64_t i0 = 0; i0 < p.in[0]; ++i0) {
            const int64_t o0 = i0 * p.stride[0] + k0 * p.dilation[0] - p.pad[0];
            const bool ok0 = o0 >= 0 && o0 < p.out[0];
            for (int64_t i1 = 0; i1 < p.in[1]; ++i1) {
              const int64_t o1 =
                  i1 * p.stride[1] + k1 * p.dilation[1] - p.pad[1];
              const bool ok01 = ok0 && o1 >= 0 && o1 < p.out[1];
              const int64_t base =
                  m * out_size + (o0 * p.out[1] + o1) * p.out[2];
              for (int64_t i2 = 0; i2 < p.in[2]; ++i2, ++c) {
                const int64_t o2 =
                    i2 * p.stride[2] + k2 * p.dilation[2] - p.pad[2];
                fn(c, ok01 && o2 >= 0 && o2 < p.out[2] ? base + o2 : -1);
              }
            }
          }
        }
}

bool GemmFits(const Plan& p) {
  return p.mg * p.KernelSize() * p.InSize() <= kColBudget;
}

template <typename T>
void GemmForward(const Plan& p, const T* x, const T* w, const T* b, T* y) {
  const int64_t in_size = p.InSize(), out_size = p.OutSize();
  const int64_t rows = p.mg * p.KernelSize();
  std::vector<T> col(static_cast<size_t>(rows * in_size));
  for (int64_t n = 0; n < p.batch; ++n) {
    for (int64_t m = 0; m < p.out_channels; ++m) {
      T* yp = y + (n * p.out_channels + m) * out_size;
      std::fill(yp, yp + out_size, b != nullptr ? b[m] : T(0));
    }
    for (int64_t g = 0; g < p.group; ++g) {
      const T* xg = x + (n * p.in_channels + g * p.cg) * in_size;
      const T* wg = w + g * p.cg * rows;
      T* yg = y + (n * p.out_channels + g * p.mg) * out_size;
      Gemm<T>(true, false, rows, in_size, p.cg, T(1), wg, xg, T(0), col.data());
      ForEachCol(p, p.mg, [&](int64_t c, int64_t o) {
        if (o >= 0) yg[o] += col[c];
      });
    }
  }
}

template <typename T>
void GemmBackward(const Plan& p, const T* x, const T* w, const T* dy, T* dx,
                  T* dw, T* db) {
  const int64_t in_size = p.InSize(), out_size = p.OutSize();
  const int64_t rows = p.mg * p.KernelSize();
  if (db != nullptr) {
    for (int64_t n = 0; n < p.batch; ++n) {
      for (int64_t m = 0; m < p.out_channels; ++m) {
        const T* dyp = dy + (n * p.out_channels + m) * out_size;
        for (int64_t o = 0; o < out_size; ++o) db[m] += dyp[o];
      }
    }
  }
  if (dx == nullptr && dw == nullptr) return;
  std::vector<T> col(static_cast<size_t>(rows * in_size));
  for (int64_t n = 0; n < p.batch; ++n) {
    for (int64_t g = 0; g < p.group; ++g) {
      const T* dyg = dy + (n * p.out_channels + g * p.mg) * out_size;
      ForEachCol(p, p.mg, [&](int64_t c, int64_t o) {
        col[c] = o >= 0 ? dyg[o] : T(0);
      });
      const int64_t x_off = (n * p.in_channels + g * p.cg) * in_size;
      if (dx != nullptr) {
        Gemm<T>(false, false, p.cg, in_size, rows, T(1), w + g * p.cg * rows,
                col.data(), T(0), dx + x_off);
      }
      if (dw != nullptr) {
        Gemm<T>(false, true, p.cg, rows, in_size, T(1), x + x_off, col.data(),
                T(1), dw + g * p.cg * rows);
      }
    }
  }
}

absl::Status RunForward(bool direct, const Node& node, const TensorRefs& inputs,
                        std::vector<Tensor>& outputs) {
  OC_ASSIGN_OR_RETURN(const Plan p, MakePlan(node, inputs));
  const Tensor& x = *inputs[0];
  OC_DISPATCH_FLOAT(x.dtype(), node, {
    Tensor y = Tensor::Uninitialized(x.dtype(), p.OutputShape());
    const T* b = HasInput(inputs, 2) ? inputs[2]->data<T>() : nullptr;
    if (direct || !GemmFits(p)) {
      CtForward<T>(p, x.data<T>(), inputs[1]->data<T>(), b,
                   y.mutable_data<T>());
    } else {
      GemmForward<T>(p, x.data<T>(), inputs[1]->data<T>(), b,
                     y.mutable_data<T>());
    }
    outputs[0] = std::move(y);
  });
  return absl::OkStatus();
}

absl::Status RunBackward(bool direct, const Node& node,
                         const TensorRefs& inputs,
                         const TensorRefs& grad_outputs,
                         const std::vector<bool>& need_grad,
                         std::vector<Tensor>& grad_inputs) {
  OC_ASSIGN_OR_RETURN(const Plan p, MakePlan(node, inputs));
  const Tensor& x = *inputs[0];
  const Tensor& w = *inputs[1];
  const bool need_dx = need_grad[0];
  const bool need_dw = need_grad.size() > 1 && need_grad[1];
  const bool need_db =
      HasInput(inputs, 2) && need_grad.size() > 2 && need_grad[2];
  const Tensor* dy = grad_outputs.empty() ? nullptr : grad_outputs[0];
  Tensor zeros;
  if (dy == nullptr || !dy->defined()) {
    zeros = Tensor(x.dtype(), p.OutputShape());
    dy = &zeros;
  } else if (dy->dtype() != x.dtype() || dy->shape() != p.OutputShape()) {
    return NodeError(node, absl::StrCat("output gradient ", dy->DebugString(),
                                        " does not match the output ",
                                        ShapeToString(p.OutputShape())));
  }
  OC_DISPATCH_FLOAT(x.dtype(), node, {
    Tensor dx, dw, db;
    if (need_dx) dx = Tensor(x.dtype(), x.shape());
    if (need_dw) dw = Tensor(w.dtype(), w.shape());
    if (need_db) db = Tensor(x.dtype(), inputs[2]->shape());
    T* dxp = need_dx ? dx.mutable_data<T>() : nullptr;
    T* dwp = need_dw ? dw.mutable_data<T>() : nullptr;
    T* dbp = need_db ? db.mutable_data<T>() : nullptr;
    if (direct || !GemmFits(p)) {
      CtBackward<T>(p, x.data<T>(), w.data<T>(), dy->data<T>(), dxp, dwp, dbp);
    } else {
      GemmBackward<T>(p, x.data<T>(), w.data<T>(), dy->data<T>(), dxp, dwp,
                      dbp);
    }
    if (need_dx) grad_inputs[0] = std::move(dx);
    if (need_dw) grad_inputs[1] = std::move(dw);
    if (need_db) grad_inputs[2] = std::move(db);
  });
  return absl::OkStatus();
}

absl::Status Forward(const Node& node, const TensorRefs& inputs,
                     std::vector<Tensor>& outputs,
                     std::unique_ptr<OpContext>* ctx) {
  return RunForward(false, node, inputs, outputs);
}

absl::Status Backward(const Node& node, const TensorRefs& inputs,
                      const TensorRefs& outputs, const TensorRefs& grad_outputs,
                      const OpContext* ctx, const std::vector<bool>& need_grad,
                      std::vector<Tensor>& grad_inputs) {
  return RunBackward(false, node, inputs, grad_outputs, need_grad, grad_inputs);
}

}  // namespace

absl::Status ConvTransposeDirectForward(const Node& node,
                                        const TensorRefs& inputs,
                                        std::vector<Tensor>& outputs) {
  return RunForward(true, node, inputs, outputs);
}

absl::Status ConvTransposeDirectBackward(const Node& node,
                                         const TensorRefs& inputs,
                                         const TensorRefs& grad_outputs,
                                         const std::vector<bool>& need_grad,
                                         std::vector<Tensor>& grad_inputs) {
  return RunBackward(true, node, inputs, grad_outputs, need_grad, grad_inputs);
}

void AddConvTransposeOps(std::vector<OpDef>& ops) {
  OpDef def;
  def.op_type = "ConvTranspose";
  def.since_version = 1;
  def.until_version = 21;
  def.forward = &Forward;
  def.backward = &Backward;
  def.differentiable_inputs = 0b111;  // X, W, B
  ops.push_back(def);
}

}  // namespace onnx_crypt::cpu
