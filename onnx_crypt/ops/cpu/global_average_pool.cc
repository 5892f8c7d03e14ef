// GlobalAveragePool (opsets 1-18; version 1 is its only one before 22),
// forward and backward.
//
// X is N x C x D1 x ... x Dk (k >= 0), S = D1 * ... * Dk, Y is N x C x 1...1:
//   Y[n, c] = (1 / S) * sum_i X[n, c, i],   dX[n, c, i] = dY[n, c] / S
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/parallel.h"
#include "onnx_crypt/ops/cpu/util.h"

namespace onnx_crypt::cpu {

namespace {

absl::Status CheckInput(const Node& node, const Tensor& x) {
  if (x.rank() < 2) {
    return NodeError(node, absl::StrCat("input ", ShapeToString(x.shape()),
                                        " must be N x C x spatial dims"));
  }
  return absl::OkStatus();
}

Shape OutputShape(const Shape& x_shape) {
  Shape shape = x_shape;
  for (size_t i = 2; i < shape.size(); ++i) shape[i] = 1;
  return shape;
}

template <typename T>
void GlobalAveragePoolForward(const Tensor& x, Tensor& y) {
  const int64_t planes = x.dim(0) * x.dim(1);
  const int64_t size = planes == 0 ? 0 : x.numel() / planes;
  const T* xd = x.data<T>();
  T* yd = y.mutable_data<T>();
  // Planes are independent (each summed in order by one thread).
  ParallelFor(planes, GrainFor(size), [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const T* plane = xd + p * size;
      T sum = T(0);
      for (int64_t i = 0; i < size; ++i) sum += plane[i];
      yd[p] = size > 0 ? sum / static_cast<T>(size) : T(0);
    }
  });
}

template <typename T>
void GlobalAveragePoolBackward(const Tensor& dy, Tensor& dx) {
  const int64_t planes = dy.numel();
  const int64_t size = planes == 0 ? 0 : dx.numel() / planes;
  const T* g = dy.data<T>();
  T* out = dx.mutable_data<T>();
  for (int64_t p = 0; p < planes; ++p) {
    const T share = g[p] / static_cast<T>(size);
    T* plane = out + p * size;
    for (int64_t i = 0; i < size; ++i) plane[i] = share;
  }
}

absl::Status Forward(const Node& node, const TensorRefs& inputs,
                     std::vector<Tensor>& outputs,
                     std::unique_ptr<OpContext>* ctx) {
  if (inputs.empty()) return NodeError(node, "expects input X");
  const Tensor& x = *inputs[0];
  OC_RETURN_IF_ERROR(CheckInput(node, x));
  Tensor y(x.dtype(), OutputShape(x.shape()));
  OC_DISPATCH_FLOAT(x.dtype(), node, { GlobalAveragePoolForward<T>(x, y); });
  outputs[0] = std::move(y);
  return absl::OkStatus();
}

absl::Status Backward(const Node& node, const TensorRefs& inputs,
                      const TensorRefs& outputs, const TensorRefs& grad_outputs,
                      const OpContext* ctx, const std::vector<bool>& need_grad,
                      std::vector<Tensor>& grad_inputs) {
  if (!need_grad[0]) return absl::OkStatus();
  const Tensor& x = *inputs[0];
  OC_RETURN_IF_ERROR(CheckInput(node, x));
  grad_inputs[0] = Tensor(x.dtype(), x.shape());
  const Tensor* dy = grad_outputs[0];
  if (!dy->defined()) return absl::OkStatus();
  if (dy->shape() != OutputShape(x.shape()) || dy->dtype() != x.dtype()) {
    return NodeError(node, absl::StrCat("output gradient ", dy->DebugString(),
                                        " does not match the output"));
  }
  OC_DISPATCH_FLOAT(x.dtype(), node,
                    { GlobalAveragePoolBackward<T>(*dy, grad_inputs[0]); });
  return absl::OkStatus();
}

}  // namespace

void AddGlobalAveragePoolOps(std::vector<OpDef>& ops) {
  OpDef def;
  def.op_type = "GlobalAveragePool";
  def.since_version = 1;
  def.until_version = 18;
  def.forward = &Forward;
  def.backward = &Backward;
  def.differentiable_inputs = 0b1;  // X
  ops.push_back(def);
}

}  // namespace onnx_crypt::cpu
