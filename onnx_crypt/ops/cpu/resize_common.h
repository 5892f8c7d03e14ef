// Separable interpolation shared by Resize and Upsample (ops/cpu/resize.cc,
// ops/cpu/upsample.cc).
//
// Every output coordinate x of axis d maps to an input coordinate x_orig
// (coordinate_transformation_mode), and y is the tensor product of per-axis
// 1-D filters: along each axis an output index reads a few input indices with
// weights (nearest: one tap; linear: two; cubic: four; antialiased linear and
// cubic: a kernel stretched by 1 / scale when downscaling). Input indices
// outside [0, n) are clamped to the edge, as the ONNX reference pads the data
// in "edge" mode. In tf_crop_and_resize mode an output position whose x_orig
// falls outside [0, n - 1] on some axis takes extrapolation_value instead.
// The forward pass applies the filters axis by axis; the backward pass applies
// their transposes in reverse order (gradients into X only).
#ifndef ONNX_CRYPT_OPS_CPU_RESIZE_COMMON_H_
#define ONNX_CRYPT_OPS_CPU_RESIZE_COMMON_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/ir/graph.h"
#include "onnx_crypt/ir/tensor.h"
#include "onnx_crypt/ops/cpu/op_helpers.h"
#include "onnx_crypt/ops/op.h"

namespace onnx_crypt::cpu {

struct ResizeSpec {
  enum class Mode { kNearest, kLinear, kCubic };
  Mode mode = Mode::kNearest;
  // half_pixel, half_pixel_symmetric, pytorch_half_pixel, align_corners,
  // asymmetric, tf_half_pixel_for_nn, tf_crop_and_resize.
  std::string coordinate_mode = "half_pixel";
  // round_prefer_floor, round_prefer_ceil, floor, ceil, or "simple" (opset <
  // 11: truncate when upscaling, ceil when downscaling).
  std::string nearest_mode = "round_prefer_floor";
  double cubic_a = -0.75;
  bool exclude_outside = false;
  bool antialias = false;
  double extrapolation_value = 0.0;
  // Per dimension of X: the scale and the output size; the output "width"
  // used by the coordinate formulas (the size when given, else scale * n).
  std::vector<double> scales;
  Shape out_shape;
  std::vector<double> out_width;
  std::vector<double> roi_start, roi_end;  // tf_crop_and_resize only
};

struct ResizeAxis {
  int64_t in = 0, out = 0;
  int taps = 1;
  std::vector<int64_t> index;  // out * taps input indices
  std::vector<double> weight;  // out * taps weights
  std::vector<bool> outside;   // per output index (tf_crop_and_resize)
  bool identity = false;       // y = x along this axis
};

struct ResizePlan {
  std::vector<ResizeAxis> axes;  // one per dimension of X
  Shape out_shape;
  bool any_outside = false;
  double extrapolation_value = 0.0;
  bool nearest = false;  // one tap of weight 1 everywhere
};

absl::StatusOr<ResizePlan> MakeResizePlan(const Node& node, const Shape& in,
                                          const ResizeSpec& spec);

// y = resize(x). Nearest works on every element type, linear and cubic on
// float32/float64.
absl::StatusOr<Tensor> ResizeApply(const Node& node, const Tensor& x,
                                   const ResizePlan& plan);
// dx for dy (float32/float64, shape plan.out_shape).
absl::StatusOr<Tensor> ResizeGradient(const Node& node, const Tensor& x,
                                      const ResizePlan& plan, const Tensor& dy);

// The forward and backward of an op that parses its node into a ResizeSpec
// (Resize and Upsample differ only in that): the plan from X's shape, then
// ResizeApply / ResizeGradient (into X only).
using ParseResizeFn = absl::StatusOr<ResizeSpec> (*)(const Node& node,
                                                     const TensorRefs& inputs);
template <ParseResizeFn Parse>
absl::Status ResizeLikeForward(const Node& node, const TensorRefs& inputs,
                               std::vector<Tensor>& outputs,
                               std::unique_ptr<OpContext>* ctx) {
  OC_ASSIGN_OR_RETURN(const ResizeSpec spec, Parse(node, inputs));
  OC_ASSIGN_OR_RETURN(const ResizePlan plan,
                      MakeResizePlan(node, inputs[0]->shape(), spec));
  OC_ASSIGN_OR_RETURN(outputs[0], ResizeApply(node, *inputs[0], plan));
  return absl::OkStatus();
}
template <ParseResizeFn Parse>
absl::Status ResizeLikeBackward(const Node& node, const TensorRefs& inputs,
                                const TensorRefs& outputs,
                                const TensorRefs& grad_outputs,
                                const OpContext* ctx,
                                const std::vector<bool>& need_grad,
                                std::vector<Tensor>& grad_inputs) {
  if (need_grad.empty() || !need_grad[0]) return absl::OkStatus();
  OC_ASSIGN_OR_RETURN(const ResizeSpec spec, Parse(node, inputs));
  OC_ASSIGN_OR_RETURN(const ResizePlan plan,
                      MakeResizePlan(node, inputs[0]->shape(), spec));
  const Tensor dy = GradOrZeros(grad_outputs[0], *outputs[0]);
  OC_ASSIGN_OR_RETURN(grad_inputs[0],
                      ResizeGradient(node, *inputs[0], plan, dy));
  return absl::OkStatus();
}

}  // namespace onnx_crypt::cpu

#endif  // ONNX_CRYPT_OPS_CPU_RESIZE_COMMON_H_
