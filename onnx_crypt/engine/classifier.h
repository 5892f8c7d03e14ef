// Which graph output is the classification output, and in what shape the
// engine reads it.
//
// The engine's loss and evaluation read the graph's first output as
// [batch, classes] (engine.h). PrepareClassifierGraph makes that hold for
// models that differ from it only in form, by editing the IR graph (never the
// model file):
//  - a model with several outputs: `output` names the one to use, which is
//    moved first (the others are still computed; "" keeps the first);
//  - sequence-classification logits [batch, 1, classes]: a Flatten node
//    (axis 1, named kClassifierFlattenNode) is appended to the IR so the
//    engine reads [batch, classes]; DetectOutputKind looks through it;
//  - float16 / bfloat16 tensors are computed in float32
//    (engine/narrow_floats.h).
#ifndef ONNX_CRYPT_ENGINE_CLASSIFIER_H_
#define ONNX_CRYPT_ENGINE_CLASSIFIER_H_

#include <map>
#include <string>

#include "absl/status/status.h"
#include "onnx_crypt/ir/graph.h"

namespace onnx_crypt {

inline constexpr char kClassifierFlattenNode[] =
    "onnx_crypt/classifier_flatten";

// See above. `inferred` holds the shapes inference found (OnnxModel::
// inferred_values), used when the file declares none for the output.
// InvalidArgument when `output` names no graph output (the message lists
// them).
absl::Status PrepareClassifierGraph(
    Graph& graph, const std::string& output,
    const std::map<std::string, ValueInfo>& inferred);

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_ENGINE_CLASSIFIER_H_
