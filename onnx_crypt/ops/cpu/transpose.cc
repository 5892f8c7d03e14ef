// Transpose (opset 1+, any element type): y[i_0, ..., i_{r-1}] = x[j] with
// j[perm[d]] = i_d, so y.shape[d] = x.shape[perm[d]]; `perm` defaults to
// reversing the axes. dx = transpose(dy, inv) with inv[perm[d]] = d. Elements
// are copied as bytes by a plain strided index loop.
#include <cstring>

#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/op_helpers.h"

namespace onnx_crypt::cpu {
namespace {

absl::StatusOr<std::vector<int64_t>> ReadPerm(const Node& node, int64_t rank) {
  std::vector<int64_t> perm(static_cast<size_t>(rank));
  for (int64_t d = 0; d < rank; ++d) perm[d] = rank - 1 - d;
  if (node.HasAttr("perm")) perm = node.GetInts("perm", {});
  if (static_cast<int64_t>(perm.size()) != rank) {
    return NodeError(node, absl::StrCat("perm has ", perm.size(),
                                        " entries for rank ", rank));
  }
  std::vector<bool> seen(static_cast<size_t>(rank), false);
  for (int64_t p : perm) {
    if (p < 0 || p >= rank || seen[p]) {
      return NodeError(
          node, absl::StrCat("perm is not a permutation of 0..", rank - 1));
    }
    seen[p] = true;
  }
  return perm;
}

Tensor TransposeBytes(const Tensor& x, const std::vector<int64_t>& perm) {
  const int64_t rank = x.rank();
  Shape out_shape(static_cast<size_t>(rank));
  for (int64_t d = 0; d < rank; ++d) out_shape[d] = x.dim(perm[d]);
  Tensor y(x.dtype(), out_shape);
  const std::vector<int64_t> in_strides = RowMajorStrides(x.shape());
  // src_strides[d]: how far the source moves when output index d advances by
  // one.
  std::vector<int64_t> src_strides(static_cast<size_t>(rank));
  for (int64_t d = 0; d < rank; ++d) src_strides[d] = in_strides[perm[d]];
  const size_t esize = DTypeSize(x.dtype());
  std::vector<int64_t> index(static_cast<size_t>(rank), 0);
  int64_t src = 0;
  for (int64_t o = 0; o < y.numel(); ++o) {
    std::memcpy(y.mutable_raw() + o * esize, x.raw() + src * esize, esize);
    // Advance the output multi-index (row-major) and the source offset with it.
    for (int64_t d = rank - 1; d >= 0; --d) {
      ++index[d];
      src += src_strides[d];
      if (index[d] < out_shape[d]) break;
      src -= index[d] * src_strides[d];
      index[d] = 0;
    }
  }
  return y;
}

absl::Status TransposeForward(const Node& node, const TensorRefs& inputs,
                              std::vector<Tensor>& outputs,
                              std::unique_ptr<OpContext>* ctx) {
  OC_RETURN_IF_ERROR(RequireInput(node, inputs, 0));
  OC_ASSIGN_OR_RETURN(const std::vector<int64_t> perm,
                      ReadPerm(node, inputs[0]->rank()));
  outputs[0] = TransposeBytes(*inputs[0], perm);
  return absl::OkStatus();
}

absl::Status TransposeBackward(const Node& node, const TensorRefs& inputs,
                               const TensorRefs& outputs,
                               const TensorRefs& grad_outputs,
                               const OpContext* ctx,
                               const std::vector<bool>& need_grad,
                               std::vector<Tensor>& grad_inputs) {
  if (need_grad.empty() || !need_grad[0]) return absl::OkStatus();
  const Tensor& x = *inputs[0];
  OC_ASSIGN_OR_RETURN(const std::vector<int64_t> perm,
                      ReadPerm(node, x.rank()));
  const Tensor dy = GradOrZeros(grad_outputs[0], *outputs[0]);
  std::vector<int64_t> inverse(perm.size());
  for (size_t d = 0; d < perm.size(); ++d)
    inverse[perm[d]] = static_cast<int64_t>(d);
  grad_inputs[0] = TransposeBytes(dy, inverse);
  return absl::OkStatus();
}

}  // namespace

void AddTransposeOps(std::vector<OpDef>& ops) {
  OpDef def;
  def.op_type = "Transpose";
  def.since_version = 1;
  def.forward = TransposeForward;
  def.backward = TransposeBackward;
  def.differentiable_inputs = 0b1;
  ops.push_back(def);
}

}  // namespace onnx_crypt::cpu
