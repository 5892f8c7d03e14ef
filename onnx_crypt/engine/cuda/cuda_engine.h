// CudaEngine: runs a Graph forward and backward on one NVIDIA GPU with the
// CUDA op table (cuda_ops.h): cuDNN for convolution, pooling and softmax,
// cuBLAS for GEMMs, the kernels of cuda/ for the rest, all in float32.
//
// Numbers agree with CpuEngine (the reference) within float32 rounding; every
// kernel and library call is deterministic, so repeated calls with the same
// inputs give bit-identical outputs and gradients on the same GPU model.
//
// Ownership and lifetime: the engine owns its Graph, its stream, its cuBLAS and
// cuDNN handles and a caching device-memory pool. float32 initializers are
// uploaded once by Create and stay on the device (SetInitializerValues edits
// that copy in place); other initializers (int64 shapes, axes, indices) stay
// on the host. Activations are kept for backward by LossAndGradients and
// freed after their last reader by Run; device memory returns to the pool and
// is reused by later calls.
//
// Errors: FailedPrecondition when no CUDA device is present; Unimplemented
// naming the node for an op without a CUDA kernel and for float64 graphs;
// Internal for CUDA, cuDNN and cuBLAS failures (naming the call and the node).
// Not thread-safe: one caller at a time.
#ifndef ONNX_CRYPT_ENGINE_CUDA_CUDA_ENGINE_H_
#define ONNX_CRYPT_ENGINE_CUDA_CUDA_ENGINE_H_

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "onnx_crypt/engine/cuda/cuda_ops.h"
#include "onnx_crypt/engine/cuda/cuda_resources.h"
#include "onnx_crypt/engine/engine.h"
#include "onnx_crypt/ops/op.h"

namespace onnx_crypt {

// Number of usable CUDA devices; 0 when there is none or the driver fails
// (never aborts).
int CudaDeviceCount();

class CudaEngine : public Engine {
 public:
  // Fails with FailedPrecondition without a device, with Unimplemented (naming
  // op type, opset and node) when an op has no CPU definition or no CUDA
  // kernel, and for float64 initializers.
  static absl::StatusOr<std::unique_ptr<CudaEngine>> Create(Graph graph);
  ~CudaEngine() override;

  const Graph& graph() const override { return graph_; }
  absl::StatusOr<std::vector<Tensor>> Run(const Feeds& feeds) override;
  absl::StatusOr<LossResult> LossAndGradients(
      const Feeds& feeds, absl::Span<const int64_t> labels,
      const std::vector<std::string>& params) override;
  absl::Status SetInitializerValues(const std::string& name,
                                    absl::Span<const int64_t> indices,
                                    const Tensor& values) override;
  absl::StatusOr<Tensor> GetInitializer(const std::string& name) const override;
  // Ranks on the device: range-gain scores and a CUB top-k over all parameters;
  // only the k results (index, score, weight, gradient) come back to the host.
  absl::StatusOr<RankResult> LossAndRank(const Feeds& feeds,
                                         absl::Span<const int64_t> labels,
                                         const std::vector<std::string>& params,
                                         const RankRequest& request) override;

  // The most device memory this engine has held at once (bytes obtained from
  // cudaMalloc, including the pool's cache and cuDNN workspace; cuBLAS's and
  // cuDNN's internal allocations are not counted).
  size_t PeakDeviceBytes() const;
  // Device memory held now (same accounting).
  size_t DeviceBytesHeld() const;

 private:
  struct Step {
    const OpDef* def = nullptr;  // the CPU definition (differentiability)
    const cuda::CudaOpDef* cuda = nullptr;
    const Node* node = nullptr;
    std::vector<int> inputs;   // value ids; -1 = absent optional input
    std::vector<int> outputs;  // value ids; -1 = unnamed output
  };
  struct Activations {
    std::vector<cuda::DValue> owned;
    std::vector<const cuda::DValue*> ref;
    std::vector<std::unique_ptr<OpContext>> contexts;  // backward only
  };

  explicit CudaEngine(Graph graph) : graph_(std::move(graph)) {}
  absl::Status Init();
  // Forward, loss and backward; the gradients of `params` stay on the device
  // (out_grads[i] undefined when no gradient reaches params[i]).
  absl::StatusOr<LossResult> DeviceGradients(
      const Feeds& feeds, absl::Span<const int64_t> labels,
      const std::vector<std::string>& params,
      std::vector<cuda::DValue>* out_grads);
  absl::Status Plan();
  absl::Status UploadInitializers();
  absl::Status Forward(const Feeds& feeds, bool keep_all, Activations& acts);
  absl::Status Accumulate(cuda::DValue& acc, cuda::DValue g,
                          const std::string& value);

  Graph graph_;
  std::shared_ptr<cuda::DevicePool> pool_;
  cuda::Stream stream_;
  cuda::CublasHandle cublas_;
  cuda::CudnnHandle cudnn_;
  std::unique_ptr<cuda::CudaContext> cx_;

  std::vector<Step> steps_;
  std::vector<std::string> value_names_;
  std::map<std::string, int> value_ids_;
  std::vector<int> input_ids_;
  std::vector<int> output_ids_;
  std::vector<int> last_use_;
  std::vector<bool> is_initializer_;
  std::vector<cuda::DValue> initializers_;  // per value id (undefined if none)
};

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_ENGINE_CUDA_CUDA_ENGINE_H_
