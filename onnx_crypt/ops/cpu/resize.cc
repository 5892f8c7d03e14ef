// Resize (opsets 10, 11, 13, 18, 19; X of any element type for nearest,
// float32/float64 for linear and cubic): y samples X at mapped coordinates
// (ops/cpu/resize_common.h).
//  - 10: inputs X, scales; attribute mode (nearest, linear). Coordinates are
//    asymmetric (x / scale) and nearest truncates when upscaling, rounds up
//    when downscaling (as onnxruntime does for this version).
//  - 11, 13: inputs X, roi, scales, sizes (roi and scales optional from 13;
//    an empty tensor counts as absent); exactly one of scales and sizes.
//    Attributes coordinate_transformation_mode (half_pixel), cubic_coeff_a
//    (-0.75), exclude_outside (0), extrapolation_value (0), mode (nearest),
//    nearest_mode (round_prefer_floor).
//  - 18: attributes antialias (linear/cubic filters stretched by 1 / scale
//    when downscaling), axes (the axes scales/sizes/roi refer to) and
//    keep_aspect_ratio_policy (stretch, not_larger, not_smaller: one scale
//    for every listed axis, sizes round(scale * n)).
//  - 19: coordinate_transformation_mode half_pixel_symmetric.
// Output size with scales: floor(n * scale) per axis (roi does not enter it,
// as in the ONNX reference and onnxruntime); with sizes the scale is
// size / n. The coordinate formulas use the output length scale * n, as the
// ONNX reference does (it differs from the integer size with scales only).
// Backward: into X only (scales, sizes and roi are not differentiable).
#include <cmath>

#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/op_helpers.h"
#include "onnx_crypt/ops/cpu/resize_common.h"

