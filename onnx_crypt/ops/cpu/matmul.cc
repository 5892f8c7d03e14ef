// MatMul (opsets 1-18; versions 1, 9 and 13 differ only in types), with
// numpy.matmul semantics, forward and backward through BLAS.
//
// A is [batch_a..., M, K], B is [batch_b..., K, N]; a 1-D A is read as [1, K]
// and a 1-D B as [K, 1], and that unit dimension is dropped from Y. Batch dims
// broadcast (numpy rules); for every index i of the broadcast batch:
//   Y[i] (M x N) = A[ia(i)] @ B[ib(i)]
// Backward with dY sums over the batch indices that share an operand:
//   dA[ia] = sum_{i -> ia} dY[i] @ B[ib(i)]^T
//   dB[ib] = sum_{i -> ib} A[ia(i)]^T @ dY[i]
// When B has no batch (or only unit batch dims), the batch of A folds into the
// M dimension and each product is one GEMM.
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/ops/cpu/blas.h"
#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/util.h"
#include "onnx_crypt/ops/matmul_shape.h"

namespace onnx_crypt::cpu {

namespace {

using MatMulPlan = MatMulShape;

absl::StatusOr<MatMulPlan> MakePlan(const Node& node, const Tensor& a,
                                    const Tensor& b) {
  if (a.dtype() != b.dtype())
    return NodeError(node, "A and B must have the same element type");
  return PlanMatMul(node, a.shape(), b.shape());
}

template <typename T>
void MatMulForward(const MatMulPlan& p, const Tensor& a, const Tensor& b,
                   Tensor& y) {
  y = Tensor(a.dtype(), p.y_shape);
  const T* ad = a.data<T>();
  const T* bd = b.data<T>();
  T* yd = y.mutable_data<T>();
  const int64_t batch = NumElements(p.batch);
  if (p.fold) {
    Gemm<T>(false, false, batch * p.m, p.n, p.k, T(1), ad, bd, T(0), yd);
    return;
  }
  for (int64_t i = 0; i < batch; ++i) {
    const int64_t ia = BroadcastIndex(i, p.batch, p.a_strides);
    const int64_t ib = BroadcastIndex(i, p.batch, p.b_strides);
    Gemm<T>(false, false, p.m, p.n, p.k, T(1), ad + ia * p.m * p.k,
            bd + ib * p.k * p.n, T(0), yd + i * p.m * p.n);
  }
}

absl::Status Forward(const Node& node, const TensorRefs& inputs,
                     std::vector<Tensor>& outputs,
                     std::unique_ptr<OpContext>* ctx) {
  if (inputs.size() != 2) return NodeError(node, "expects inputs A and B");
  const Tensor& a = *inputs[0];
  const Tensor& b = *inputs[1];
  OC_ASSIGN_OR_RETURN(MatMulPlan plan, MakePlan(node, a, b));
  OC_DISPATCH_FLOAT(a.dtype(), node,
                    { MatMulForward<T>(plan, a, b, outputs[0]); });
  return absl::OkStatus();
}

template <typename T>
void MatMulBackward(const MatMulPlan& p, const Tensor& a, const Tensor& b,
                    const Tensor& dy, bool need_da, bool need_db, Tensor* da,
                    Tensor* db) {
  const T* ad = a.data<T>();
  const T* bd = b.data<T>();
  const T* dyd = dy.data<T>();
  const int64_t batch = NumElements(p.batch);
  T* dad = nullptr;
  T* dbd = nullptr;
  if (need_da) {
    *da = Tensor(a.dtype(), a.shape());
    dad = da->mutable_data<T>();
  }
  if (need_db) {
    *db = Tensor(b.dtype(), b.shape());
    dbd = db->mutable_data<T>();
  }
  if (p.fold) {
    if (need_da)
      Gemm<T>(false, true, batch * p.m, p.k, p.n, T(1), dyd, bd, T(0), dad);
    if (need_db)
      Gemm<T>(true, false, p.k, p.n, batch * p.m, T(1), ad, dyd, T(0), dbd);
    return;
  }
  // The zero-filled gradients accumulate (beta = 1) over batch indices sharing
  // an operand.
  for (int64_t i = 0; i < batch; ++i) {
    const int64_t ia = BroadcastIndex(i, p.batch, p.a_strides);
    const int64_t ib = BroadcastIndex(i, p.batch, p.b_strides);
    const T* dyi = dyd + i * p.m * p.n;
    if (need_da) {
      Gemm<T>(false, true, p.m, p.k, p.n, T(1), dyi, bd + ib * p.k * p.n, T(1),
              dad + ia * p.m * p.k);
    }
    if (need_db) {
      Gemm<T>(true, false, p.k, p.n, p.m, T(1), ad + ia * p.m * p.k, dyi, T(1),
              dbd + ib * p.k * p.n);
    }
  }
}

absl::Status Backward(const Node& node, const TensorRefs& inputs,
                      const TensorRefs& outputs, const TensorRefs& grad_outputs,
                      const OpContext* ctx, const std::vector<bool>& need_grad,
                      std::vector<Tensor>& grad_inputs) {
  const Tensor& a = *inputs[0];
  const Tensor& b = *inputs[1];
  OC_ASSIGN_OR_RETURN(MatMulPlan plan, MakePlan(node, a, b));
  Tensor zeros;
  const Tensor* dy = grad_outputs[0];
  if (!dy->defined()) {
    zeros = Tensor(a.dtype(), plan.y_shape);
    dy = &zeros;
  } else if (dy->shape() != plan.y_shape || dy->dtype() != a.dtype()) {
    return NodeError(node, absl::StrCat("output gradient ", dy->DebugString(),
                                        " does not match the output"));
  }
  OC_DISPATCH_FLOAT(a.dtype(), node, {
    MatMulBackward<T>(plan, a, b, *dy, need_grad[0], need_grad[1],
                      &grad_inputs[0], &grad_inputs[1]);
  });
  return absl::OkStatus();
}

}  // namespace

void AddMatMulOps(std::vector<OpDef>& ops) {
  OpDef def;
  def.op_type = "MatMul";
  def.since_version = 1;
  def.until_version = 18;
  def.forward = &Forward;
  def.backward = &Backward;
  def.differentiable_inputs = 0b11;  // A, B
  ops.push_back(def);
}

}  // namespace onnx_crypt::cpu
