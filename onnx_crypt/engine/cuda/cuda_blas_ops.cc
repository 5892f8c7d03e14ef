// Gemm and MatMul through cuBLAS (float32, no TF32, atomics off), with the
// formulas of ops/cpu/gemm.cc and ops/cpu/matmul.cc.
//
// Row-major trick: cuBLAS is column-major, and a row-major M x N matrix is the
// column-major N x M matrix of its transpose, so C = op(A) op(B) (row-major) is
// computed as C^T = op(B)^T op(A)^T, i.e. cublasSgemm with the operands
// swapped: (opB, opA, N, M, K, B, ldb, A, lda, C, N).
//
// Gemm: Y = alpha A' B' + beta C (C broadcast to M x N first);
//   dA = transA ? alpha B' dY^T : alpha dY B'^T,
//   dB = transB ? alpha dY^T A' : alpha A'^T dY,  dC = beta * reduce(dY).
// MatMul (numpy semantics, 1-D operands promoted and their unit dim dropped):
//   Y[i] = A[ia(i)] B[ib(i)] over the broadcast batch; dA[ia] = sum dY[i]
//   B[ib]^T, dB[ib] = sum A[ia]^T dY[i]. One GEMM when B has one matrix and
//   A's batch is the whole batch (folded into M); one strided-batched GEMM
//   when neither operand broadcasts; otherwise a host loop of GEMMs that
//   accumulates (beta = 1) in a fixed order.
#include "absl/strings/str_cat.h"
#include "cuda/kernels.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/engine/cuda/cuda_ops.h"
#include "onnx_crypt/ops/cpu/util.h"
#include "onnx_crypt/ops/matmul_shape.h"

