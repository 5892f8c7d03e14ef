// Upsample (opsets 7 and 9; X of any element type for nearest,
// float32/float64 for linear): y.shape[d] = floor(n_d * scales[d]), sampled at
// the asymmetric coordinates x / scale (ops/cpu/resize_common.h); nearest
// truncates the coordinate (rounds it up when a scale is below 1), as
// onnxruntime does.
//  - 7: scales is an attribute (floats); 9: scales is input 1 (float32).
// Attribute mode: nearest (default) or linear ("bilinear" is read as linear).
// Backward: into X only.
#include <cmath>

#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/op_helpers.h"
#include "onnx_crypt/ops/cpu/resize_common.h"

namespace onnx_crypt::cpu {
namespace {

absl::StatusOr<ResizeSpec> ParseUpsample(const Node& node,
                                         const TensorRefs& inputs) {
  OC_RETURN_IF_ERROR(RequireInput(node, inputs, 0));
  const Tensor& x = *inputs[0];
  ResizeSpec spec;
  const std::string mode = node.GetString("mode", "nearest");
  if (mode == "nearest") {
    spec.mode = ResizeSpec::Mode::kNearest;
  } else if (mode == "linear" || mode == "bilinear") {
    spec.mode = ResizeSpec::Mode::kLinear;
  } else {
    return NodeError(node, absl::StrCat("mode '", mode, "' is not supported"));
  }
  spec.coordinate_mode = "asymmetric";
  spec.nearest_mode = "simple";
  std::vector<double> scales;
  if (node.opset < 9) {
    if (!node.HasAttr("scales"))
      return NodeError(node, "attribute 'scales' is required");
    for (float s : node.GetFloats("scales", {})) scales.push_back(s);
  } else {
    OC_RETURN_IF_ERROR(RequireInput(node, inputs, 1));
    scales = inputs[1]->ToDoubleVector();
  }
  if (static_cast<int64_t>(scales.size()) != x.rank()) {
    return NodeError(node, absl::StrCat("scales has ", scales.size(),
                                        " entries for ", x.DebugString()));
  }
  spec.out_shape = x.shape();
  for (int64_t d = 0; d < x.rank(); ++d) {
    if (!(scales[d] > 0.0) || !std::isfinite(scales[d]) ||
        scales[d] * static_cast<double>(x.dim(d)) > 9.0e18) {
      return NodeError(node, absl::StrCat("scale ", scales[d], " is invalid"));
    }
    const double width = scales[d] * static_cast<double>(x.dim(d));
    spec.scales.push_back(scales[d]);
    spec.out_width.push_back(width);
    spec.out_shape[d] = static_cast<int64_t>(std::floor(width));
  }
  return spec;
}

}  // namespace

void AddUpsampleOps(std::vector<OpDef>& ops) {
  OpDef def;
  def.op_type = "Upsample";
  def.forward = ResizeLikeForward<ParseUpsample>;
  def.backward = ResizeLikeBackward<ParseUpsample>;
  def.differentiable_inputs = 0b1;  // X; scales is not
  def.since_version = 7;
  def.until_version = 8;  // scales attribute
  ops.push_back(def);
  def.since_version = 9;
  def.until_version = 9;  // scales input (deprecated from 10: Resize)
  ops.push_back(def);
}

}  // namespace onnx_crypt::cpu
