// OpDef: the one declaration of an ONNX operator (domain, type, opset range,
// which inputs are differentiable) with its reference implementation on the
// CPU, forward and backward. Backends attach their own kernels to these
// declarations (the CUDA ones in engine/cuda/cuda_ops.h); shape and attribute
// checks that every backend runs live beside the declaration (ops/*.h), not
// in each kernel.
//
// Contract for implementers (every file under ops/cpu/):
//  - forward(node, inputs, outputs, ctx): `inputs` has one entry per node
//    input; an absent optional input is a pointer to an undefined Tensor
//    (never nullptr). Fill `outputs` (already sized to node.outputs.size())
//    with defined tensors for every non-empty output name. Store anything
//    backward needs (argmax indices, say) in *ctx; ctx may be left null.
//  - backward(node, inputs, outputs, grad_outputs, ctx, need_grad,
//    grad_inputs): grad_outputs[i] is dL/d outputs[i], undefined when no
//    gradient flows into that output. Fill grad_inputs[j] (sized to
//    inputs.size()) for each j where need_grad[j] is true and input j is
//    differentiable; leave the others undefined. Gradients have the input's
//    dtype and shape (summed back over broadcast dimensions).
//  - Errors are absl::Status values naming the node (node.Describe()); no
//    exceptions, no abort.
//  - Floating-point math supports float32 and float64 wherever the ONNX spec
//    allows both (the finite-difference tests run in float64).
#ifndef ONNX_CRYPT_OPS_OP_H_
#define ONNX_CRYPT_OPS_OP_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "onnx_crypt/ir/graph.h"
#include "onnx_crypt/ir/tensor.h"

namespace onnx_crypt {

// Whatever a forward pass keeps for its backward pass.
struct OpContext {
  virtual ~OpContext() = default;
};

using TensorRefs = std::vector<const Tensor*>;

using ForwardFn = absl::Status (*)(const Node& node, const TensorRefs& inputs,
                                   std::vector<Tensor>& outputs,
                                   std::unique_ptr<OpContext>* ctx);
using BackwardFn = absl::Status (*)(const Node& node, const TensorRefs& inputs,
                                    const TensorRefs& outputs,
                                    const TensorRefs& grad_outputs,
                                    const OpContext* ctx,
                                    const std::vector<bool>& need_grad,
                                    std::vector<Tensor>& grad_inputs);

struct OpDef {
  std::string domain;  // "" = default ONNX domain
  std::string op_type;
  int since_version = 1;     // first opset this implementation handles
  int until_version = 1000;  // last opset (inclusive) it handles
  ForwardFn forward = nullptr;
  // nullptr when the op has no differentiable input (Shape, Constant, ...).
  BackwardFn backward = nullptr;
  // Bit j is set when input j is differentiable per the ONNX schema, so that
  // gradients flow into it. kEveryInput marks a variadic op whose inputs are
  // all differentiable, however many there are. Read it with
  // IsDifferentiable, never by shifting: inputs past the 32nd have no bit.
  static constexpr uint32_t kEveryInput = 0xFFFFFFFFu;
  uint32_t differentiable_inputs = 0;

  // Whether input j (any j >= 0) is differentiable: its bit for j < 32; for a
  // later input of a variadic op, whether every input is (kEveryInput).
  bool IsDifferentiable(size_t j) const {
    if (differentiable_inputs == kEveryInput) return true;
    return j < 32 && ((differentiable_inputs >> j) & 1u) != 0;
  }
};

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_OPS_OP_H_
