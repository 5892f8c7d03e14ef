// CudaEngine: the executor (engine/executor.h) over the CUDA backend, on one
// NVIDIA GPU: cuDNN for convolution, pooling and softmax, cuBLAS for GEMMs,
// the kernels of cuda/ for the rest, all in float32.
//
// Where a step runs is the plan's decision (engine/plan.h):
//  - its CUDA kernel (cuda_ops.h), for ops the CUDA kernel table has;
//  - the host, with the CPU reference kernel, when all its inputs are host
//    values (int64 shape arithmetic such as Shape -> Gather -> Concat,
//    Constant);
//  - the CPU reference kernel as a fallback, with explicit copies in and out,
//    for an op with no CUDA kernel (forward, and backward from the CPU op's
//    own context). `onnx-crypt info --device cuda` lists these steps.
// Only a node with no op declaration at all is refused.
//
// Numbers agree with CpuEngine (the reference) within float32 rounding; every
// kernel and library call is deterministic, so repeated calls with the same
// inputs give bit-identical outputs and gradients on the same GPU model.
//
// Ownership and lifetime: the engine owns its Graph, its stream, its cuBLAS and
// cuDNN handles and a caching device-memory pool. float32 initializers are
// uploaded once by Create and stay on the device (SetInitializerValues edits
// that copy and the host copy in place); other initializers (int64 shapes,
// axes, indices) stay on the host. Device memory returns to the pool and is
// reused by later calls.
//
// Errors: FailedPrecondition when no CUDA device is present; Unimplemented
// naming the node for a node with no op declaration and for float64 graphs;
// Internal for CUDA, cuDNN and cuBLAS failures (naming the call and the node).
// Not thread-safe: one caller at a time.
#ifndef ONNX_CRYPT_ENGINE_CUDA_CUDA_ENGINE_H_
#define ONNX_CRYPT_ENGINE_CUDA_CUDA_ENGINE_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "onnx_crypt/engine/cuda/cuda_ops.h"
#include "onnx_crypt/engine/cuda/cuda_resources.h"
#include "onnx_crypt/engine/planned_engine.h"

namespace onnx_crypt {

// Number of usable CUDA devices; 0 when there is none or the driver fails
// (never aborts).
int CudaDeviceCount();

// The planner's view of the CUDA backend: its kernel table. Needs no device,
// so plans (and `info --device cuda`) can be made on any machine.
BackendTraits CudaBackendTraits();

// The CUDA backend (executor.h, planned_engine.h): values are cuda::DValue.
class CudaBackend {
 public:
  using Value = cuda::DValue;
  // Nothing to set per call (non-trivial so that scopes are not "unused").
  struct CallScope {
    CallScope() {}
    ~CallScope() {}
  };

  static absl::StatusOr<std::unique_ptr<CudaBackend>> Create();
  ~CudaBackend();

  static bool Defined(const cuda::DValue& v) { return v.defined(); }
  absl::StatusOr<std::vector<const cuda::DValue*>> BindInitializers(
      const ExecutionPlan& plan);
  absl::StatusOr<const cuda::DValue*> BindFeed(const ValueInfo& info,
                                               const Tensor& t,
                                               cuda::DValue& storage);
  absl::Status Forward(const PlanStep& step, const cuda::DValueRefs& inputs,
                       std::vector<cuda::DValue>& outputs,
                       std::unique_ptr<OpContext>* ctx);
  absl::Status Backward(const PlanStep& step, const cuda::DValueRefs& inputs,
                        const cuda::DValueRefs& outputs,
                        const cuda::DValueRefs& grad_outputs,
                        const OpContext* ctx, const std::vector<bool>& need,
                        std::vector<cuda::DValue>& grad_inputs);
  absl::Status Accumulate(cuda::DValue& acc, cuda::DValue g,
                          const std::string& value);
  absl::StatusOr<double> LossGradient(const cuda::DValue& output,
                                      absl::Span<const int64_t> labels,
                                      OutputKind kind, cuda::DValue* grad);
  absl::Status WriteInitializer(int id, const Tensor& host,
                                absl::Span<const int64_t> indices,
                                const Tensor& values);
  absl::StatusOr<Tensor> ToHost(const cuda::DValue& v) {
    return cx_->ToHost(v);
  }
  absl::StatusOr<Tensor> TakeHost(cuda::DValue&& v) { return cx_->ToHost(v); }
  absl::Status Finish(const char* what);

  cuda::CudaContext& context() { return *cx_; }
  const cuda::DValue& initializer(int id) const { return initializers_[id]; }
  size_t PeakDeviceBytes() const { return pool_->peak_bytes(); }
  size_t DeviceBytesHeld() const { return pool_->held_bytes(); }

 private:
  CudaBackend() = default;
  // The CPU reference kernel on host copies (host steps and fallbacks).
  absl::Status ForwardOnHost(const PlanStep& step,
                             const cuda::DValueRefs& inputs,
                             std::vector<cuda::DValue>& outputs,
                             std::unique_ptr<OpContext>* ctx);

  std::shared_ptr<cuda::DevicePool> pool_;
  cuda::Stream stream_;
  cuda::CublasHandle cublas_;
  cuda::CudnnHandle cudnn_;
  std::unique_ptr<cuda::CudaContext> cx_;
  std::vector<cuda::DValue> initializers_;  // per value id (undefined if none)
};

class CudaEngine : public PlannedEngine<CudaBackend> {
 public:
  // Fails with FailedPrecondition without a device, with Unimplemented (naming
  // op type, opset and node) when a node has no op declaration, and for
  // float64 initializers.
  static absl::StatusOr<std::unique_ptr<CudaEngine>> Create(Graph graph);

  // LossAndGradients with the gradients left on the device:
  // (*grads)[i] is dL/d params[i] (undefined when no gradient reaches it). The
  // result holds the loss and the first output. For device-side consumers of
  // gradients such as the lock's ranking. `keep_slot` as for
  // LossAndGradients.
  absl::StatusOr<LossResult> LossAndDeviceGradients(
      const Feeds& feeds, absl::Span<const int64_t> labels,
      const std::vector<std::string>& params, std::vector<cuda::DValue>* grads,
      int keep_slot = kNoSlot) {
    return BackendGradients(feeds, labels, params, grads, keep_slot);
  }
  // The device copy of initializer `name` (NotFound when there is none).
  absl::StatusOr<const cuda::DValue*> DeviceInitializer(
      const std::string& name);
  cuda::CudaContext& context() { return backend().context(); }

  // The most device memory this engine has held at once (bytes obtained from
  // cudaMalloc, including the pool's cache and cuDNN workspace; cuBLAS's and
  // cuDNN's internal allocations are not counted).
  size_t PeakDeviceBytes() const { return backend().PeakDeviceBytes(); }
  // Device memory held now (same accounting).
  size_t DeviceBytesHeld() const { return backend().DeviceBytesHeld(); }

 private:
  explicit CudaEngine(Graph graph) : PlannedEngine(std::move(graph)) {}
};

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_ENGINE_CUDA_CUDA_ENGINE_H_
