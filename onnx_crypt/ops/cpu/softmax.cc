// Softmax: y_i = exp(x_i - m) / sum_j exp(x_j - m), m = max_j x_j, over groups
// of elements; dx_i = y_i (dy_i - sum_j dy_j y_j).
//  - opset 1..12: the input is coerced to 2D [prod(d[:axis]), prod(d[axis:])]
//    (axis default 1) and each row is normalized.
//  - opset 13+: normalized along the single dimension `axis` (default -1).
#include <algorithm>
#include <cmath>

#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/elementwise.h"
#include "onnx_crypt/ops/cpu/op_helpers.h"
#include "onnx_crypt/ops/cpu/parallel.h"

namespace onnx_crypt::cpu {
namespace {

template <typename T>
void SoftmaxImpl(const SoftmaxGroups& g, const T* x, T* y) {
  if (g.n == 0) return;
  // Groups are independent: split the outer index over the kernel threads.
  ParallelFor(
      g.outer, GrainFor(4 * g.n * g.inner), [&](int64_t o0, int64_t o1) {
        for (int64_t o = o0; o < o1; ++o) {
          for (int64_t in = 0; in < g.inner; ++in) {
            const int64_t base = o * g.n * g.inner + in;
            T m = x[base];
            for (int64_t k = 1; k < g.n; ++k)
              m = std::max(m, x[base + k * g.inner]);
            T sum = 0;
            for (int64_t k = 0; k < g.n; ++k) {
              y[base + k * g.inner] = std::exp(x[base + k * g.inner] - m);
              sum += y[base + k * g.inner];
            }
            for (int64_t k = 0; k < g.n; ++k) y[base + k * g.inner] /= sum;
          }
        }
      });
}

template <typename T>
void SoftmaxGradImpl(const SoftmaxGroups& g, const T* y, const T* dy, T* dx) {
  for (int64_t o = 0; o < g.outer; ++o) {
    for (int64_t in = 0; in < g.inner; ++in) {
      const int64_t base = o * g.n * g.inner + in;
      T dot = 0;
      for (int64_t k = 0; k < g.n; ++k)
        dot += dy[base + k * g.inner] * y[base + k * g.inner];
      for (int64_t k = 0; k < g.n; ++k) {
        const int64_t i = base + k * g.inner;
        dx[i] = y[i] * (dy[i] - dot);
      }
    }
  }
}

absl::Status SoftmaxForward(const Node& node, const TensorRefs& inputs,
                            std::vector<Tensor>& outputs,
                            std::unique_ptr<OpContext>* ctx) {
  OC_RETURN_IF_ERROR(RequireInput(node, inputs, 0));
  const Tensor& x = *inputs[0];
  OC_ASSIGN_OR_RETURN(const SoftmaxGroups g,
                      SoftmaxAxisGroups(node, x.shape()));
  OC_DISPATCH_FLOAT(x.dtype(), node, {
    Tensor y(x.dtype(), x.shape());
    SoftmaxImpl<T>(g, x.data<T>(), y.mutable_data<T>());
    outputs[0] = std::move(y);
  });
  return absl::OkStatus();
}

absl::Status SoftmaxBackward(const Node& node, const TensorRefs& inputs,
                             const TensorRefs& outputs,
                             const TensorRefs& grad_outputs,
                             const OpContext* ctx,
                             const std::vector<bool>& need_grad,
                             std::vector<Tensor>& grad_inputs) {
  if (need_grad.empty() || !need_grad[0]) return absl::OkStatus();
  const Tensor& y = *outputs[0];
  const Tensor dy = GradOrZeros(grad_outputs[0], y);
  OC_ASSIGN_OR_RETURN(const SoftmaxGroups g,
                      SoftmaxAxisGroups(node, y.shape()));
  OC_DISPATCH_FLOAT(y.dtype(), node, {
    Tensor dx(y.dtype(), y.shape());
    SoftmaxGradImpl<T>(g, y.data<T>(), dy.data<T>(), dx.mutable_data<T>());
    grad_inputs[0] = std::move(dx);
  });
  return absl::OkStatus();
}

}  // namespace

void AddSoftmaxOps(std::vector<OpDef>& ops) {
  OpDef def;
  def.op_type = "Softmax";
  def.forward = SoftmaxForward;
  def.backward = SoftmaxBackward;
  def.differentiable_inputs = 0b1;
  def.since_version = 1;
  def.until_version = 12;  // coerced to 2D at `axis` (default 1)
  ops.push_back(def);
  def.since_version = 13;  // single axis (default -1)
  def.until_version = 1000;
  ops.push_back(def);
}

}  // namespace onnx_crypt::cpu
