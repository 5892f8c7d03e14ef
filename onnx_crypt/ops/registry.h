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

// OK when every node of `graph` has an OpDef; else UnimplementedError listing
// every unsupported node (one per line, in graph order) after a count per op
// type, so that a user sees all that is missing at once, before any work.
absl::Status CheckAllOpsSupported(const Graph& graph);

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_OPS_REGISTRY_H_
