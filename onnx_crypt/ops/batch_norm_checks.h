// BatchNormalization's node and shape checks, shared by every backend's kernel
// (inference form only):
//  - five inputs X, scale, B, input_mean, input_var;
//  - not spatial = 0 (opsets 7-8), not training_mode = 1 (opsets 14+), none of
//    the optional training outputs: Unimplemented naming the node;
//  - X of rank >= 2 (N x C x D1 x ...), each parameter float32/float64 with C
//    elements: InvalidArgument naming the node and the input.
#ifndef ONNX_CRYPT_OPS_BATCH_NORM_CHECKS_H_
#define ONNX_CRYPT_OPS_BATCH_NORM_CHECKS_H_

#include <array>
#include <cstdint>

#include "absl/status/statusor.h"
#include "onnx_crypt/ir/graph.h"
#include "onnx_crypt/ir/tensor.h"

namespace onnx_crypt {

struct BatchNormGeometry {
  int64_t batch = 0, channels = 0;
  int64_t inner = 0;  // product of the dims after C
};

// The type and shape of one input, whichever backend holds it.
struct InputType {
  DType dtype = DType::kUndefined;  // kUndefined: absent
  Shape shape;
};

// `inputs` has node.inputs.size() entries.
absl::StatusOr<BatchNormGeometry> CheckBatchNorm(
    const Node& node, const std::vector<InputType>& inputs);

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_OPS_BATCH_NORM_CHECKS_H_