namespace onnx_crypt::cuda {

namespace {

absl::Status CheckInt(const Node& node, int64_t v) {
  if (v < 0 || v > INT32_MAX) {
    return absl::UnimplementedError(absl::StrCat(node.Describe(),
                                                 ": matrix dimension ", v,
                                                 " does not fit cuBLAS's int"));
  }
  return absl::OkStatus();
}

// Row-major C (m x n) = alpha op(A) op(B) + beta C, where A is stored m x k
// (k x m when trans_a) and B is stored k x n (n x k when trans_b).
absl::Status RowMajorGemm(const CudaContext& cx, const Node& node, bool trans_a,
                          bool trans_b, int64_t m, int64_t n, int64_t k,
                          float alpha, const float* a, const float* b,
                          float beta, float* c) {
  OC_RETURN_IF_ERROR(CheckInt(node, m));
  OC_RETURN_IF_ERROR(CheckInt(node, n));
  OC_RETURN_IF_ERROR(CheckInt(node, k));
  if (m == 0 || n == 0) return absl::OkStatus();
  const int lda = static_cast<int>(trans_a ? m : k);
  const int ldb = static_cast<int>(trans_b ? k : n);
  OC_CUBLAS_RETURN_IF_ERROR(
      cublasSgemm(cx.cublas(), trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                  trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, static_cast<int>(n),
                  static_cast<int>(m), static_cast<int>(k), &alpha, b,
                  std::max(1, ldb), a, std::max(1, lda), &beta, c,
                  static_cast<int>(n)),
      node.Describe(), ": cublasSgemm");
  return absl::OkStatus();
}

// ============================== Gemm ==============================

struct GemmPlan {
  bool trans_a = false, trans_b = false;
  int64_t m = 0, n = 0, k = 0;
  float alpha = 1.0f, beta = 1.0f;
};

absl::StatusOr<GemmPlan> MakeGemmPlan(const Node& node,
                                      const DValueRefs& inputs) {
  OC_RETURN_IF_ERROR(RequireDeviceInput(node, inputs, 0));
  OC_RETURN_IF_ERROR(RequireDeviceInput(node, inputs, 1));
  if (HasInput(inputs, 2))
    OC_RETURN_IF_ERROR(RequireDeviceInput(node, inputs, 2));
  const Shape& a = inputs[0]->shape;
  const Shape& b = inputs[1]->shape;
  if (a.size() != 2 || b.size() != 2) {
    return CudaNodeError(node, absl::StrCat("A ", ShapeToString(a), " and B ",
                                            ShapeToString(b), " must be 2-D"));
  }
  GemmPlan p;
  p.trans_a = node.GetInt("transA", 0) != 0;
  p.trans_b = node.GetInt("transB", 0) != 0;
  p.alpha = node.GetFloat("alpha", 1.0f);
  p.beta = node.GetFloat("beta", 1.0f);
  p.m = p.trans_a ? a[1] : a[0];
  p.k = p.trans_a ? a[0] : a[1];
  const int64_t kb = p.trans_b ? b[1] : b[0];
  p.n = p.trans_b ? b[0] : b[1];
  if (kb != p.k) {
    return CudaNodeError(
        node, absl::StrCat("inner dimensions of A ", ShapeToString(a),
                           " and B ", ShapeToString(b), " differ"));
  }
  if (HasInput(inputs, 2)) {
    const Shape y_shape = {p.m, p.n};
    absl::StatusOr<Shape> joined =
        cpu::BroadcastShapes(inputs[2]->shape, y_shape, node);
    if (!joined.ok() || *joined != y_shape) {
      return CudaNodeError(
          node,
          absl::StrCat("C ", ShapeToString(inputs[2]->shape),
                       " does not broadcast to ", ShapeToString(y_shape)));
    }
  }
  return p;
}

absl::Status GemmFwd(CudaContext& cx, const Node& node,
                     const DValueRefs& inputs, std::vector<DValue>& outputs,
                     std::unique_ptr<OpContext>* ctx) {
  OC_ASSIGN_OR_RETURN(const GemmPlan p, MakeGemmPlan(node, inputs));
  const Shape y_shape = {p.m, p.n};
  OC_ASSIGN_OR_RETURN(DValue y, cx.NewFloat(y_shape));
  const bool use_c = HasInput(inputs, 2) && p.beta != 0.0f;
  if (use_c) {
    const DValue& c = *inputs[2];
    OC_CUDA_RETURN_IF_ERROR(
        BroadcastTo(c.data(), c.shape.data(), static_cast<int>(c.shape.size()),
                    y.mutable_data(), y_shape.data(), 2, p.beta, cx.stream()),
        node.Describe(), ": BroadcastTo");
  }
  OC_RETURN_IF_ERROR(RowMajorGemm(cx, node, p.trans_a, p.trans_b, p.m, p.n, p.k,
                                  p.alpha, inputs[0]->data(), inputs[1]->data(),
                                  use_c ? 1.0f : 0.0f, y.mutable_data()));
  outputs[0] = std::move(y);
  return absl::OkStatus();
}

absl::Status GemmBwd(CudaContext& cx, const Node& node,
                     const DValueRefs& inputs, const DValueRefs& outputs,
                     const DValueRefs& grad_outputs, const OpContext* ctx,
                     const std::vector<bool>& need_grad,
                     std::vector<DValue>& grad_inputs) {
  OC_ASSIGN_OR_RETURN(const GemmPlan p, MakeGemmPlan(node, inputs));
  OC_ASSIGN_OR_RETURN(const DValue dy,
                      GradOrZeros(cx, grad_outputs[0], {p.m, p.n}));
  const float* a = inputs[0]->data();
  const float* b = inputs[1]->data();
  if (need_grad[0]) {
    OC_ASSIGN_OR_RETURN(DValue da, cx.NewFloat(inputs[0]->shape));
    if (!p.trans_a) {
      // dA (M x K) = dY (M x N) @ B'^T (N x K).
      OC_RETURN_IF_ERROR(RowMajorGemm(cx, node, false, !p.trans_b, p.m, p.k,
                                      p.n, p.alpha, dy.data(), b, 0.0f,
                                      da.mutable_data()));
    } else {
      // dA (K x M) = B' (K x N) @ dY^T (N x M).
      OC_RETURN_IF_ERROR(RowMajorGemm(cx, node, p.trans_b, true, p.k, p.m, p.n,
                                      p.alpha, b, dy.data(), 0.0f,
                                      da.mutable_data()));
    }
    grad_inputs[0] = std::move(da);
  }
  if (need_grad.size() > 1 && need_grad[1]) {
    OC_ASSIGN_OR_RETURN(DValue db, cx.NewFloat(inputs[1]->shape));
    if (!p.trans_b) {
      // dB (K x N) = A'^T (K x M) @ dY (M x N).
      OC_RETURN_IF_ERROR(RowMajorGemm(cx, node, !p.trans_a, false, p.k, p.n,
                                      p.m, p.alpha, a, dy.data(), 0.0f,
                                      db.mutable_data()));
    } else {
      // dB (N x K) = dY^T (N x M) @ A' (M x K).
      OC_RETURN_IF_ERROR(RowMajorGemm(cx, node, true, p.trans_a, p.n, p.k, p.m,
                                      p.alpha, dy.data(), a, 0.0f,
                                      db.mutable_data()));
    }
    grad_inputs[1] = std::move(db);
  }
  if (HasInput(inputs, 2) && need_grad.size() > 2 && need_grad[2]) {
    OC_ASSIGN_OR_RETURN(grad_inputs[2], ReduceTo(cx, node, dy, inputs[2]->shape,
                                                 static_cast<double>(p.beta)));
  }
  return absl::OkStatus();
}

// ============================== MatMul ==============================

using MatMulPlan = MatMulShape;

absl::StatusOr<MatMulPlan> MakeMatMulPlan(const Node& node,
                                          const DValueRefs& inputs) {
  OC_RETURN_IF_ERROR(RequireDeviceInput(node, inputs, 0));
  OC_RETURN_IF_ERROR(RequireDeviceInput(node, inputs, 1));
  return PlanMatMul(node, inputs[0]->shape, inputs[1]->shape);
}

absl::Status StridedBatched(const CudaContext& cx, const Node& node,
                            bool trans_a, bool trans_b, int64_t m, int64_t n,
                            int64_t k, const float* a, int64_t stride_a,
                            const float* b, int64_t stride_b, float beta,
                            float* c, int64_t count) {
  OC_RETURN_IF_ERROR(CheckInt(node, m));
  OC_RETURN_IF_ERROR(CheckInt(node, n));
  OC_RETURN_IF_ERROR(CheckInt(node, k));
  OC_RETURN_IF_ERROR(CheckInt(node, count));
  if (m == 0 || n == 0 || count == 0) return absl::OkStatus();
  const float alpha = 1.0f;
  const int lda = static_cast<int>(trans_a ? m : k);
  const int ldb = static_cast<int>(trans_b ? k : n);
  OC_CUBLAS_RETURN_IF_ERROR(
      cublasSgemmStridedBatched(
          cx.cublas(), trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
          trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, static_cast<int>(n),
          static_cast<int>(m), static_cast<int>(k), &alpha, b, std::max(1, ldb),
          stride_b, a, std::max(1, lda), stride_a, &beta, c,
          static_cast<int>(n), m * n, static_cast<int>(count)),
      node.Describe(), ": cublasSgemmStridedBatched");
  return absl::OkStatus();
}

absl::Status MatMulFwd(CudaContext& cx, const Node& node,
                       const DValueRefs& inputs, std::vector<DValue>& outputs,
                       std::unique_ptr<OpContext>* ctx) {
  OC_ASSIGN_OR_RETURN(const MatMulPlan p, MakeMatMulPlan(node, inputs));
  const float* a = inputs[0]->data();
  const float* b = inputs[1]->data();
  OC_ASSIGN_OR_RETURN(DValue y, cx.NewFloat(p.y_shape));
  const int64_t batch = NumElements(p.batch);
  if (p.k == 0) {
    OC_ASSIGN_OR_RETURN(y, cx.Zeros(p.y_shape));
  } else if (p.fold) {
    OC_RETURN_IF_ERROR(RowMajorGemm(cx, node, false, false, batch * p.m, p.n,
                                    p.k, 1.0f, a, b, 0.0f, y.mutable_data()));
  } else if (p.a_count == batch && p.b_count == batch) {
    OC_RETURN_IF_ERROR(StridedBatched(cx, node, false, false, p.m, p.n, p.k, a,
                                      p.m * p.k, b, p.k * p.n, 0.0f,
                                      y.mutable_data(), batch));
  } else {
    for (int64_t i = 0; i < batch; ++i) {
      const int64_t ia = cpu::BroadcastIndex(i, p.batch, p.a_strides);
      const int64_t ib = cpu::BroadcastIndex(i, p.batch, p.b_strides);
      OC_RETURN_IF_ERROR(RowMajorGemm(
          cx, node, false, false, p.m, p.n, p.k, 1.0f, a + ia * p.m * p.k,
          b + ib * p.k * p.n, 0.0f, y.mutable_data() + i * p.m * p.n));
    }
  }
  outputs[0] = std::move(y);
  return absl::OkStatus();
}

absl::Status MatMulBwd(CudaContext& cx, const Node& node,
                       const DValueRefs& inputs, const DValueRefs& outputs,
                       const DValueRefs& grad_outputs, const OpContext* ctx,
                       const std::vector<bool>& need_grad,
                       std::vector<DValue>& grad_inputs) {
  OC_ASSIGN_OR_RETURN(const MatMulPlan p, MakeMatMulPlan(node, inputs));
  const bool need_da = need_grad[0];
  const bool need_db = need_grad.size() > 1 && need_grad[1];
  OC_ASSIGN_OR_RETURN(const DValue dy,
                      GradOrZeros(cx, grad_outputs[0], p.y_shape));
  const float* a = inputs[0]->data();
  const float* b = inputs[1]->data();
  const int64_t batch = NumElements(p.batch);
  DValue da, db;
  if (need_da) {
    OC_ASSIGN_OR_RETURN(da, cx.Zeros(inputs[0]->shape));
  }
  if (need_db) {
    OC_ASSIGN_OR_RETURN(db, cx.Zeros(inputs[1]->shape));
  }
  if (p.n == 0 || p.m == 0 || p.k == 0 || batch == 0) {
    // Nothing flows: the zero gradients stand.
  } else if (p.fold) {
    if (need_da) {
      OC_RETURN_IF_ERROR(RowMajorGemm(cx, node, false, true, batch * p.m, p.k,
                                      p.n, 1.0f, dy.data(), b, 0.0f,
                                      da.mutable_data()));
    }
    if (need_db) {
      OC_RETURN_IF_ERROR(RowMajorGemm(cx, node, true, false, p.k, p.n,
                                      batch * p.m, 1.0f, a, dy.data(), 0.0f,
                                      db.mutable_data()));
    }
  } else if (p.a_count == batch && p.b_count == batch) {
    if (need_da) {
      OC_RETURN_IF_ERROR(StridedBatched(cx, node, false, true, p.m, p.k, p.n,
                                        dy.data(), p.m * p.n, b, p.k * p.n,
                                        0.0f, da.mutable_data(), batch));
    }
    if (need_db) {
      OC_RETURN_IF_ERROR(StridedBatched(cx, node, true, false, p.k, p.n, p.m, a,
                                        p.m * p.k, dy.data(), p.m * p.n, 0.0f,
                                        db.mutable_data(), batch));
    }
  } else {
    // Zero-filled gradients accumulate (beta = 1) over the batch indices that
    // share an operand, in increasing batch index.
    for (int64_t i = 0; i < batch; ++i) {
      const int64_t ia = cpu::BroadcastIndex(i, p.batch, p.a_strides);
      const int64_t ib = cpu::BroadcastIndex(i, p.batch, p.b_strides);
      const float* dyi = dy.data() + i * p.m * p.n;
      if (need_da) {
        OC_RETURN_IF_ERROR(RowMajorGemm(cx, node, false, true, p.m, p.k, p.n,
                                        1.0f, dyi, b + ib * p.k * p.n, 1.0f,
                                        da.mutable_data() + ia * p.m * p.k));
      }
      if (need_db) {
        OC_RETURN_IF_ERROR(RowMajorGemm(cx, node, true, false, p.k, p.n, p.m,
                                        1.0f, a + ia * p.m * p.k, dyi, 1.0f,
                                        db.mutable_data() + ib * p.k * p.n));
      }
    }
  }
  if (need_da) grad_inputs[0] = std::move(da);
  if (need_db) grad_inputs[1] = std::move(db);
  return absl::OkStatus();
}

}  // namespace

void AddCudaBlasOps(std::vector<CudaKernel>& ops) {
  ops.push_back(Def("Gemm", 7, 18, &GemmFwd, &GemmBwd));
  ops.push_back(Def("MatMul", 1, 18, &MatMulFwd, &MatMulBwd));
}

}  // namespace onnx_crypt::cuda
