// CudaContext and the helpers shared by the CUDA op files.
#include "onnx_crypt/engine/cuda/cuda_ops.h"

#include <climits>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "cuda/kernels.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/ops/registry.h"

namespace onnx_crypt::cuda {

absl::StatusOr<DValue> CudaContext::NewFloat(const Shape& shape) const {
  DValue v;
  v.dtype = DType::kFloat32;
  v.shape = shape;
  OC_ASSIGN_OR_RETURN(
      v.buffer, pool_->Allocate(static_cast<size_t>(
                                    std::max<int64_t>(1, NumElements(shape))) *
                                sizeof(float)));
  return v;
}

absl::StatusOr<DValue> CudaContext::Zeros(const Shape& shape) const {
  OC_ASSIGN_OR_RETURN(DValue v, NewFloat(shape));
  OC_CUDA_RETURN_IF_ERROR(
      cudaMemsetAsync(v.buffer->data(), 0,
                      static_cast<size_t>(v.numel()) * sizeof(float), stream_),
      "cudaMemsetAsync");
  return v;
}

absl::StatusOr<std::shared_ptr<DeviceBuffer>> CudaContext::NewBytes(
    size_t bytes) const {
  return pool_->Allocate(bytes);
}

absl::StatusOr<DValue> CudaContext::Upload(const Tensor& t,
                                           bool keep_host) const {
  if (t.dtype() != DType::kFloat32) {
    return absl::InternalError(absl::StrCat(
        "only float32 tensors go to the device, got ", t.DebugString()));
  }
  OC_ASSIGN_OR_RETURN(DValue v, NewFloat(t.shape()));
  if (t.nbytes() > 0) {
    OC_CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(v.buffer->data(), t.raw(), t.nbytes(),
                        cudaMemcpyHostToDevice, stream_),
        "cudaMemcpyAsync (host to device)");
  }
  if (keep_host) v.host = t;
  return v;
}

absl::StatusOr<std::shared_ptr<DeviceBuffer>> CudaContext::UploadInt64(
    const std::vector<int64_t>& values) const {
  OC_ASSIGN_OR_RETURN(
      std::shared_ptr<DeviceBuffer> buf,
      pool_->Allocate(std::max<size_t>(1, values.size()) * sizeof(int64_t)));
  if (!values.empty()) {
    OC_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(buf->data(), values.data(),
                                            values.size() * sizeof(int64_t),
                                            cudaMemcpyHostToDevice, stream_),
                            "cudaMemcpyAsync (host to device)");
  }
  return buf;
}

absl::StatusOr<Tensor> CudaContext::ToHost(const DValue& v) const {
  if (!v.on_device()) return v.host;
  Tensor t(DType::kFloat32, v.shape);
  if (t.nbytes() > 0) {
    OC_CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(t.mutable_raw(), v.buffer->data(), t.nbytes(),
                        cudaMemcpyDeviceToHost, stream_),
        "cudaMemcpyAsync (device to host)");
  }
  OC_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_),
                          "cudaStreamSynchronize");
  return t;
}

absl::StatusOr<void*> CudaContext::Workspace(size_t bytes) {
  if (bytes == 0) return nullptr;
  if (workspace_ == nullptr || workspace_->bytes() < bytes) {
    workspace_.reset();
    OC_ASSIGN_OR_RETURN(workspace_, pool_->Allocate(bytes));
  }
  return workspace_->data();
}

CudaKernel Def(const char* op_type, int since, int until, CudaForwardFn fwd,
               CudaBackwardFn bwd) {
  CudaKernel def;
  def.op_type = op_type;
  def.since_version = since;
  def.until_version = until;
  def.forward = fwd;
  def.backward = bwd;
  return def;
}

absl::StatusOr<int> ToInt(const Node& node, int64_t v) {
  if (v < 0 || v > INT_MAX) {
    return absl::UnimplementedError(absl::StrCat(
        node.Describe(), ": dimension ", v, " does not fit cuDNN's int"));
  }
  return static_cast<int>(v);
}

absl::Status CudaNodeError(const Node& node, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(node.Describe(), ": ", what));
}

