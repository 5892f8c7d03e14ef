// Gemm (opsets 7-18), forward and backward, through BLAS.
//
//   Y (M x N) = alpha * A' @ B' + beta * C
//   A' = transA ? A^T : A  (M x K),  B' = transB ? B^T : B  (K x N)
// with C unidirectionally broadcast to M x N (C may be absent from opset 11;
// we accept its absence at every opset). Backward with dY:
//   dA' = alpha * dY @ B'^T   so dA = transA ? alpha * B' @ dY^T
//                                            : alpha * dY @ B'^T
//   dB' = alpha * A'^T @ dY   so dB = transB ? alpha * dY^T @ A'
//                                            : alpha * A'^T @ dY
//   dC = beta * (dY summed over the broadcast dims of C)
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/ops/cpu/blas.h"
#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/util.h"

namespace onnx_crypt::cpu {

namespace {

struct GemmPlan {
  bool trans_a = false;
  bool trans_b = false;
  int64_t m = 0, n = 0, k = 0;
  double alpha = 1.0;
  double beta = 1.0;
};

const Tensor& OptionalInput(const TensorRefs& inputs, size_t i) {
  static const Tensor kAbsent;
  return i < inputs.size() ? *inputs[i] : kAbsent;
}

absl::StatusOr<GemmPlan> MakePlan(const Node& node, const TensorRefs& inputs) {
  if (inputs.size() < 2) return NodeError(node, "expects inputs A and B");
  const Tensor& a = *inputs[0];
  const Tensor& b = *inputs[1];
  const Tensor& c = OptionalInput(inputs, 2);
  if (a.rank() != 2 || b.rank() != 2) {
    return NodeError(node,
                     absl::StrCat("A ", ShapeToString(a.shape()), " and B ",
                                  ShapeToString(b.shape()), " must be 2-D"));
  }
  if (a.dtype() != b.dtype() || (c.defined() && c.dtype() != a.dtype())) {
    return NodeError(node, "A, B and C must have the same element type");
  }
  GemmPlan p;
  p.trans_a = node.GetInt("transA", 0) != 0;
  p.trans_b = node.GetInt("transB", 0) != 0;
  p.alpha = node.GetFloat("alpha", 1.0f);
  p.beta = node.GetFloat("beta", 1.0f);
  p.m = p.trans_a ? a.dim(1) : a.dim(0);
  p.k = p.trans_a ? a.dim(0) : a.dim(1);
  const int64_t kb = p.trans_b ? b.dim(1) : b.dim(0);
  p.n = p.trans_b ? b.dim(0) : b.dim(1);
  if (kb != p.k) {
    return NodeError(
        node,
        absl::StrCat("inner dimensions of A ", ShapeToString(a.shape()),
                     " and B ", ShapeToString(b.shape()), " differ (transA ",
                     p.trans_a, ", transB ", p.trans_b, ")"));
  }
  if (c.defined()) {
    const Shape y_shape = {p.m, p.n};
    absl::StatusOr<Shape> joined = BroadcastShapes(c.shape(), y_shape, node);
    if (!joined.ok() || *joined != y_shape) {
      return NodeError(node, absl::StrCat("C ", ShapeToString(c.shape()),
                                          " does not broadcast to ",
                                          ShapeToString(y_shape)));
    }
  }
  return p;
}

template <typename T>
void GemmForward(const GemmPlan& p, const Tensor& a, const Tensor& b,
                 const Tensor& c, Tensor& y) {
  // Every element is written below: by the C term, or by the product with
  // beta 0 (BLAS does not read Y then).
  y = Tensor::Uninitialized(a.dtype(), {p.m, p.n});
  T* yd = y.mutable_data<T>();
  const T beta = static_cast<T>(p.beta);
  const bool use_c = c.defined() && beta != T(0);
  if (use_c) {
    const T* cd = c.data<T>();
    if (c.numel() == p.m * p.n) {
      for (int64_t i = 0; i < p.m * p.n; ++i) yd[i] = beta * cd[i];
    } else if (c.numel() == p.n &&
               c.shape().back() == p.n) {  // a row vector: [N] or [1, N]
      for (int64_t i = 0; i < p.m; ++i) {
        for (int64_t j = 0; j < p.n; ++j) yd[i * p.n + j] = beta * cd[j];
      }
    } else {
      const std::vector<int64_t> strides =
          BroadcastStrides(c.shape(), y.shape());
      for (int64_t i = 0; i < p.m * p.n; ++i) {
        yd[i] = beta * cd[BroadcastIndex(i, y.shape(), strides)];
      }
    }
  }
  Gemm<T>(p.trans_a, p.trans_b, p.m, p.n, p.k, static_cast<T>(p.alpha),
          a.data<T>(), b.data<T>(), use_c ? T(1) : T(0), yd);
}

absl::Status Forward(const Node& node, const TensorRefs& inputs,
                     std::vector<Tensor>& outputs,
                     std::unique_ptr<OpContext>* ctx) {
  OC_ASSIGN_OR_RETURN(GemmPlan plan, MakePlan(node, inputs));
  const Tensor& a = *inputs[0];
  OC_DISPATCH_FLOAT(a.dtype(), node, {
    GemmForward<T>(plan, a, *inputs[1], OptionalInput(inputs, 2), outputs[0]);
  });
  return absl::OkStatus();
}

template <typename T>
void GemmBackward(const GemmPlan& p, const Tensor& a, const Tensor& b,
                  const Tensor& c, const Tensor& dy,
                  const std::vector<bool>& need, std::vector<Tensor>& grads) {
  const T alpha = static_cast<T>(p.alpha);
  const T* ad = a.data<T>();
  const T* bd = b.data<T>();
  const T* dyd = dy.data<T>();
  if (need[0]) {
    grads[0] = Tensor(a.dtype(), a.shape());
    T* da = grads[0].mutable_data<T>();
    if (!p.trans_a) {
      // dA (M x K) = dY (M x N) @ B'^T (N x K); B'^T is B when transB, else
      // B^T.
      Gemm<T>(false, !p.trans_b, p.m, p.k, p.n, alpha, dyd, bd, T(0), da);
    } else {
      // dA (K x M) = B' (K x N) @ dY^T (N x M); B' is B^T when transB.
      Gemm<T>(p.trans_b, true, p.k, p.m, p.n, alpha, bd, dyd, T(0), da);
    }
  }
  if (need.size() > 1 && need[1]) {
    grads[1] = Tensor(b.dtype(), b.shape());
    T* db = grads[1].mutable_data<T>();
    if (!p.trans_b) {
      // dB (K x N) = A'^T (K x M) @ dY (M x N); A'^T is A when transA.
      Gemm<T>(!p.trans_a, false, p.k, p.n, p.m, alpha, ad, dyd, T(0), db);
    } else {
      // dB (N x K) = dY^T (N x M) @ A' (M x K); A' is A^T when transA.
      Gemm<T>(true, p.trans_a, p.n, p.k, p.m, alpha, dyd, ad, T(0), db);
    }
  }
  if (c.defined() && need.size() > 2 && need[2]) {
    Tensor dc = ReduceToShape(dy, c.shape());
    const T beta = static_cast<T>(p.beta);
    for (T& v : dc.mutable_span<T>()) v *= beta;
    grads[2] = std::move(dc);
  }
}

absl::Status Backward(const Node& node, const TensorRefs& inputs,
                      const TensorRefs& outputs, const TensorRefs& grad_outputs,
                      const OpContext* ctx, const std::vector<bool>& need_grad,
                      std::vector<Tensor>& grad_inputs) {
  OC_ASSIGN_OR_RETURN(GemmPlan plan, MakePlan(node, inputs));
  const Tensor& a = *inputs[0];
  Tensor zeros;
  const Tensor* dy = grad_outputs[0];
  if (!dy->defined()) {
    zeros = Tensor(a.dtype(), {plan.m, plan.n});
    dy = &zeros;
  } else if (dy->shape() != Shape{plan.m, plan.n} || dy->dtype() != a.dtype()) {
    return NodeError(node, absl::StrCat("output gradient ", dy->DebugString(),
                                        " does not match the output"));
  }
  OC_DISPATCH_FLOAT(a.dtype(), node, {
    GemmBackward<T>(plan, a, *inputs[1], OptionalInput(inputs, 2), *dy,
                    need_grad, grad_inputs);
  });
  return absl::OkStatus();
}

}  // namespace

void AddGemmOps(std::vector<OpDef>& ops) {
  OpDef def;
  def.op_type = "Gemm";
  def.since_version = 7;
  def.until_version = 18;
  def.forward = &Forward;
  def.backward = &Backward;
  def.differentiable_inputs = 0b111;  // A, B, C
  ops.push_back(def);
}

}  // namespace onnx_crypt::cpu