namespace onnx_crypt::cpu {
namespace {

bool Given(const TensorRefs& inputs, size_t i) {
  return HasInput(inputs, i) && inputs[i]->numel() > 0;
}

absl::StatusOr<ResizeSpec> ParseResize(const Node& node,
                                       const TensorRefs& inputs) {
  OC_RETURN_IF_ERROR(RequireInput(node, inputs, 0));
  const Tensor& x = *inputs[0];
  const int64_t rank = x.rank();
  ResizeSpec spec;
  const std::string mode = node.GetString("mode", "nearest");
  if (mode == "nearest") {
    spec.mode = ResizeSpec::Mode::kNearest;
  } else if (mode == "linear") {
    spec.mode = ResizeSpec::Mode::kLinear;
  } else if (mode == "cubic" && node.opset >= 11) {
    spec.mode = ResizeSpec::Mode::kCubic;
  } else {
    return NodeError(node, absl::StrCat("mode '", mode, "' is not supported"));
  }
  std::vector<int64_t> axes;
  if (node.opset >= 18 && node.HasAttr("axes")) {
    for (int64_t a : node.GetInts("axes", {})) {
      OC_ASSIGN_OR_RETURN(const int64_t d, NormalizeAxis(a, rank, node));
      axes.push_back(d);
    }
  } else {
    for (int64_t d = 0; d < rank; ++d) axes.push_back(d);
  }
  const size_t k = axes.size();
  spec.scales.assign(static_cast<size_t>(rank), 1.0);
  spec.out_shape = x.shape();
  spec.roi_start.assign(static_cast<size_t>(rank), 0.0);
  spec.roi_end.assign(static_cast<size_t>(rank), 1.0);

  size_t scales_at = 2, sizes_at = 3;
  if (node.opset < 11) {
    spec.coordinate_mode = "asymmetric";
    spec.nearest_mode = "simple";
    scales_at = 1;
    sizes_at = 99;
    OC_RETURN_IF_ERROR(RequireInput(node, inputs, 1));
  } else {
    spec.coordinate_mode =
        node.GetString("coordinate_transformation_mode", "half_pixel");
    if (spec.coordinate_mode == "half_pixel_symmetric" && node.opset < 19) {
      return NodeError(node, "half_pixel_symmetric needs opset 19");
    }
    spec.nearest_mode = node.GetString("nearest_mode", "round_prefer_floor");
    if (spec.nearest_mode == "simple") {
      return NodeError(node, "nearest_mode 'simple' is not an ONNX value");
    }
    spec.cubic_a = node.GetFloat("cubic_coeff_a", -0.75f);
    spec.exclude_outside = node.GetInt("exclude_outside", 0) != 0;
    spec.extrapolation_value = node.GetFloat("extrapolation_value", 0.0f);
    if (node.opset >= 18) {
      spec.antialias = node.GetInt("antialias", 0) != 0;
      if (spec.antialias && spec.mode == ResizeSpec::Mode::kNearest) {
        return NodeError(node, "antialias applies to linear and cubic only");
      }
    }
    if (spec.coordinate_mode == "tf_crop_and_resize") {
      if (!Given(inputs, 1)) {
        return NodeError(node, "tf_crop_and_resize needs the roi input");
      }
      const std::vector<double> roi = inputs[1]->ToDoubleVector();
      if (roi.size() != 2 * k) {
        return NodeError(node, absl::StrCat("roi has ", roi.size(),
                                            " entries, expected ", 2 * k));
      }
      for (size_t j = 0; j < k; ++j) {
        spec.roi_start[axes[j]] = roi[j];
        spec.roi_end[axes[j]] = roi[k + j];
      }
    }
  }
  const bool has_scales = Given(inputs, scales_at);
  const bool has_sizes = sizes_at < inputs.size() && Given(inputs, sizes_at);
  if (has_scales == has_sizes) {
    return NodeError(node, "needs exactly one of scales and sizes");
  }
  spec.out_width.assign(static_cast<size_t>(rank), 0.0);
  for (int64_t d = 0; d < rank; ++d)
    spec.out_width[d] = static_cast<double>(x.dim(d));
  if (has_scales) {
    const Tensor& s = *inputs[scales_at];
    if (s.dtype() != DType::kFloat32 && s.dtype() != DType::kFloat64) {
      return NodeError(node, "scales must be float32");
    }
    const std::vector<double> scales = s.ToDoubleVector();
    if (scales.size() != k) {
      return NodeError(node, absl::StrCat("scales has ", scales.size(),
                                          " entries, expected ", k));
    }
    for (size_t j = 0; j < k; ++j) {
      const int64_t d = axes[j];
      if (!(scales[j] > 0.0) || !std::isfinite(scales[j])) {
        return NodeError(node,
                         absl::StrCat("scale ", scales[j], " is not positive"));
      }
      const double width = scales[j] * static_cast<double>(x.dim(d));
      if (width > 9.0e18) return NodeError(node, "scale is too large");
      spec.scales[d] = scales[j];
      spec.out_width[d] = width;
      spec.out_shape[d] = static_cast<int64_t>(std::floor(width));
    }
  } else {
    const Tensor& s = *inputs[sizes_at];
    if (s.dtype() != DType::kInt64) {
      return NodeError(node, "sizes must be int64");
    }
    const std::vector<int64_t> sizes = s.ToInt64Vector();
    if (sizes.size() != k) {
      return NodeError(node, absl::StrCat("sizes has ", sizes.size(),
                                          " entries, expected ", k));
    }
    for (size_t j = 0; j < k; ++j) {
      const int64_t d = axes[j];
      if (sizes[j] < 0 || (x.dim(d) == 0 && sizes[j] != 0)) {
        return NodeError(
            node, absl::StrCat("cannot resize dimension ", d, " of size ",
                               x.dim(d), " to ", sizes[j]));
      }
      spec.out_shape[d] = sizes[j];
      spec.out_width[d] = static_cast<double>(sizes[j]);
      spec.scales[d] = x.dim(d) == 0 ? 1.0
                                     : static_cast<double>(sizes[j]) /
                                           static_cast<double>(x.dim(d));
    }
    const std::string policy =
        node.opset >= 18 ? node.GetString("keep_aspect_ratio_policy", "stretch")
                         : "stretch";
    if (policy != "stretch") {
      if (policy != "not_larger" && policy != "not_smaller") {
        return NodeError(node, absl::StrCat("keep_aspect_ratio_policy '",
                                            policy, "' is not supported"));
      }
      double scale = spec.scales[axes.empty() ? 0 : axes[0]];
      for (int64_t d : axes) {
        scale = policy == "not_larger" ? std::min(scale, spec.scales[d])
                                       : std::max(scale, spec.scales[d]);
      }
      for (int64_t d : axes) {
        const double width = scale * static_cast<double>(x.dim(d));
        spec.scales[d] = scale;
        spec.out_width[d] = width;
        spec.out_shape[d] = static_cast<int64_t>(std::floor(width + 0.5));
      }
    }
  }
  return spec;
}

}  // namespace

void AddResizeOps(std::vector<OpDef>& ops) {
  OpDef def;
  def.op_type = "Resize";
  def.forward = ResizeLikeForward<ParseResize>;
  def.backward = ResizeLikeBackward<ParseResize>;
  def.differentiable_inputs = 0b1;  // X; roi, scales, sizes are not
  // One declaration per schema version (ParseResize reads node.opset).
  const int ranges[][2] = {{10, 10}, {11, 12}, {13, 17}, {18, 18}, {19, 1000}};
  for (const auto& r : ranges) {
    def.since_version = r[0];
    def.until_version = r[1];
    ops.push_back(def);
  }
}

}  // namespace onnx_crypt::cpu
