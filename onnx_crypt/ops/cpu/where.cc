// Where (9+; 16 adds bfloat16): out = cond ? x : y, with cond, x and y
// multidirectionally broadcast together. Forward for every fixed-size dtype
// (elements are copied bytewise, so int64 and 16-bit floats are exact).
// Backward (float32/float64): dx = dout where cond, else 0; dy = dout where
// !cond, else 0; each summed back over its broadcast dimensions. cond is not
// differentiable.
#include <cstring>

#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/elem_common.h"
#include "onnx_crypt/ops/cpu/op_helpers.h"

namespace onnx_crypt::cpu {
namespace {

absl::Status CheckInputs(const Node& node, const TensorRefs& inputs) {
  if (inputs.size() != 3) return NodeError(node, "expects 3 inputs");
  for (size_t i = 0; i < 3; ++i)
    OC_RETURN_IF_ERROR(RequireInput(node, inputs, i));
  if (inputs[0]->dtype() != DType::kBool) {
    return NodeError(
        node, absl::StrCat("condition has type ", DTypeName(inputs[0]->dtype()),
                           ", expected bool"));
  }
  if (inputs[1]->dtype() != inputs[2]->dtype()) {
    return NodeError(node,
                     absl::StrCat("X has type ", DTypeName(inputs[1]->dtype()),
                                  ", Y has ", DTypeName(inputs[2]->dtype())));
  }
  if (DTypeSize(inputs[1]->dtype()) == 0) {
    return NodeError(node, absl::StrCat("unsupported element type ",
                                        DTypeName(inputs[1]->dtype())));
  }
  return absl::OkStatus();
}

absl::Status WhereForward(const Node& node, const TensorRefs& inputs,
                          std::vector<Tensor>& outputs,
                          std::unique_ptr<OpContext>* ctx) {
  OC_RETURN_IF_ERROR(CheckInputs(node, inputs));
  const Tensor& c = *inputs[0];
  const Tensor& x = *inputs[1];
  const Tensor& y = *inputs[2];
  OC_ASSIGN_OR_RETURN(const Shape shape, BroadcastAll(node, inputs));
  Tensor out = Tensor::Uninitialized(x.dtype(), shape);
  const size_t elem = DTypeSize(x.dtype());
  const BroadcastReader rc(c.shape(), shape);
  const BroadcastReader rx(x.shape(), shape);
  const BroadcastReader ry(y.shape(), shape);
  const bool* pc = c.data<bool>();
  const uint8_t* px = x.raw();
  const uint8_t* py = y.raw();
  uint8_t* po = out.mutable_raw();
  for (int64_t i = 0; i < out.numel(); ++i) {
    const uint8_t* src = pc[rc(i)] ? px + rx(i) * elem : py + ry(i) * elem;
    std::memcpy(po + i * elem, src, elem);
  }
  outputs[0] = std::move(out);
  return absl::OkStatus();
}

absl::Status WhereBackward(const Node& node, const TensorRefs& inputs,
                           const TensorRefs& outputs,
                           const TensorRefs& grad_outputs, const OpContext* ctx,
                           const std::vector<bool>& need_grad,
                           std::vector<Tensor>& grad_inputs) {
  const Tensor& c = *inputs[0];
  const Tensor dout = GradOrZeros(grad_outputs[0], *outputs[0]);
  const Shape& shape = dout.shape();
  OC_DISPATCH_FLOAT(inputs[1]->dtype(), node, {
    const BroadcastReader rc(c.shape(), shape);
    const bool* pc = c.data<bool>();
    const T* pd = dout.data<T>();
    for (int j = 1; j <= 2; ++j) {
      if (j >= static_cast<int>(need_grad.size()) || !need_grad[j]) continue;
      Tensor full = Tensor::Uninitialized(dout.dtype(), shape);
      T* pf = full.mutable_data<T>();
      const bool take = j == 1;
      for (int64_t i = 0; i < full.numel(); ++i)
        pf[i] = pc[rc(i)] == take ? pd[i] : T{0};
      grad_inputs[j] = ReduceToShape(full, inputs[j]->shape());
    }
  });
  return absl::OkStatus();
}

}  // namespace

void AddWhereOps(std::vector<OpDef>& ops) {
  OpDef def;
  def.op_type = "Where";
  def.since_version = 9;
  def.forward = WhereForward;
  def.backward = WhereBackward;
  def.differentiable_inputs = 0b110;
  ops.push_back(def);
}

}  // namespace onnx_crypt::cpu
