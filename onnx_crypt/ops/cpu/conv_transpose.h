// ConvTranspose's direct implementation (scatter loops over input positions and
// kernel taps, conv_transpose.cc), the oracle of the GEMM kernel that the
// registry runs. For tests; same contract as the OpDef forward and backward
// (errors name the node, grad_inputs sized to inputs.size()).
#ifndef ONNX_CRYPT_OPS_CPU_CONV_TRANSPOSE_H_
#define ONNX_CRYPT_OPS_CPU_CONV_TRANSPOSE_H_

#include <vector>

#include "absl/status/status.h"
#include "onnx_crypt/ir/graph.h"
#include "onnx_crypt/ir/tensor.h"
#include "onnx_crypt/ops/op.h"

namespace onnx_crypt::cpu {

absl::Status ConvTransposeDirectForward(const Node& node,
                                        const TensorRefs& inputs,
                                        std::vector<Tensor>& outputs);
absl::Status ConvTransposeDirectBackward(const Node& node,
                                         const TensorRefs& inputs,
                                         const TensorRefs& grad_outputs,
                                         const std::vector<bool>& need_grad,
                                         std::vector<Tensor>& grad_inputs);

}  // namespace onnx_crypt::cpu

#endif  // ONNX_CRYPT_OPS_CPU_CONV_TRANSPOSE_H_
