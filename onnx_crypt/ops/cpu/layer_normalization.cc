// LayerNormalization (opsets 17-21), forward and backward into X, Scale and B.
//
// X has rank r; axis (default -1) splits it into the outer dims [0, axis) and
// the normalized dims [axis, r) of D elements. Each outer index is one group
// (norm_util.h):
//   Y = (X - mean) / sqrt(var + epsilon) * Scale + B
// with the population mean and variance of the group. Scale and the optional B
// broadcast (right-aligned, unidirectionally) to X.shape[axis:]. The optional
// outputs Mean and InvStdDev have shape X.shape[:axis] + [1] * (r - axis);
// gradients flowing into them are propagated into X as well.
//
// stash_type names the precision of the statistics; here they are always
// computed in double, at least as precise as any stash_type allows, and Mean
// and InvStdDev have X's element type (as ONNX Runtime produces them).
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

// Map of the normalized positions into a parameter of shape `param` that
// broadcasts to `norm`.
absl::StatusOr<AffineMap> PositionMap(const Node& node, const char* what,
                                      const Shape& param, const Shape& norm) {
  bool ok = param.size() <= norm.size();
  for (size_t i = 0; ok && i < param.size(); ++i) {
    const int64_t d = norm[norm.size() - param.size() + i];
    ok = param[i] == d || param[i] == 1;
  }
  if (!ok) {
    return NodeError(node, absl::StrCat(what, " ", ShapeToString(param),
                                        " does not broadcast to the "
                                        "normalized shape ",
                                        ShapeToString(norm)));
  }
  AffineMap m;
  m.mode = AffineMap::Mode::kPerPosition;
  const std::vector<int64_t> strides = BroadcastStrides(param, norm);
  const int64_t d = NumElements(norm);
  m.pos.resize(static_cast<size_t>(d));
  for (int64_t j = 0; j < d; ++j) m.pos[j] = BroadcastIndex(j, norm, strides);
  return m;
}

struct LnPlan {
  NormPlan norm;
  Shape stat_shape;  // shape of Mean and InvStdDev
  bool has_bias = false;
};

absl::StatusOr<LnPlan> MakePlan(const Node& node, const TensorRefs& inputs) {
  OC_RETURN_IF_ERROR(RequireInput(node, inputs, 0));
  OC_RETURN_IF_ERROR(RequireInput(node, inputs, 1));
  const Tensor& x = *inputs[0];
  const Tensor& scale = *inputs[1];
  LnPlan p;
  p.has_bias = HasInput(inputs, 2);
  if (scale.dtype() != x.dtype() ||
      (p.has_bias && inputs[2]->dtype() != x.dtype())) {
    return NodeError(node, "X, Scale and B must have the same element type");
  }
  if (x.rank() == 0) return NodeError(node, "X must have rank >= 1");
  OC_ASSIGN_OR_RETURN(const int64_t axis,
                      NormalizeAxis(node.GetInt("axis", -1), x.rank(), node));
  const Shape norm(x.shape().begin() + axis, x.shape().end());
  OC_ASSIGN_OR_RETURN(p.norm.scale_map,
                      PositionMap(node, "Scale", scale.shape(), norm));
  if (p.has_bias) {
    OC_ASSIGN_OR_RETURN(p.norm.bias_map,
                        PositionMap(node, "B", inputs[2]->shape(), norm));
  }
  p.norm.n = NumElements(norm);
  p.norm.groups = 1;
  for (int64_t d = 0; d < axis; ++d) p.norm.groups *= x.dim(d);
  p.norm.epsilon = node.GetFloat("epsilon", 1e-5f);
  p.stat_shape = x.shape();
  for (int64_t d = axis; d < x.rank(); ++d) p.stat_shape[d] = 1;
  return p;
}

bool Wanted(const Node& node, size_t k) {
  return k < node.outputs.size() && !node.outputs[k].empty();
}

