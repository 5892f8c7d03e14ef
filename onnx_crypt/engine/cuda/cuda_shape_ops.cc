// Shape and data-movement CUDA ops, with the semantics of the CPU files of the
// same names (ops/cpu/*.cc):
//  - metadata only (the output aliases the input's device bytes): Flatten,
//    Reshape, Squeeze, Unsqueeze; their gradient is dy viewed in x's shape.
//  - host only: Shape (dimensions of a device value as int64) and Constant
//    (the CPU op; float32 results are uploaded with a host mirror).
//  - kernels: Transpose (permuted copy; dx = transpose by the inverse perm),
//    Concat (one strided 2-D copy per input; dx_k = the matching block of dy).
// Gather and Pad are in cuda_gather_pad_ops.cc.
#include <cstring>

#include "absl/strings/str_cat.h"
#include "cuda/kernels.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/engine/cuda/cuda_ops.h"
#include "onnx_crypt/ops/cpu/util.h"
#include "onnx_crypt/ops/registry.h"

namespace onnx_crypt::cuda {

namespace {

// dx = dy viewed in x's shape.
absl::Status ViewBwd(CudaContext& cx, const Node& node,
                     const DValueRefs& inputs, const DValueRefs& outputs,
                     const DValueRefs& grad_outputs, const OpContext* ctx,
                     const std::vector<bool>& need_grad,
                     std::vector<DValue>& grad_inputs) {
  if (need_grad.empty() || !need_grad[0]) return absl::OkStatus();
  const DValue& x = *inputs[0];
  OC_ASSIGN_OR_RETURN(const DValue dy,
                      GradOrZeros(cx, grad_outputs[0], x.shape));
  if (dy.numel() != x.numel()) {
    return CudaNodeError(
        node, absl::StrCat("gradient of shape ", ShapeToString(dy.shape),
                           " does not match input ", ShapeToString(x.shape)));
  }
  grad_inputs[0] = dy.Reshaped(x.shape);
  return absl::OkStatus();
}

// --- Flatten: [prod(d[:axis]), prod(d[axis:])] ---

absl::Status FlattenFwd(CudaContext& cx, const Node& node,
                        const DValueRefs& inputs, std::vector<DValue>& outputs,
                        std::unique_ptr<OpContext>* ctx) {
  OC_RETURN_IF_ERROR(RequireDeviceInput(node, inputs, 0));
  const DValue& x = *inputs[0];
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  int64_t axis = node.GetInt("axis", 1);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis > rank) {
    return CudaNodeError(node,
                         absl::StrCat("axis ", node.GetInt("axis", 1),
                                      " is out of range for rank ", rank));
  }
  int64_t rows = 1, cols = 1;
  for (int64_t d = 0; d < axis; ++d) rows *= x.shape[d];
  for (int64_t d = axis; d < rank; ++d) cols *= x.shape[d];
  outputs[0] = x.Reshaped({rows, cols});
  return absl::OkStatus();
}

// --- Reshape: -1 inferred, 0 copies the input dim (unless allowzero) ---

absl::Status ReshapeFwd(CudaContext& cx, const Node& node,
                        const DValueRefs& inputs, std::vector<DValue>& outputs,
                        std::unique_ptr<OpContext>* ctx) {
  OC_RETURN_IF_ERROR(RequireDeviceInput(node, inputs, 0));
  if (!HasInput(inputs, 1)) return CudaNodeError(node, "input 1 is missing");
  const DValue& x = *inputs[0];
  if (inputs[1]->shape.size() != 1) {
    return CudaNodeError(node, "shape input must be 1-D");
  }
  OC_ASSIGN_OR_RETURN(const std::vector<int64_t> requested,
                      ReadInts(node, *inputs[1]));
  const bool allow_zero = node.opset >= 14 && node.GetInt("allowzero", 0) != 0;
  Shape out(requested.size());
  int64_t infer_at = -1, known = 1;
  for (size_t i = 0; i < requested.size(); ++i) {
    int64_t d = requested[i];
    if (d == 0 && !allow_zero) {
      if (i >= x.shape.size()) {
        return CudaNodeError(
            node,
            absl::StrCat("shape entry ", i, " is 0 (copy) but the input ",
                         ShapeToString(x.shape), " has no such dimension"));
      }
      d = x.shape[i];
    }
    if (d == -1) {
      if (infer_at >= 0)
        return CudaNodeError(node, "shape has more than one -1");
      infer_at = static_cast<int64_t>(i);
    } else if (d < 0) {
      return CudaNodeError(node, absl::StrCat("shape entry ", i, " is ", d));
    } else if (!CheckedMul(known, d, &known)) {
      return CudaNodeError(node,
                           absl::StrCat("shape ", ShapeToString(requested),
                                        " has more than 2^63 elements"));
    }
    out[i] = d;
  }
  const int64_t numel = x.numel();
  if (infer_at >= 0) {
    if (known == 0 || numel % known != 0) {
      return CudaNodeError(node, absl::StrCat("cannot infer -1 when reshaping ",
                                              ShapeToString(x.shape), " to ",
                                              ShapeToString(requested)));
    }
    out[infer_at] = numel / known;
  }
  absl::StatusOr<int64_t> out_numel = CheckedNumElements(out);
  if (!out_numel.ok() || *out_numel != numel) {
    return CudaNodeError(
        node, absl::StrCat("cannot reshape ", ShapeToString(x.shape), " to ",
                           ShapeToString(requested)));
  }
  outputs[0] = x.Reshaped(std::move(out));
  return absl::OkStatus();
}

// --- Squeeze / Unsqueeze: axes attribute before opset 13, input after ---

absl::Status SqueezeFwd(CudaContext& cx, const Node& node,
                        const DValueRefs& inputs, std::vector<DValue>& outputs,
                        std::unique_ptr<OpContext>* ctx) {
  OC_RETURN_IF_ERROR(RequireDeviceInput(node, inputs, 0));
  const DValue& x = *inputs[0];
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  bool have_axes = false;
  std::vector<int64_t> axes;
  if (node.opset < 13) {
    have_axes = node.HasAttr("axes");
    axes = node.GetInts("axes", {});
  } else if (HasInput(inputs, 1)) {
    have_axes = true;
    OC_ASSIGN_OR_RETURN(axes, ReadInts(node, *inputs[1]));
  }
  std::vector<bool> drop(static_cast<size_t>(rank), false);
  if (!have_axes) {
    for (int64_t d = 0; d < rank; ++d) drop[d] = x.shape[d] == 1;
  }
  for (int64_t a : axes) {
    OC_ASSIGN_OR_RETURN(const int64_t d, cpu::NormalizeAxis(a, rank, node));
    if (x.shape[d] != 1) {
      return CudaNodeError(node, absl::StrCat("cannot squeeze axis ", a,
                                              " of size ", x.shape[d]));
    }
    drop[d] = true;
  }
  Shape out;
  for (int64_t d = 0; d < rank; ++d) {
    if (!drop[d]) out.push_back(x.shape[d]);
  }
  outputs[0] = x.Reshaped(std::move(out));
  return absl::OkStatus();
}

absl::Status UnsqueezeFwd(CudaContext& cx, const Node& node,
                          const DValueRefs& inputs,
                          std::vector<DValue>& outputs,
                          std::unique_ptr<OpContext>* ctx) {
  OC_RETURN_IF_ERROR(RequireDeviceInput(node, inputs, 0));
  const DValue& x = *inputs[0];
  std::vector<int64_t> axes;
  if (node.opset < 13) {
    if (!node.HasAttr("axes"))
      return CudaNodeError(node, "attribute 'axes' is required");
    axes = node.GetInts("axes", {});
  } else {
    if (!HasInput(inputs, 1)) return CudaNodeError(node, "input 1 is missing");
    OC_ASSIGN_OR_RETURN(axes, ReadInts(node, *inputs[1]));
  }
  const int64_t out_rank = static_cast<int64_t>(x.shape.size() + axes.size());
  std::vector<bool> inserted(static_cast<size_t>(out_rank), false);
  for (int64_t a : axes) {
    OC_ASSIGN_OR_RETURN(const int64_t d, cpu::NormalizeAxis(a, out_rank, node));
    if (inserted[d])
      return CudaNodeError(node, absl::StrCat("axis ", a, " is listed twice"));
    inserted[d] = true;
  }
  Shape out(static_cast<size_t>(out_rank), 1);
  size_t next = 0;
  for (int64_t d = 0; d < out_rank; ++d) {
    if (!inserted[d]) out[d] = x.shape[next++];
  }
  outputs[0] = x.Reshaped(std::move(out));
  return absl::OkStatus();
}

// --- Shape, Constant (host) ---

absl::Status ShapeFwd(CudaContext& cx, const Node& node,
                      const DValueRefs& inputs, std::vector<DValue>& outputs,
                      std::unique_ptr<OpContext>* ctx) {
  if (!HasInput(inputs, 0)) return CudaNodeError(node, "input 0 is missing");
  const Shape& dims = inputs[0]->shape;
  const int64_t rank = static_cast<int64_t>(dims.size());
  int64_t start = 0, end = rank;
  if (node.opset >= 15) {
    auto clamp = [rank](int64_t v) {
      v = v < 0 ? v + rank : v;
      return v < 0 ? int64_t{0} : (v > rank ? rank : v);
    };
    start = clamp(node.GetInt("start", 0));
    end = clamp(node.GetInt("end", rank));
  }
  std::vector<int64_t> out;
  for (int64_t d = start; d < end; ++d) out.push_back(dims[d]);
  DValue v;
  v.dtype = DType::kInt64;
  v.shape = {static_cast<int64_t>(out.size())};
  v.host = Tensor::FromVector<int64_t>(v.shape, out);
  outputs[0] = std::move(v);
  return absl::OkStatus();
}

absl::Status ConstantFwd(CudaContext& cx, const Node& node,
                         const DValueRefs& inputs, std::vector<DValue>& outputs,
                         std::unique_ptr<OpContext>* ctx) {
  return RunOnHost(cx, node, inputs, outputs);
}

// --- Transpose ---

absl::StatusOr<std::vector<int64_t>> ReadPerm(const Node& node, int64_t rank) {
  std::vector<int64_t> perm(static_cast<size_t>(rank));
  for (int64_t d = 0; d < rank; ++d) perm[d] = rank - 1 - d;
  if (node.HasAttr("perm")) perm = node.GetInts("perm", {});
  if (static_cast<int64_t>(perm.size()) != rank) {
    return CudaNodeError(node, absl::StrCat("perm has ", perm.size(),
                                            " entries for rank ", rank));
  }
  std::vector<bool> seen(static_cast<size_t>(rank), false);
  for (int64_t p : perm) {
    if (p < 0 || p >= rank || seen[p]) {
      return CudaNodeError(node, "perm is not a permutation");
    }
    seen[p] = true;
  }
  if (rank > kMaxRank) {
    return absl::UnimplementedError(
        absl::StrCat(node.Describe(), ": rank ", rank,
                     " is above the CUDA limit ", kMaxRank));
  }
  return perm;
}

absl::StatusOr<DValue> Permute(CudaContext& cx, const Node& node,
                               const DValue& x,
                               const std::vector<int64_t>& perm) {
  Shape out_shape(perm.size());
  for (size_t d = 0; d < perm.size(); ++d) out_shape[d] = x.shape[perm[d]];
  OC_ASSIGN_OR_RETURN(DValue y, cx.NewFloat(out_shape));
  OC_CUDA_RETURN_IF_ERROR(
      Transpose(x.data(), x.shape.data(), static_cast<int>(x.shape.size()),
                perm.data(), y.mutable_data(), cx.stream()),
      node.Describe(), ": Transpose");
  return y;
}

absl::Status TransposeFwd(CudaContext& cx, const Node& node,
                          const DValueRefs& inputs,
                          std::vector<DValue>& outputs,
                          std::unique_ptr<OpContext>* ctx) {
  OC_RETURN_IF_ERROR(RequireDeviceInput(node, inputs, 0));
  const DValue& x = *inputs[0];
  OC_ASSIGN_OR_RETURN(const std::vector<int64_t> perm,
                      ReadPerm(node, static_cast<int64_t>(x.shape.size())));
  OC_ASSIGN_OR_RETURN(outputs[0], Permute(cx, node, x, perm));
  return absl::OkStatus();
}

absl::Status TransposeBwd(CudaContext& cx, const Node& node,
                          const DValueRefs& inputs, const DValueRefs& outputs,
                          const DValueRefs& grad_outputs, const OpContext* ctx,
                          const std::vector<bool>& need_grad,
                          std::vector<DValue>& grad_inputs) {
  if (need_grad.empty() || !need_grad[0]) return absl::OkStatus();
  const DValue& x = *inputs[0];
  OC_ASSIGN_OR_RETURN(const std::vector<int64_t> perm,
                      ReadPerm(node, static_cast<int64_t>(x.shape.size())));
  OC_ASSIGN_OR_RETURN(const DValue dy,
                      GradOrZeros(cx, grad_outputs[0], outputs[0]->shape));
  std::vector<int64_t> inverse(perm.size());
  for (size_t d = 0; d < perm.size(); ++d)
    inverse[perm[d]] = static_cast<int64_t>(d);
  OC_ASSIGN_OR_RETURN(grad_inputs[0], Permute(cx, node, dy, inverse));
  return absl::OkStatus();
}

// --- Concat: input k is [outer, n_k * inner]; y rows hold the blocks side by
// side ---

struct ConcatLayout {
  int64_t axis = 0, outer = 1, inner = 1;
  Shape out_shape;
};

absl::StatusOr<ConcatLayout> MakeConcatLayout(const Node& node,
                                              const DValueRefs& inputs) {
  if (inputs.empty()) return CudaNodeError(node, "needs at least one input");
  for (size_t k = 0; k < inputs.size(); ++k)
    OC_RETURN_IF_ERROR(RequireDeviceInput(node, inputs, k));
  if (!node.HasAttr("axis"))
    return CudaNodeError(node, "attribute 'axis' is required");
  const Shape& first = inputs[0]->shape;
  const int64_t rank = static_cast<int64_t>(first.size());
  ConcatLayout l;
  OC_ASSIGN_OR_RETURN(l.axis,
                      cpu::NormalizeAxis(node.GetInt("axis", 0), rank, node));
  l.out_shape = first;
  l.out_shape[l.axis] = 0;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const Shape& s = inputs[k]->shape;
    bool ok = static_cast<int64_t>(s.size()) == rank;
    for (int64_t d = 0; ok && d < rank; ++d)
      ok = d == l.axis || s[d] == first[d];
    if (!ok) {
      return CudaNodeError(
          node,
          absl::StrCat("input ", k, " of shape ", ShapeToString(s),
                       " cannot be concatenated with ", ShapeToString(first)));
    }
    l.out_shape[l.axis] += s[l.axis];
  }
  for (int64_t d = 0; d < l.axis; ++d) l.outer *= first[d];
  for (int64_t d = l.axis + 1; d < rank; ++d) l.inner *= first[d];
  return l;
}

