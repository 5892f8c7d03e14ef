// CudaKernel: the GPU forward and backward of one op declaration of the op
// table (ops/registry.h), in one explicit list (cuda_registry.cc). A kernel
// attaches to the declarations of its (domain, op_type) whose opsets it
// covers; the op table stays the one place that says which ops exist, which
// opsets they have and which inputs are differentiable, and the shape and
// attribute checks both backends run live beside it (ops/). A node whose op
// has no CUDA kernel runs on the CPU kernel with copies (engine/plan.h).
//
// Values (DValue):
//  - float32 tensors live on the device (`buffer`), possibly shared with other
//    values that alias the same bytes (Reshape, Flatten, Identity, ...).
//    Constants also keep a host mirror (`host`) for ops that read scalars.
//  - Every other element type (int64 shapes, axes, indices, bool masks) lives
//    on the host only (`host`).
// Contract for implementers (cuda_*_ops.cc):
//  - forward(cx, node, inputs, outputs, ctx): `inputs` has one entry per node
//    input (an absent optional input is an undefined DValue, never nullptr).
//    Fill `outputs` (sized to node.outputs.size()) for every non-empty output
//    name. Store what backward needs in *ctx (may stay null).
//  - backward(cx, node, inputs, outputs, grad_outputs, ctx, need_grad,
//    grad_inputs): grad_outputs[i] is dL/d outputs[i] on the device, or an
//    undefined DValue when no gradient flows into it. Fill grad_inputs[j]
//    (float32, input j's shape) where need_grad[j]. A gradient may alias
//    another value's buffer (the backend copies before accumulating into a
//    shared buffer).
//  - Work goes on cx.stream() through cx's handles. Errors: InvalidArgument
//    for a bad node (naming it, via node.Describe()), Unimplemented for what
//    the GPU path cannot express, Internal for CUDA failures (cuda_status.h).
//    float32 only.
#ifndef ONNX_CRYPT_ENGINE_CUDA_CUDA_OPS_H_
#define ONNX_CRYPT_ENGINE_CUDA_CUDA_OPS_H_

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "onnx_crypt/engine/cuda/cuda_resources.h"
#include "onnx_crypt/engine/cuda/cuda_status.h"
#include "onnx_crypt/ir/graph.h"
#include "onnx_crypt/ir/tensor.h"
#include "onnx_crypt/ops/op.h"

namespace onnx_crypt::cuda {

struct DValue {
  DType dtype = DType::kUndefined;
  Shape shape;
  std::shared_ptr<DeviceBuffer> buffer;  // float32 values on the device
  Tensor host;  // non-float32 values; for float32 an optional host mirror

  bool defined() const { return dtype != DType::kUndefined; }
  bool on_device() const { return buffer != nullptr; }
  int64_t numel() const { return NumElements(shape); }
  const float* data() const { return buffer ? buffer->as<float>() : nullptr; }
  float* mutable_data() const { return buffer ? buffer->as<float>() : nullptr; }
  // A view of the same bytes with another shape (same element count).
  DValue Reshaped(Shape new_shape) const {
    DValue v = *this;
    v.shape = std::move(new_shape);
    if (v.host.defined()) v.host.Reshape(v.shape);
    return v;
  }
};

// What one engine instance lends its ops: stream, handles, memory.
class CudaContext {
 public:
  CudaContext(cudaStream_t stream, cublasHandle_t cublas, cudnnHandle_t cudnn,
              std::shared_ptr<DevicePool> pool)
      : stream_(stream),
        cublas_(cublas),
        cudnn_(cudnn),
        pool_(std::move(pool)) {}

  cudaStream_t stream() const { return stream_; }
  cublasHandle_t cublas() const { return cublas_; }
  cudnnHandle_t cudnn() const { return cudnn_; }
  DevicePool& pool() const { return *pool_; }

  // A float32 device value of `shape` (contents undefined).
  absl::StatusOr<DValue> NewFloat(const Shape& shape) const;
  // A float32 device value of `shape` filled with zeros.
  absl::StatusOr<DValue> Zeros(const Shape& shape) const;
  // Raw device memory (e.g. int64 argmax indices).
  absl::StatusOr<std::shared_ptr<DeviceBuffer>> NewBytes(size_t bytes) const;
  // `t` (float32) copied to the device; keeps `t` as the host mirror when
  // `keep_host`.
  absl::StatusOr<DValue> Upload(const Tensor& t, bool keep_host) const;
  // int64 values copied to the device.
  absl::StatusOr<std::shared_ptr<DeviceBuffer>> UploadInt64(
      const std::vector<int64_t>& values) const;
  // The value as a host tensor (waits for the stream when it is on the
  // device).
  absl::StatusOr<Tensor> ToHost(const DValue& v) const;
  // Scratch memory for cuDNN, reused across calls (grows when needed; valid
  // until the next Workspace call).
  absl::StatusOr<void*> Workspace(size_t bytes);

