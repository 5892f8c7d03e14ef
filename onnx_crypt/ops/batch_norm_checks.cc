#include "onnx_crypt/ops/batch_norm_checks.h"

#include "absl/strings/str_cat.h"
#include "onnx_crypt/ops/cpu/util.h"

namespace onnx_crypt {

absl::StatusOr<BatchNormGeometry> CheckBatchNorm(
    const Node& node, const std::vector<InputType>& inputs) {
  if (inputs.size() != 5) {
    return cpu::NodeError(node,
                          "expects inputs X, scale, B, input_mean, input_var");
  }
  if (node.opset < 9 && node.GetInt("spatial", 1) != 1) {
    return absl::UnimplementedError(
        absl::StrCat(node.Describe(), ": spatial = 0 is not supported"));
  }
  if (node.GetInt("training_mode", 0) != 0) {
    return absl::UnimplementedError(absl::StrCat(
        node.Describe(),
        ": training_mode = 1 is not supported (inference form only)"));
  }
  for (size_t i = 1; i < node.outputs.size(); ++i) {
    if (!node.outputs[i].empty()) {
      return absl::UnimplementedError(absl::StrCat(
          node.Describe(), ": training output ", i, " ('", node.outputs[i],
          "') is not supported (inference form only)"));
    }
  }
  const Shape& x = inputs[0].shape;
  if (inputs[0].dtype == DType::kUndefined || x.size() < 2) {
    return cpu::NodeError(
        node, absl::StrCat("X ", ShapeToString(x), " must have rank >= 2"));
  }
  BatchNormGeometry g;
  g.batch = x[0];
  g.channels = x[1];
  g.inner = g.channels == 0 || g.batch == 0
                ? 0
                : NumElements(x) / (g.batch * g.channels);
  static const char* const kNames[] = {"X", "scale", "B", "input_mean",
                                       "input_var"};
  for (int i = 1; i < 5; ++i) {
    const InputType& t = inputs[i];
    if (t.dtype == DType::kUndefined || NumElements(t.shape) != g.channels ||
        (t.dtype != DType::kFloat32 && t.dtype != DType::kFloat64)) {
      return cpu::NodeError(
          node, absl::StrCat(kNames[i], " ", DTypeName(t.dtype),
                             ShapeToString(t.shape), " must be float with ",
                             g.channels, " elements"));
    }
  }
  return g;
}

}  // namespace onnx_crypt
