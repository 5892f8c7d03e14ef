// The checks a loaded ONNX model passes before the IR is built (model.cc):
// libonnx's checker (through a view for models newer than libonnx 1.12) and
// the sliding-window attribute bounds libonnx's shape inference trusts.
// libonnx reports problems by throwing; its checker is wrapped here.
#ifndef ONNX_CRYPT_ONNX_MODEL_CHECKS_H_
#define ONNX_CRYPT_ONNX_MODEL_CHECKS_H_

#include <onnx/onnx_pb.h>

#include <string>

#include "absl/status/status.h"

namespace onnx_crypt {

// Runs onnx::checker on `model` (a copy whose external data is inlined: the
// checker would otherwise look for external files relative to the working
// directory), through the checker view (model_checks.cc) for newer models.
absl::Status RunChecker(const onnx::ModelProto& model);

// Refuses strides, dilations, kernel_shape, pads and group of the sliding-
// window ops (Conv, MaxPool, ...) outside the spec's range, in `graph` and its
// subgraphs, before libonnx's shape inference divides by them.
absl::Status CheckWindowAttributes(const onnx::GraphProto& graph);

// "Conv node 'name'" (or "<output y>" for an unnamed node), as Node::Describe
// words it; the opset is not known per node here.
std::string DescribeProtoNode(const onnx::NodeProto& node);

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_ONNX_MODEL_CHECKS_H_
