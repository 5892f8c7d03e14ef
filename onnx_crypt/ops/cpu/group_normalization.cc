// InstanceNormalization (opsets 6-21) and GroupNormalization (18-20, 21),
// forward and backward into X, scale and bias.
//
// X is N x C x D1 x ... x Dk (rank >= 2), S = D1 * ... * Dk. The groups of
// norm_util.h are contiguous in memory:
//   InstanceNormalization: one group per (n, c) of S elements;
//     y = scale[c] * (x - mean) / sqrt(var + epsilon) + B[c].
//   GroupNormalization, num_groups G dividing C: one group per (n, g) of the
//     C/G channels g*C/G .. (g+1)*C/G - 1, (C/G) * S elements;
//     opset 18: scale and bias have G elements, one per group (y uses
//       scale[g], bias[g]);
//     opset 21: scale and bias have C elements, one per channel.
//   (Opset 21 replaced the per-group parameters; a model exported for 18 keeps
//   its meaning only at 18-20, so the two are separate declarations.)
// Statistics are in double whatever stash_type (21) names: at least as precise.
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/norm_util.h"
#include "onnx_crypt/ops/cpu/op_helpers.h"
#include "onnx_crypt/ops/cpu/util.h"

namespace onnx_crypt::cpu {

namespace {

enum class Variant { kInstance, kGroupPerGroup, kGroupPerChannel };

template <Variant kVariant>
absl::StatusOr<NormPlan> MakePlan(const Node& node, const TensorRefs& inputs) {
  for (size_t i = 0; i < 3; ++i)
    OC_RETURN_IF_ERROR(RequireInput(node, inputs, i));
  const Tensor& x = *inputs[0];
  const Tensor& scale = *inputs[1];
  const Tensor& bias = *inputs[2];
  if (scale.dtype() != x.dtype() || bias.dtype() != x.dtype()) {
    return NodeError(node, "X, scale and bias must have the same element type");
  }
  if (x.rank() < 2) {
    return NodeError(node, absl::StrCat("X ", ShapeToString(x.shape()),
                                        " must be N x C x D1 ... (rank >= 2)"));
  }
  const int64_t channels = x.dim(1);
  int64_t spatial = 1;
  for (int64_t d = 2; d < x.rank(); ++d) spatial *= x.dim(d);
  int64_t groups_per_sample = channels;
  if (kVariant != Variant::kInstance) {
    if (!node.HasAttr("num_groups")) {
      return NodeError(node, "the attribute num_groups is required");
    }
    groups_per_sample = node.GetInt("num_groups", 1);
    if (groups_per_sample < 1 || channels % groups_per_sample != 0) {
      return NodeError(node, absl::StrCat("num_groups ", groups_per_sample,
                                          " does not divide the ", channels,
                                          " channels of X"));
    }
  }
  const int64_t params =
      kVariant == Variant::kGroupPerGroup ? groups_per_sample : channels;
  if (scale.rank() != 1 || scale.numel() != params || bias.rank() != 1 ||
      bias.numel() != params) {
    return NodeError(
        node, absl::StrCat("scale ", ShapeToString(scale.shape()), " and bias ",
                           ShapeToString(bias.shape()), " must have ", params,
                           " elements"));
  }
  NormPlan p;
  const int64_t cpg = channels / groups_per_sample;
  p.groups = x.dim(0) * groups_per_sample;
  p.n = cpg * spatial;
  p.epsilon = node.GetFloat("epsilon", 1e-5f);
  AffineMap m;
  m.mode = kVariant == Variant::kGroupPerGroup ? AffineMap::Mode::kPerGroup
                                               : AffineMap::Mode::kPerChannel;
  m.per_sample = groups_per_sample;
  m.channels_per_group = cpg;
  m.spatial = spatial;
  p.scale_map = m;
  p.bias_map = m;
  return p;
}

template <Variant kVariant>
absl::Status Forward(const Node& node, const TensorRefs& inputs,
                     std::vector<Tensor>& outputs,
                     std::unique_ptr<OpContext>* ctx) {
  OC_ASSIGN_OR_RETURN(const NormPlan p, MakePlan<kVariant>(node, inputs));
  const Tensor& x = *inputs[0];
  OC_DISPATCH_FLOAT(x.dtype(), node, {
    Tensor y = Tensor::Uninitialized(x.dtype(), x.shape());
    std::vector<double> mean, inv;
    NormForward<T>(p, x.data<T>(), inputs[1]->data<T>(), inputs[2]->data<T>(),
                   y.mutable_data<T>(), &mean, &inv);
    outputs[0] = std::move(y);
  });
  return absl::OkStatus();
}

template <Variant kVariant>
absl::Status Backward(const Node& node, const TensorRefs& inputs,
                      const TensorRefs& outputs, const TensorRefs& grad_outputs,
                      const OpContext* ctx, const std::vector<bool>& need_grad,
                      std::vector<Tensor>& grad_inputs) {
  OC_ASSIGN_OR_RETURN(const NormPlan p, MakePlan<kVariant>(node, inputs));
  const Tensor& x = *inputs[0];
  const Tensor& scale = *inputs[1];
  const Tensor& bias = *inputs[2];
  const Tensor* dy = grad_outputs.empty() ? nullptr : grad_outputs[0];
  if (dy != nullptr && !dy->defined()) dy = nullptr;
  if (dy != nullptr && (dy->dtype() != x.dtype() || dy->shape() != x.shape())) {
    return NodeError(node, absl::StrCat("output gradient ", dy->DebugString(),
                                        " does not match the output"));
  }
  const bool need_dx = need_grad[0];
  const bool need_ds = need_grad.size() > 1 && need_grad[1];
  const bool need_db = need_grad.size() > 2 && need_grad[2];
  std::vector<double> dscale(static_cast<size_t>(scale.numel()), 0.0);
  std::vector<double> dbias(static_cast<size_t>(bias.numel()), 0.0);
  OC_DISPATCH_FLOAT(x.dtype(), node, {
    Tensor dx;
    if (need_dx) dx = Tensor::Uninitialized(x.dtype(), x.shape());
    NormBackward<T>(p, x.data<T>(), scale.data<T>(),
                    dy != nullptr ? dy->data<T>() : nullptr, nullptr, nullptr,
                    need_dx ? dx.mutable_data<T>() : nullptr,
                    need_ds ? &dscale : nullptr, need_db ? &dbias : nullptr);
    if (need_dx) grad_inputs[0] = std::move(dx);
  });
  if (need_ds) {
    grad_inputs[1] =
        Tensor::FromVector<double>(scale.shape(), dscale).CastTo(x.dtype());
  }
  if (need_db) {
    grad_inputs[2] =
        Tensor::FromVector<double>(bias.shape(), dbias).CastTo(x.dtype());
  }
  return absl::OkStatus();
}

template <Variant kVariant>
OpDef Def(const char* op_type, int since, int until) {
  OpDef def;
  def.op_type = op_type;
  def.since_version = since;
  def.until_version = until;
  def.forward = &Forward<kVariant>;
  def.backward = &Backward<kVariant>;
  def.differentiable_inputs = 0b111;  // X, scale, bias
  return def;
}

}  // namespace

void AddInstanceNormalizationOps(std::vector<OpDef>& ops) {
  ops.push_back(Def<Variant::kInstance>("InstanceNormalization", 6, 21));
}

void AddGroupNormalizationOps(std::vector<OpDef>& ops) {
  ops.push_back(Def<Variant::kGroupPerGroup>("GroupNormalization", 18, 20));
  ops.push_back(Def<Variant::kGroupPerChannel>("GroupNormalization", 21, 21));
}

}  // namespace onnx_crypt::cpu
