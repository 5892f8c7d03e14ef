// Drivers shared by the elementwise CPU ops (ops group A); each op file
// supplies its functors.
//
// Unary ops: y = f(x) elementwise, dy/dx = df(x, y) (float32/float64).
// Binary ops: z = f(a, b) with ONNX multidirectional broadcasting; dz/da and
// dz/db are evaluated at each broadcast element pair and summed back to each
// input's shape (ReduceToShape).
// Header-only templates; errors are statuses naming the node.
#ifndef ONNX_CRYPT_OPS_CPU_ELEMENTWISE_H_
#define ONNX_CRYPT_OPS_CPU_ELEMENTWISE_H_

#include <cstdint>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/ir/graph.h"
#include "onnx_crypt/ir/tensor.h"
#include "onnx_crypt/ops/cpu/op_helpers.h"
#include "onnx_crypt/ops/cpu/parallel.h"
#include "onnx_crypt/ops/cpu/util.h"
#include "onnx_crypt/ops/op.h"

namespace onnx_crypt::cpu {

// --- unary ---

// y = f(x); `f` is a generic callable taking and returning T.
template <typename F>
absl::Status UnaryForward(const Node& node, const TensorRefs& inputs,
                          std::vector<Tensor>& outputs, const F& f) {
  OC_RETURN_IF_ERROR(RequireInput(node, inputs, 0));
  const Tensor& x = *inputs[0];
  OC_DISPATCH_FLOAT(x.dtype(), node, {
    Tensor y = Tensor::Uninitialized(x.dtype(), x.shape());
    // Local copies (the functor, the count, unaliased pointers) so that the
    // loop vectorizes: with `f` read through a reference the compiler reloaded
    // its captures every element.
    // Each element is independent: split over the kernel threads (exact).
    const T* px = x.data<T>();
    T* py = y.mutable_data<T>();
    ParallelFor(x.numel(), GrainFor(1), [&](int64_t begin, int64_t end) {
      const F fn = f;
      const int64_t n = end - begin;
      const T* __restrict rx = px + begin;
      T* __restrict ry = py + begin;
      for (int64_t i = 0; i < n; ++i) ry[i] = fn(rx[i]);
    });
    outputs[0] = std::move(y);
  });
  return absl::OkStatus();
}

// dx = dy * df(x, y); `df` is a generic callable (T x, T y) -> T.
template <typename DF>
absl::Status UnaryBackward(const Node& node, const TensorRefs& inputs,
                           const TensorRefs& outputs,
                           const TensorRefs& grad_outputs,
                           const std::vector<bool>& need_grad,
                           std::vector<Tensor>& grad_inputs, const DF& df) {
  if (need_grad.empty() || !need_grad[0]) return absl::OkStatus();
  const Tensor& x = *inputs[0];
  const Tensor& y = *outputs[0];
  const Tensor dy = GradOrZeros(grad_outputs[0], y);
  OC_DISPATCH_FLOAT(x.dtype(), node, {
    Tensor dx = Tensor::Uninitialized(x.dtype(), x.shape());
    const T* px = x.data<T>();
    const T* py = y.data<T>();
    const T* pdy = dy.data<T>();
    T* pdx = dx.mutable_data<T>();
    // As in UnaryForward: local copies, split over the kernel threads
    // (exact). The derivative and the upstream gradient are named values of
    // their own: written as one product, GCC kept a compare-and-branch per
    // element (Relu's backward was 7 % of a lock); like this it vectorizes.
    ParallelFor(x.numel(), GrainFor(1), [&](int64_t begin, int64_t end) {
      const DF dfn = df;
      const int64_t n = end - begin;
      const T* __restrict rx = px + begin;
      const T* __restrict ry = py + begin;
      const T* __restrict rdy = pdy + begin;
      T* __restrict rdx = pdx + begin;
      for (int64_t i = 0; i < n; ++i) {
        const T d = dfn(rx[i], ry[i]);
        const T g = rdy[i];
        rdx[i] = g * d;
      }
    });
    grad_inputs[0] = std::move(dx);
  });
  return absl::OkStatus();
}

// --- binary with broadcasting ---

namespace internal {

template <typename T, typename F>
Tensor BroadcastApply(const Tensor& a, const Tensor& b, const Shape& out_shape,
                      const F& f) {
  Tensor out = Tensor::Uninitialized(a.dtype(), out_shape);
  const std::vector<int64_t> sa = BroadcastStrides(a.shape(), out_shape);
  const std::vector<int64_t> sb = BroadcastStrides(b.shape(), out_shape);
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  T* po = out.mutable_data<T>();
  const bool same = a.shape() == out_shape && b.shape() == out_shape;
  if (same) {  // the common case (residual Add): a plain loop that vectorizes,
               // split over the kernel threads (each element independent)
    ParallelFor(out.numel(), GrainFor(1), [&](int64_t begin, int64_t end) {
      const F fn = f;
      const int64_t n = end - begin;
      const T* __restrict ra = pa + begin;
      const T* __restrict rb = pb + begin;
      T* __restrict ro = po + begin;
      for (int64_t i = 0; i < n; ++i) ro[i] = fn(ra[i], rb[i]);
    });
    return out;
  }
  for (int64_t i = 0; i < out.numel(); ++i) {
    const int64_t ia = same ? i : BroadcastIndex(i, out_shape, sa);
    const int64_t ib = same ? i : BroadcastIndex(i, out_shape, sb);
    po[i] = f(pa[ia], pb[ib]);
  }
  return out;
}

}  // namespace internal

// c = f(a, b) for float32/float64/int32/int64/int8/uint8 inputs of one dtype.
// `f` is a generic callable (T, T) -> T. When `nonzero_int_rhs` is set, an
// integer right-hand side containing 0 is an error (integer division by zero is
// undefined).
template <typename F>
absl::Status BinaryForward(const Node& node, const TensorRefs& inputs,
                           std::vector<Tensor>& outputs, const F& f,
                           bool nonzero_int_rhs = false) {
  OC_RETURN_IF_ERROR(RequireInput(node, inputs, 0));
  OC_RETURN_IF_ERROR(RequireInput(node, inputs, 1));
  const Tensor& a = *inputs[0];
  const Tensor& b = *inputs[1];
  if (a.dtype() != b.dtype()) {
    return NodeError(node, absl::StrCat("inputs have different element types ",
                                        DTypeName(a.dtype()), " and ",
                                        DTypeName(b.dtype())));
  }
  OC_ASSIGN_OR_RETURN(const Shape out_shape,
                      BroadcastShapes(a.shape(), b.shape(), node));
  auto run = [&](auto tag) -> absl::Status {
    using T = decltype(tag);
    if (nonzero_int_rhs && std::is_integral_v<T>) {
      const T* pb = b.data<T>();
      for (int64_t i = 0; i < b.numel(); ++i) {
        if (pb[i] == T{0}) return NodeError(node, "integer division by zero");
      }
    }
    outputs[0] = internal::BroadcastApply<T>(a, b, out_shape, f);
    return absl::OkStatus();
  };
  switch (a.dtype()) {
    case DType::kFloat32:
      return run(float{});
    case DType::kFloat64:
      return run(double{});
    case DType::kInt32:
      return run(int32_t{});
    case DType::kInt64:
      return run(int64_t{});
    case DType::kInt8:
      return run(int8_t{});
    case DType::kUint8:
      return run(uint8_t{});
    default:
      return NodeError(node, absl::StrCat("unsupported element type ",
                                          DTypeName(a.dtype())));
  }
}

// Gradients of c = f(a, b): da = reduce(dc * dfda(a, b)), db = reduce(dc *
// dfdb(a, b)), both generic callables (T, T) -> T evaluated at the broadcast
// pair. float32/float64 only.
template <typename DFDA, typename DFDB>
absl::Status BinaryBackward(const Node& node, const TensorRefs& inputs,
                            const TensorRefs& outputs,
                            const TensorRefs& grad_outputs,
                            const std::vector<bool>& need_grad,
                            std::vector<Tensor>& grad_inputs, const DFDA& dfda,
                            const DFDB& dfdb) {
  const Tensor& a = *inputs[0];
  const Tensor& b = *inputs[1];
  const Tensor dc = GradOrZeros(grad_outputs[0], *outputs[0]);
  const Shape& out_shape = dc.shape();
  OC_DISPATCH_FLOAT(a.dtype(), node, {
    for (int j = 0; j < 2; ++j) {
      if (j >= static_cast<int>(need_grad.size()) || !need_grad[j]) continue;
      Tensor full(a.dtype(), out_shape);
      const std::vector<int64_t> sa = BroadcastStrides(a.shape(), out_shape);
      const std::vector<int64_t> sb = BroadcastStrides(b.shape(), out_shape);
      const T* pa = a.data<T>();
      const T* pb = b.data<T>();
      const T* pdc = dc.data<T>();
      T* pf = full.mutable_data<T>();
      for (int64_t i = 0; i < full.numel(); ++i) {
        const T va = pa[BroadcastIndex(i, out_shape, sa)];
        const T vb = pb[BroadcastIndex(i, out_shape, sb)];
        pf[i] = pdc[i] * (j == 0 ? dfda(va, vb) : dfdb(va, vb));
      }
      grad_inputs[j] = ReduceToShape(full, j == 0 ? a.shape() : b.shape());
    }
  });
  return absl::OkStatus();
}

}  // namespace onnx_crypt::cpu

#endif  // ONNX_CRYPT_OPS_CPU_ELEMENTWISE_H_