absl::Status Forward(const Node& node, const TensorRefs& inputs,
                     std::vector<Tensor>& outputs,
                     std::unique_ptr<OpContext>* ctx) {
  OC_ASSIGN_OR_RETURN(const LnPlan p, MakePlan(node, inputs));
  const Tensor& x = *inputs[0];
  OC_DISPATCH_FLOAT(x.dtype(), node, {
    Tensor y = Tensor::Uninitialized(x.dtype(), x.shape());
    std::vector<double> mean, inv;
    NormForward<T>(p.norm, x.data<T>(), inputs[1]->data<T>(),
                   p.has_bias ? inputs[2]->data<T>() : nullptr,
                   y.mutable_data<T>(), &mean, &inv);
    outputs[0] = std::move(y);
    if (Wanted(node, 1)) {
      outputs[1] =
          Tensor::FromVector<double>(p.stat_shape, mean).CastTo(x.dtype());
    }
    if (Wanted(node, 2)) {
      outputs[2] =
          Tensor::FromVector<double>(p.stat_shape, inv).CastTo(x.dtype());
    }
  });
  return absl::OkStatus();
}

const Tensor* GradOrNull(const TensorRefs& grads, size_t k, const Tensor& like,
                         const Node& node, absl::Status* status) {
  if (k >= grads.size() || grads[k] == nullptr || !grads[k]->defined())
    return nullptr;
  if (grads[k]->dtype() != like.dtype() || grads[k]->numel() != like.numel()) {
    *status =
        NodeError(node, absl::StrCat("gradient of output ", k, " ",
                                     grads[k]->DebugString(),
                                     " does not match ", like.DebugString()));
  }
  return grads[k];
}

absl::Status Backward(const Node& node, const TensorRefs& inputs,
                      const TensorRefs& outputs, const TensorRefs& grad_outputs,
                      const OpContext* ctx, const std::vector<bool>& need_grad,
                      std::vector<Tensor>& grad_inputs) {
  OC_ASSIGN_OR_RETURN(const LnPlan p, MakePlan(node, inputs));
  const Tensor& x = *inputs[0];
  const Tensor& scale = *inputs[1];
  absl::Status status;
  const Tensor* dy = GradOrNull(grad_outputs, 0, x, node, &status);
  const Tensor stat_like(x.dtype(), p.stat_shape);
  const Tensor* dmean = GradOrNull(grad_outputs, 1, stat_like, node, &status);
  const Tensor* dinv = GradOrNull(grad_outputs, 2, stat_like, node, &status);
  OC_RETURN_IF_ERROR(status);
  const bool need_dx = need_grad[0];
  const bool need_ds = need_grad.size() > 1 && need_grad[1];
  const bool need_db = p.has_bias && need_grad.size() > 2 && need_grad[2];
  std::vector<double> dscale(static_cast<size_t>(scale.numel()), 0.0);
  std::vector<double> dbias(
      static_cast<size_t>(p.has_bias ? inputs[2]->numel() : 0), 0.0);
  OC_DISPATCH_FLOAT(x.dtype(), node, {
    Tensor dx;
    if (need_dx) dx = Tensor::Uninitialized(x.dtype(), x.shape());
    NormBackward<T>(p.norm, x.data<T>(), scale.data<T>(),
                    dy != nullptr ? dy->data<T>() : nullptr,
                    dmean != nullptr ? dmean->data<T>() : nullptr,
                    dinv != nullptr ? dinv->data<T>() : nullptr,
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
        Tensor::FromVector<double>(inputs[2]->shape(), dbias).CastTo(x.dtype());
  }
  return absl::OkStatus();
}

}  // namespace

void AddLayerNormalizationOps(std::vector<OpDef>& ops) {
  OpDef def;
  def.op_type = "LayerNormalization";
  def.since_version = 17;
  def.until_version = 21;
  def.forward = &Forward;
  def.backward = &Backward;
  def.differentiable_inputs = 0b111;  // X, Scale, B
  ops.push_back(def);
}

}  // namespace onnx_crypt::cpu
