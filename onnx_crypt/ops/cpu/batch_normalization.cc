// BatchNormalization (opsets 7-18), inference form only, forward and backward.
//
// X is N x C x D1 x ... (rank >= 2); scale, B, mean, var have C elements.
// Per channel c:
//   inv_std = 1 / sqrt(var[c] + epsilon),  a[c] = scale[c] * inv_std
//   Y = a[c] * X + (B[c] - mean[c] * a[c])
// Backward (mean and var are constants here):
//   dX = a[c] * dY,  dscale[c] = sum dY * (X - mean[c]) * inv_std,
//   dB[c] = sum dY
// Training forms are rejected with an error naming the node: spatial = 0
// (opsets 7-8), training_mode = 1 (opsets 14+), and any of the optional
// training outputs (running or saved mean/var). The per-channel coefficients
// are computed in double from whatever float types the parameters have (opset
// 15 allows them to differ from X).
#include <cmath>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/ops/batch_norm_checks.h"
#include "onnx_crypt/ops/cpu/conv_fused.h"
#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/parallel.h"
#include "onnx_crypt/ops/cpu/util.h"

namespace onnx_crypt::cpu {

namespace {

struct BnParams {
  int64_t channels = 0;
  int64_t inner = 0;  // product of the dims after C
  std::vector<double> mean, inv_std, scale, shift;  // shift = B
};

absl::StatusOr<BnParams> ReadParams(const Node& node,
                                    const TensorRefs& inputs) {
  std::vector<InputType> types;
  for (const Tensor* t : inputs) types.push_back({t->dtype(), t->shape()});
  OC_ASSIGN_OR_RETURN(const BatchNormGeometry g, CheckBatchNorm(node, types));
  BnParams p;
  p.channels = g.channels;
  p.inner = g.inner;
  const double epsilon = node.GetFloat("epsilon", 1e-5f);
  p.scale = inputs[1]->ToDoubleVector();
  p.shift = inputs[2]->ToDoubleVector();
  p.mean = inputs[3]->ToDoubleVector();
  const std::vector<double> var = inputs[4]->ToDoubleVector();
  p.inv_std.resize(static_cast<size_t>(p.channels));
  for (int64_t c = 0; c < p.channels; ++c)
    p.inv_std[c] = 1.0 / std::sqrt(var[c] + epsilon);
  return p;
}

// a[c] and b[c] of the header's formula, in T.
template <typename T>
void Coefficients(const BnParams& p, std::vector<T>* ta, std::vector<T>* tb) {
  ta->resize(static_cast<size_t>(p.channels));
  tb->resize(static_cast<size_t>(p.channels));
  for (int64_t c = 0; c < p.channels; ++c) {
    const double a = p.scale[c] * p.inv_std[c];
    (*ta)[c] = static_cast<T>(a);
    (*tb)[c] = static_cast<T>(p.shift[c] - p.mean[c] * a);
  }
}

template <typename T>
void BnForward(const BnParams& p, const Tensor& x, Tensor& y) {
  const T* xd = x.data<T>();
  T* yd = y.mutable_data<T>();
  const int64_t batch = x.dim(0);
  std::vector<T> ta, tb;
  Coefficients(p, &ta, &tb);
  // In memory order (image, channel, position): one pass over X and Y, the
  // (image, channel) planes split over the kernel threads (each independent).
  ParallelFor(batch * p.channels, GrainFor(p.inner),
              [&](int64_t begin, int64_t end) {
                for (int64_t nc = begin; nc < end; ++nc) {
                  const int64_t c = nc % p.channels;
                  const int64_t off = nc * p.inner;
                  const T* __restrict xr = xd + off;
                  T* __restrict yr = yd + off;
                  const T a = ta[c], b = tb[c];
                  for (int64_t i = 0; i < p.inner; ++i) yr[i] = a * xr[i] + b;
                }
              });
}

absl::Status Forward(const Node& node, const TensorRefs& inputs,
                     std::vector<Tensor>& outputs,
                     std::unique_ptr<OpContext>* ctx) {
  OC_ASSIGN_OR_RETURN(BnParams params, ReadParams(node, inputs));
  const Tensor& x = *inputs[0];
  Tensor y = Tensor::Uninitialized(x.dtype(), x.shape());
  OC_DISPATCH_FLOAT(x.dtype(), node, { BnForward<T>(params, x, y); });
  outputs[0] = std::move(y);
  return absl::OkStatus();
}

template <typename T>
void BnBackward(const BnParams& p, const Tensor& x, const Tensor& dy,
                bool need_dx, Tensor* dx, std::vector<double>* dscale,
                std::vector<double>* dshift) {
  const T* xd = x.data<T>();
  const T* g = dy.data<T>();
  T* dxd = need_dx ? dx->mutable_data<T>() : nullptr;
  const int64_t batch = x.dim(0);
  for (int64_t c = 0; c < p.channels; ++c) {
    const T a = static_cast<T>(p.scale[c] * p.inv_std[c]);
    const T mean = static_cast<T>(p.mean[c]);
    double sum_g = 0.0, sum_gx = 0.0;
    for (int64_t n = 0; n < batch; ++n) {
      const int64_t off = (n * p.channels + c) * p.inner;
      for (int64_t i = 0; i < p.inner; ++i) {
        const T gi = g[off + i];
        if (dxd != nullptr) dxd[off + i] = a * gi;
        sum_g += gi;
        sum_gx += static_cast<double>(gi * (xd[off + i] - mean));
      }
    }
    (*dshift)[c] = sum_g;
    (*dscale)[c] = sum_gx * p.inv_std[c];
  }
}

absl::Status Backward(const Node& node, const TensorRefs& inputs,
                      const TensorRefs& outputs, const TensorRefs& grad_outputs,
                      const OpContext* ctx, const std::vector<bool>& need_grad,
                      std::vector<Tensor>& grad_inputs) {
  OC_ASSIGN_OR_RETURN(BnParams params, ReadParams(node, inputs));
  const Tensor& x = *inputs[0];
  Tensor zeros;
  const Tensor* dy = grad_outputs[0];
  if (!dy->defined()) {
    zeros = Tensor(x.dtype(), x.shape());
    dy = &zeros;
  } else if (dy->shape() != x.shape() || dy->dtype() != x.dtype()) {
    return NodeError(node, absl::StrCat("output gradient ", dy->DebugString(),
                                        " does not match the output"));
  }
  if (need_grad[0]) grad_inputs[0] = Tensor(x.dtype(), x.shape());
  std::vector<double> dscale(static_cast<size_t>(params.channels));
  std::vector<double> dshift(static_cast<size_t>(params.channels));
  OC_DISPATCH_FLOAT(x.dtype(), node, {
    BnBackward<T>(params, x, *dy, need_grad[0], &grad_inputs[0], &dscale,
                  &dshift);
  });
  if (need_grad[1]) {
    grad_inputs[1] = Tensor::FromVector<double>(inputs[1]->shape(), dscale)
                         .CastTo(inputs[1]->dtype());
  }
  if (need_grad[2]) {
    grad_inputs[2] = Tensor::FromVector<double>(inputs[2]->shape(), dshift)
                         .CastTo(inputs[2]->dtype());
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status BatchNormFloatCoefficients(const Node& node,
                                        const TensorRefs& inputs,
                                        std::vector<float>* a,
                                        std::vector<float>* b) {
  OC_ASSIGN_OR_RETURN(BnParams params, ReadParams(node, inputs));
  Coefficients(params, a, b);
  return absl::OkStatus();
}

void AddBatchNormalizationOps(std::vector<OpDef>& ops) {
  OpDef def;
  def.op_type = "BatchNormalization";
  def.since_version = 7;
  def.until_version = 18;
  def.forward = &Forward;
  def.backward = &Backward;
  def.differentiable_inputs = 0b111;  // X, scale, B
  ops.push_back(def);
}

}  // namespace onnx_crypt::cpu