 private:
  cudaStream_t stream_;
  cublasHandle_t cublas_;
  cudnnHandle_t cudnn_;
  std::shared_ptr<DevicePool> pool_;
  std::shared_ptr<DeviceBuffer> workspace_;
};

using DValueRefs = std::vector<const DValue*>;

using CudaForwardFn = absl::Status (*)(CudaContext& cx, const Node& node,
                                       const DValueRefs& inputs,
                                       std::vector<DValue>& outputs,
                                       std::unique_ptr<OpContext>* ctx);
using CudaBackwardFn = absl::Status (*)(CudaContext& cx, const Node& node,
                                        const DValueRefs& inputs,
                                        const DValueRefs& outputs,
                                        const DValueRefs& grad_outputs,
                                        const OpContext* ctx,
                                        const std::vector<bool>& need_grad,
                                        std::vector<DValue>& grad_inputs);

struct CudaKernel {
  // The op declaration(s) it implements: (domain, op_type) at opsets
  // [since_version, until_version], which the op table must cover
  // (tests/engine/op_table_test.cc checks).
  std::string domain;  // "" = default ONNX domain
  std::string op_type;
  int since_version = 1;
  int until_version = 1000;
  CudaForwardFn forward = nullptr;
  CudaBackwardFn backward = nullptr;  // nullptr: nothing differentiable
};

// Every CUDA kernel, in a fixed order (built once; thread-safe).
const std::vector<CudaKernel>& AllCudaKernels();
// The index in AllCudaKernels() of the kernel for op declaration `def` at
// node.opset, or -1 when there is none (the node then falls back to the CPU).
int FindCudaKernel(const OpDef& def, const Node& node);

// Table entries, one function per family (cuda_*_ops.cc).
void AddCudaElementwiseOps(std::vector<CudaKernel>& ops);
void AddCudaShapeOps(std::vector<CudaKernel>& ops);
void AddCudaGatherPadOps(std::vector<CudaKernel>& ops);
void AddCudaConvOps(std::vector<CudaKernel>& ops);
void AddCudaNnOps(std::vector<CudaKernel>& ops);
void AddCudaBlasOps(std::vector<CudaKernel>& ops);

// --- helpers shared by the op files ---

// A kernel-list entry for (default domain) op_type at opsets [since, until].
CudaKernel Def(const char* op_type, int since, int until, CudaForwardFn fwd,
               CudaBackwardFn bwd);
// `v` as cuDNN's int, or Unimplemented naming the node when it does not fit.
absl::StatusOr<int> ToInt(const Node& node, int64_t v);

// InvalidArgument "<node>: <what>".
absl::Status CudaNodeError(const Node& node, absl::string_view what);
// OK when input i is present, float32 and on the device.
absl::Status RequireDeviceInput(const Node& node, const DValueRefs& inputs,
                                size_t i);
// True when optional input i is given.
bool HasInput(const DValueRefs& inputs, size_t i);
// The upstream gradient, or zeros of `shape` when none flows in.
absl::StatusOr<DValue> GradOrZeros(const CudaContext& cx, const DValue* grad,
                                   const Shape& shape);
// The value of a scalar (numel 1) input as double, read from its host copy or
// from the device.
absl::StatusOr<double> ReadScalar(const CudaContext& cx, const Node& node,
                                  const DValue& v);
// Integer values of a host input (shape, axes, pads, indices).
absl::StatusOr<std::vector<int64_t>> ReadInts(const Node& node,
                                              const DValue& v);
// Runs the CPU reference op of `node` (ops/registry.h) on host copies of the
// inputs: used for steps whose inputs all live on the host (int64 shape
// arithmetic, Constant). float32 outputs are uploaded with a host mirror.
absl::Status RunOnHost(CudaContext& cx, const Node& node,
                       const DValueRefs& inputs, std::vector<DValue>& outputs);
// out = in summed down to `shape` (broadcast gradient), times `scale`. Returns
// `in` itself when the shapes match and scale is 1.
absl::StatusOr<DValue> ReduceTo(const CudaContext& cx, const Node& node,
                                const DValue& in, const Shape& shape,
                                double scale = 1.0);

}  // namespace onnx_crypt::cuda

#endif  // ONNX_CRYPT_ENGINE_CUDA_CUDA_OPS_H_