absl::Status RequireDeviceInput(const Node& node, const DValueRefs& inputs,
                                size_t i) {
  if (i >= inputs.size() || !inputs[i]->defined()) {
    return CudaNodeError(node, absl::StrCat("input ", i, " is missing"));
  }
  if (!inputs[i]->on_device()) {
    return absl::UnimplementedError(absl::StrCat(
        node.Describe(), ": input ", i, " is ", DTypeName(inputs[i]->dtype),
        "; the CUDA engine computes this op in float32 only"));
  }
  return absl::OkStatus();
}

bool HasInput(const DValueRefs& inputs, size_t i) {
  return i < inputs.size() && inputs[i] != nullptr && inputs[i]->defined();
}

absl::StatusOr<DValue> GradOrZeros(const CudaContext& cx, const DValue* grad,
                                   const Shape& shape) {
  if (grad != nullptr && grad->defined()) return *grad;
  return cx.Zeros(shape);
}

absl::StatusOr<double> ReadScalar(const CudaContext& cx, const Node& node,
                                  const DValue& v) {
  if (v.numel() != 1) {
    return CudaNodeError(node, absl::StrCat("expected a scalar, got shape ",
                                            ShapeToString(v.shape)));
  }
  if (v.host.defined()) {
    if (v.host.dtype() == DType::kFloat32 || v.host.dtype() == DType::kFloat64)
      return v.host.ToDoubleVector()[0];
    return static_cast<double>(v.host.ToInt64Vector()[0]);
  }
  OC_ASSIGN_OR_RETURN(Tensor t, cx.ToHost(v));
  return t.ToDoubleVector()[0];
}

absl::StatusOr<std::vector<int64_t>> ReadInts(const Node& node,
                                              const DValue& v) {
  if (v.on_device() || !v.host.defined() || IsFloatingPoint(v.host.dtype())) {
    return CudaNodeError(node, absl::StrCat("expected an integer tensor, got ",
                                            DTypeName(v.dtype)));
  }
  return v.host.ToInt64Vector();
}

absl::Status RunOnHost(CudaContext& cx, const Node& node,
                       const DValueRefs& inputs, std::vector<DValue>& outputs) {
  OC_ASSIGN_OR_RETURN(const OpDef* def, FindOp(node));
  std::vector<Tensor> host(inputs.size());
  TensorRefs refs;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i]->defined()) {
      OC_ASSIGN_OR_RETURN(host[i], cx.ToHost(*inputs[i]));
    }
    refs.push_back(&host[i]);
  }
  std::vector<Tensor> results(outputs.size());
  std::unique_ptr<OpContext> unused;
  OC_RETURN_IF_ERROR(def->forward(node, refs, results, &unused));
  for (size_t j = 0; j < results.size(); ++j) {
    Tensor& t = results[j];
    if (!t.defined()) continue;
    if (t.dtype() == DType::kFloat32) {
      OC_ASSIGN_OR_RETURN(outputs[j], cx.Upload(t, /*keep_host=*/true));
      continue;
    }
    if (IsFloatingPoint(t.dtype())) {
      return absl::UnimplementedError(
          absl::StrCat(node.Describe(), ": output ", j, " is ", t.DebugString(),
                       "; the CUDA engine computes in float32 only"));
    }
    outputs[j].dtype = t.dtype();
    outputs[j].shape = t.shape();
    outputs[j].host = std::move(t);
  }
  return absl::OkStatus();
}

absl::StatusOr<DValue> ReduceTo(const CudaContext& cx, const Node& node,
                                const DValue& in, const Shape& shape,
                                double scale) {
  if (in.shape == shape && scale == 1.0) return in;
  OC_ASSIGN_OR_RETURN(DValue out, cx.NewFloat(shape));
  OC_CUDA_RETURN_IF_ERROR(
      ReduceToShape(in.data(), in.shape.data(),
                    static_cast<int>(in.shape.size()), out.mutable_data(),
                    shape.data(), static_cast<int>(shape.size()), scale,
                    cx.stream()),
      node.Describe(), ": ReduceToShape");
  return out;
}

}  // namespace onnx_crypt::cuda
