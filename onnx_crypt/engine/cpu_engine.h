// CpuEngine: the reference engine. The executor (executor.h) over the CPU
// backend: every step runs the reference kernel of its op declaration
// (ops/registry.h) on host tensors; activations are kept only when a backward
// pass or an incremental re-run follows.
//
// Ownership: the engine owns its Graph (and so the initializers, which the
// kernels read in place). Not thread-safe; OpenBLAS and oneDNN (OpenMP) use
// `num_threads` threads (0 = leave their defaults), set when the engine is
// created (ops/cpu/fast_kernels.h: OpenMP's count is per calling thread).
#ifndef ONNX_CRYPT_ENGINE_CPU_ENGINE_H_
#define ONNX_CRYPT_ENGINE_CPU_ENGINE_H_

#include <memory>
#include <vector>

#include "onnx_crypt/engine/planned_engine.h"

namespace onnx_crypt {

// The CPU backend (executor.h, planned_engine.h): values are host Tensors.
class CpuBackend {
 public:
  using Value = Tensor;
  // Flushes denormals to zero for the duration of one engine call.
  class CallScope {
   public:
    CallScope();
    ~CallScope();
    CallScope(const CallScope&) = delete;
    CallScope& operator=(const CallScope&) = delete;

   private:
    unsigned int saved_ = 0;
  };

  // Every op declaration has its CPU kernel: nothing falls back.
  static BackendTraits Traits();

  static bool Defined(const Tensor& t) { return t.defined(); }
  absl::StatusOr<std::vector<const Tensor*>> BindInitializers(
      const ExecutionPlan& plan);
  absl::StatusOr<const Tensor*> BindFeed(const ValueInfo& info, const Tensor& t,
                                         Tensor& storage);
  absl::Status Forward(const PlanStep& step, const TensorRefs& inputs,
                       std::vector<Tensor>& outputs,
                       std::unique_ptr<OpContext>* ctx);
  absl::Status Backward(const PlanStep& step, const TensorRefs& inputs,
                        const TensorRefs& outputs,
                        const TensorRefs& grad_outputs, const OpContext* ctx,
                        const std::vector<bool>& need,
                        std::vector<Tensor>& grad_inputs);
  // Conv chains (ops/cpu/conv_fused.h) in forward passes that keep no
  // values: Conv [BatchNormalization] [Add] [Relu | LeakyRelu] [pool] where
  // each intermediate value is read by the next step alone (and is no graph
  // output), and lone Convs. Bit for bit the steps' own results (executor.h).
  // The native layout is channels-last (conv_fused.h ChainLayouts): a chain's
  // output stays N x H x W x C when every reader is a chain that reads it as
  // its Conv's X or its Add's other operand, and it is no graph output.
  ChainPlan PlanChains(const ExecutionPlan& plan);
  absl::StatusOr<bool> ForwardChain(
      const ExecutionPlan& plan, size_t first, size_t count,
      const std::vector<std::vector<const Tensor*>>& inputs,
      const std::vector<std::vector<bool>>& native, bool native_output,
      Tensor& output, bool* output_native);
  absl::StatusOr<Tensor> ToPlain(const Tensor& t);
  absl::Status Accumulate(Tensor& acc, Tensor g, const std::string& value);
  absl::StatusOr<double> LossGradient(const Tensor& output,
                                      absl::Span<const int64_t> labels,
                                      OutputKind kind, Tensor* grad);
  absl::Status WriteInitializer(int id, const Tensor& host,
                                absl::Span<const int64_t> indices,
                                const Tensor& values) {
    return absl::OkStatus();  // the kernels read the host copy itself
  }
  absl::StatusOr<Tensor> ToHost(const Tensor& t) { return t; }
  absl::StatusOr<Tensor> TakeHost(Tensor&& t) { return std::move(t); }
  absl::Status Finish(const char* what) { return absl::OkStatus(); }
};

class CpuEngine : public PlannedEngine<CpuBackend> {
 public:
  // Fails with Unimplemented (naming op type, opset and node) when an op is not
  // registered.
  static absl::StatusOr<std::unique_ptr<CpuEngine>> Create(Graph graph,
                                                           int num_threads = 0);

 private:
  explicit CpuEngine(Graph graph) : PlannedEngine(std::move(graph)) {}
};

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_ENGINE_CPU_ENGINE_H_
