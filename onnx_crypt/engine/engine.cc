// What every backend shares outside the executor's template: the output kind,
// feed checks and the initializer write checks.
#include "onnx_crypt/engine/engine.h"

#include "absl/strings/str_cat.h"
#include "onnx_crypt/engine/classifier.h"
#include "onnx_crypt/engine/executor.h"
#include "onnx_crypt/engine/planned_engine.h"

namespace onnx_crypt {

OutputKind DetectOutputKind(const Graph& graph) {
  if (graph.outputs.empty()) return OutputKind::kLogits;
  int producer = graph.FindProducer(graph.outputs[0].name);
  // Through the Flatten of [N, 1, C] outputs (engine/classifier.h).
  if (producer >= 0 && graph.nodes[producer].name == kClassifierFlattenNode)
    producer = graph.FindProducer(graph.nodes[producer].inputs[0]);
  if (producer < 0) return OutputKind::kLogits;
  const std::string& op = graph.nodes[producer].op_type;
  if (op == "Softmax") return OutputKind::kProbabilities;
  if (op == "LogSoftmax") return OutputKind::kLogProbabilities;
  return OutputKind::kLogits;
}

absl::Status CheckFeed(const ValueInfo& info, const Tensor& t) {
  if (info.dtype != DType::kUndefined && t.dtype() != info.dtype) {
    return absl::InvalidArgumentError(
        absl::StrCat("input '", info.name, "' expects ", DTypeName(info.dtype),
                     ", got ", t.DebugString()));
  }
  if (info.has_shape) {
    bool ok = static_cast<int64_t>(info.dims.size()) == t.rank();
    for (size_t i = 0; ok && i < info.dims.size(); ++i) {
      ok = info.dims[i] < 0 || info.dims[i] == t.dim(i);
    }
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          "input '", info.name, "' expects shape ", ShapeToString(info.dims),
          ", got ", ShapeToString(t.shape())));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckInitializerWrite(const std::string& name, const Tensor& t,
                                   absl::Span<const int64_t> indices,
                                   const Tensor& values) {
  if (values.dtype() != t.dtype() ||
      values.numel() != static_cast<int64_t>(indices.size())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "initializer '", name, "' is ", t.DebugString(), "; got values ",
        values.DebugString(), " for ", indices.size(), " indices"));
  }
  for (int64_t index : indices) {
    if (index < 0 || index >= t.numel()) {
      return absl::OutOfRangeError(
          absl::StrCat("index ", index, " is outside initializer '", name,
                       "' of ", t.numel(), " elements"));
    }
  }
  return absl::OkStatus();
}

}  // namespace onnx_crypt