absl::Status ConcatFwd(CudaContext& cx, const Node& node,
                       const DValueRefs& inputs, std::vector<DValue>& outputs,
                       std::unique_ptr<OpContext>* ctx) {
  OC_ASSIGN_OR_RETURN(const ConcatLayout l, MakeConcatLayout(node, inputs));
  OC_ASSIGN_OR_RETURN(DValue y, cx.NewFloat(l.out_shape));
  const size_t out_row = static_cast<size_t>(l.out_shape[l.axis] * l.inner);
  size_t col = 0;
  for (const DValue* t : inputs) {
    const size_t row = static_cast<size_t>(t->shape[l.axis] * l.inner);
    if (row > 0 && l.outer > 0) {
      OC_CUDA_RETURN_IF_ERROR(
          cudaMemcpy2DAsync(y.mutable_data() + col, out_row * sizeof(float),
                            t->data(), row * sizeof(float), row * sizeof(float),
                            static_cast<size_t>(l.outer),
                            cudaMemcpyDeviceToDevice, cx.stream()),
          node.Describe(), ": cudaMemcpy2DAsync");
    }
    col += row;
  }
  outputs[0] = std::move(y);
  return absl::OkStatus();
}

absl::Status ConcatBwd(CudaContext& cx, const Node& node,
                       const DValueRefs& inputs, const DValueRefs& outputs,
                       const DValueRefs& grad_outputs, const OpContext* ctx,
                       const std::vector<bool>& need_grad,
                       std::vector<DValue>& grad_inputs) {
  OC_ASSIGN_OR_RETURN(const ConcatLayout l, MakeConcatLayout(node, inputs));
  OC_ASSIGN_OR_RETURN(const DValue dy,
                      GradOrZeros(cx, grad_outputs[0], l.out_shape));
  const size_t out_row = static_cast<size_t>(l.out_shape[l.axis] * l.inner);
  size_t col = 0;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const size_t row = static_cast<size_t>(inputs[k]->shape[l.axis] * l.inner);
    if (k < need_grad.size() && need_grad[k]) {
      OC_ASSIGN_OR_RETURN(DValue dx, cx.NewFloat(inputs[k]->shape));
      if (row > 0 && l.outer > 0) {
        OC_CUDA_RETURN_IF_ERROR(
            cudaMemcpy2DAsync(dx.mutable_data(), row * sizeof(float),
                              dy.data() + col, out_row * sizeof(float),
                              row * sizeof(float), static_cast<size_t>(l.outer),
                              cudaMemcpyDeviceToDevice, cx.stream()),
            node.Describe(), ": cudaMemcpy2DAsync");
      }
      grad_inputs[k] = std::move(dx);
    }
    col += row;
  }
  return absl::OkStatus();
}

}  // namespace

void AddCudaShapeOps(std::vector<CudaKernel>& ops) {
  ops.push_back(Def("Flatten", 1, 1000, &FlattenFwd, &ViewBwd));
  ops.push_back(Def("Reshape", 5, 1000, &ReshapeFwd, &ViewBwd));
  ops.push_back(Def("Transpose", 1, 1000, &TransposeFwd, &TransposeBwd));
  ops.push_back(Def("Concat", 4, 1000, &ConcatFwd, &ConcatBwd));
  ops.push_back(Def("Squeeze", 1, 1000, &SqueezeFwd, &ViewBwd));
  ops.push_back(Def("Unsqueeze", 1, 1000, &UnsqueezeFwd, &ViewBwd));
  ops.push_back(Def("Constant", 1, 1000, &ConstantFwd, nullptr));
  ops.push_back(Def("Shape", 1, 1000, &ShapeFwd, nullptr));
}

}  // namespace onnx_crypt::cuda
