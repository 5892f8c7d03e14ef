// The one table of operators. Listed explicitly in registry.cc (no
// self-registering statics).
#ifndef ONNX_CRYPT_OPS_REGISTRY_H_
#define ONNX_CRYPT_OPS_REGISTRY_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "onnx_crypt/ops/op.h"

namespace onnx_crypt {

// Every registered OpDef, in a fixed order. Thread-safe (built once).
const std::vector<OpDef>& AllOps();

// The OpDef that handles (domain, op_type) at `opset`, or UnimplementedError
// naming the op, its opset and the node.
absl::StatusOr<const OpDef*> FindOp(const Node& node);

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_OPS_REGISTRY_H_
