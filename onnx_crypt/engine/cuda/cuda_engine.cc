// The CUDA backend. Everything on the GPU goes through one stream, so memory
// released to the pool by the host may be handed to later work at once, and a
// host copy only has to wait for that stream. The loss is computed on the
// device per row and summed on the host in row order, like engine/loss.cc.
//
// Values move to where a step runs: a kernel step gets its float32 inputs on
// the device (a host-only float32 value is uploaded for it); a host or
// fallback step gets host copies of everything, and its float32 outputs are
// uploaded with a host mirror. So a plan that guessed a value's type wrong
// costs a copy, never a wrong result.
#include "onnx_crypt/engine/cuda/cuda_engine.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "cuda/kernels.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/engine/cuda/cuda_status.h"
#include "onnx_crypt/engine/loss.h"

namespace onnx_crypt {

namespace {

using cuda::DValue;

// float32 initializers this small keep a host mirror, so that ops reading a
// scalar parameter (Clip bounds, Pad's constant) need no device round trip.
constexpr int64_t kMirrorElements = 64;

absl::Status RejectFloat64(const Tensor& t, const std::string& what) {
  if (IsFloatingPoint(t.dtype()) && t.dtype() != DType::kFloat32) {
    return absl::UnimplementedError(
        absl::StrCat(what, " is ", t.DebugString(),
                     "; the CUDA engine computes in float32 only"));
  }
  return absl::OkStatus();
}

// A host tensor as a DValue: float32 goes to the device (with a host mirror),
// anything else stays on the host.
absl::StatusOr<DValue> FromHost(const cuda::CudaContext& cx, const Node& node,
                                Tensor t) {
  if (t.dtype() == DType::kFloat32) return cx.Upload(t, /*keep_host=*/true);
  if (IsFloatingPoint(t.dtype())) {
    return absl::UnimplementedError(
        absl::StrCat(node.Describe(), ": ", t.DebugString(),
                     "; the CUDA engine computes in float32 only"));
  }
  DValue v;
  v.dtype = t.dtype();
  v.shape = t.shape();
  v.host = std::move(t);
  return v;
}

// Host copies of `values` (undefined stays undefined) and pointers to them.
absl::Status HostCopies(const cuda::CudaContext& cx,
                        const cuda::DValueRefs& values,
                        std::vector<Tensor>& host, TensorRefs& refs) {
  host.assign(values.size(), Tensor());
  refs.clear();
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i]->defined()) {
      OC_ASSIGN_OR_RETURN(host[i], cx.ToHost(*values[i]));
    }
    refs.push_back(&host[i]);
  }
  return absl::OkStatus();
}

}  // namespace

int CudaDeviceCount() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // reset the error so later calls start clean
    return 0;
  }
  return count;
}

BackendTraits CudaBackendTraits() {
  BackendTraits traits;
  traits.name = "cuda";
  traits.find_kernel = [](const OpDef& def, const Node& node) {
    return cuda::FindCudaKernel(def, node);
  };
  traits.has_device_memory = true;
  return traits;
}

absl::StatusOr<std::unique_ptr<CudaBackend>> CudaBackend::Create() {
  std::unique_ptr<CudaBackend> b(new CudaBackend());
  b->pool_ = cuda::DevicePool::Create();
  OC_ASSIGN_OR_RETURN(b->stream_, cuda::CreateStream());
  OC_ASSIGN_OR_RETURN(b->cublas_, cuda::CreateCublas(b->stream_.get()));
  OC_ASSIGN_OR_RETURN(b->cudnn_, cuda::CreateCudnn(b->stream_.get()));
  b->cx_ = std::make_unique<cuda::CudaContext>(
      b->stream_.get(), b->cublas_.get(), b->cudnn_.get(), b->pool_);
  return b;
}

CudaBackend::~CudaBackend() {
  if (stream_.get() != nullptr) cudaStreamSynchronize(stream_.get());
}

absl::StatusOr<std::vector<const DValue*>> CudaBackend::BindInitializers(
    const ExecutionPlan& plan) {
  initializers_.assign(plan.num_values(), DValue());
  std::vector<const DValue*> bound(plan.num_values(), nullptr);
  for (size_t id = 0; id < plan.num_values(); ++id) {
    const Tensor* t = plan.initializer(static_cast<int>(id));
    if (t == nullptr) continue;
    OC_RETURN_IF_ERROR(RejectFloat64(
        *t, absl::StrCat("initializer '", plan.value_name(id), "'")));
    DValue& v = initializers_[id];
    if (t->dtype() == DType::kFloat32) {
      OC_ASSIGN_OR_RETURN(v, cx_->Upload(*t, t->numel() <= kMirrorElements));
    } else {
      v.dtype = t->dtype();
      v.shape = t->shape();
      v.host = *t;
    }
    bound[id] = &v;
  }
  OC_RETURN_IF_ERROR(Finish("uploading initializers"));
  return bound;
}

absl::StatusOr<const DValue*> CudaBackend::BindFeed(const ValueInfo& info,
                                                    const Tensor& t,
                                                    DValue& storage) {
  OC_RETURN_IF_ERROR(RejectFloat64(t, absl::StrCat("input '", info.name, "'")));
  if (t.dtype() == DType::kFloat32) {
    OC_ASSIGN_OR_RETURN(storage, cx_->Upload(t, /*keep_host=*/false));
  } else {
    storage.dtype = t.dtype();
    storage.shape = t.shape();
    storage.host = t;
  }
  return &storage;
}

absl::Status CudaBackend::Forward(const PlanStep& step,
                                  const cuda::DValueRefs& inputs,
                                  std::vector<DValue>& outputs,
                                  std::unique_ptr<OpContext>* ctx) {
  if (step.placement != Placement::kKernel) {
    return ForwardOnHost(step, inputs, outputs, ctx);
  }
  // float32 values that only live on the host go to the device first.
  std::vector<DValue> uploaded(inputs.size());
  cuda::DValueRefs on_device = inputs;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const DValue& v = *inputs[i];
    if (v.defined() && !v.on_device() && v.dtype == DType::kFloat32) {
      OC_ASSIGN_OR_RETURN(uploaded[i], cx_->Upload(v.host, /*keep_host=*/true));
      on_device[i] = &uploaded[i];
    }
  }
  return cuda::AllCudaKernels()[step.kernel].forward(*cx_, *step.node,
                                                     on_device, outputs, ctx);
}

absl::Status CudaBackend::ForwardOnHost(const PlanStep& step,
                                        const cuda::DValueRefs& inputs,
                                        std::vector<DValue>& outputs,
                                        std::unique_ptr<OpContext>* ctx) {
  std::vector<Tensor> host;
  TensorRefs refs;
  OC_RETURN_IF_ERROR(HostCopies(*cx_, inputs, host, refs));
  std::vector<Tensor> results(outputs.size());
  OC_RETURN_IF_ERROR(step.def->forward(*step.node, refs, results, ctx));
  for (size_t j = 0; j < results.size(); ++j) {
    if (!results[j].defined()) continue;
    OC_ASSIGN_OR_RETURN(outputs[j],
                        FromHost(*cx_, *step.node, std::move(results[j])));
  }
  return absl::OkStatus();
}

absl::Status CudaBackend::Backward(const PlanStep& step,
                                   const cuda::DValueRefs& inputs,
                                   const cuda::DValueRefs& outputs,
                                   const cuda::DValueRefs& grad_outputs,
                                   const OpContext* ctx,
                                   const std::vector<bool>& need,
                                   std::vector<DValue>& grad_inputs) {
  if (step.placement == Placement::kKernel) {
    const cuda::CudaKernel& kernel = cuda::AllCudaKernels()[step.kernel];
    if (kernel.backward == nullptr) {
      return absl::UnimplementedError(
          absl::StrCat(step.node->Describe(), ": no CUDA backward"));
    }
    return kernel.backward(*cx_, *step.node, inputs, outputs, grad_outputs, ctx,
                           need, grad_inputs);
  }
  // Host step or CPU fallback: the CPU backward on host copies, with the CPU
  // forward's own context; float32 gradients go back to the device.
  std::vector<Tensor> in, out, gout;
  TensorRefs in_refs, out_refs, gout_refs;
  OC_RETURN_IF_ERROR(HostCopies(*cx_, inputs, in, in_refs));
  OC_RETURN_IF_ERROR(HostCopies(*cx_, outputs, out, out_refs));
  OC_RETURN_IF_ERROR(HostCopies(*cx_, grad_outputs, gout, gout_refs));
  std::vector<Tensor> gin(inputs.size());
  OC_RETURN_IF_ERROR(step.def->backward(*step.node, in_refs, out_refs,
                                        gout_refs, ctx, need, gin));
  for (size_t j = 0; j < gin.size(); ++j) {
    if (!gin[j].defined()) continue;
    OC_ASSIGN_OR_RETURN(grad_inputs[j],
                        cx_->Upload(gin[j], /*keep_host=*/false));
  }
  return absl::OkStatus();
}

absl::Status CudaBackend::Accumulate(DValue& acc, DValue g,
                                     const std::string& value) {
  if (!acc.defined()) {
    acc = std::move(g);
    return absl::OkStatus();
  }
  if (acc.shape != g.shape || !acc.on_device() || !g.on_device()) {
    return absl::InternalError(absl::StrCat(
        "gradient of '", value, "': shape ", ShapeToString(g.shape),
        " does not match ", ShapeToString(acc.shape)));
  }
  // Sum in place only into a buffer nobody else reads (a gradient may alias
  // another one, e.g. both inputs of Add receive dC itself).
  DValue sum = acc;
  if (acc.buffer.use_count() > 1) {
    OC_ASSIGN_OR_RETURN(sum, cx_->NewFloat(acc.shape));
  }
  OC_CUDA_RETURN_IF_ERROR(cuda::Sum(acc.data(), g.data(), sum.mutable_data(),
                                    acc.numel(), stream_.get()),
                          "accumulating the gradient of '", value, "'");
  acc = std::move(sum);
  return absl::OkStatus();
}

absl::StatusOr<double> CudaBackend::LossGradient(
    const DValue& out, absl::Span<const int64_t> labels, OutputKind kind,
    DValue* grad) {
  if (!out.on_device() || out.shape.size() != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("the loss needs a float [N, C] first output, got ",
                     DTypeName(out.dtype), ShapeToString(out.shape)));
  }
  const int64_t rows = out.shape[0], classes = out.shape[1];
  if (rows != static_cast<int64_t>(labels.size())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "output has ", rows, " rows but there are ", labels.size(), " labels"));
  }
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0 || labels[i] >= classes) {
      return absl::InvalidArgumentError(
          absl::StrCat("label ", labels[i], " of sample ", i,
                       " is outside [0, ", classes, ")"));
    }
  }
  const std::vector<int64_t> label_vec(labels.begin(), labels.end());
  OC_ASSIGN_OR_RETURN(std::shared_ptr<cuda::DeviceBuffer> d_labels,
                      cx_->UploadInt64(label_vec));
  OC_ASSIGN_OR_RETURN(
      std::shared_ptr<cuda::DeviceBuffer> d_rows,
      cx_->NewBytes(static_cast<size_t>(std::max<int64_t>(1, rows)) *
                    sizeof(double)));
  OC_ASSIGN_OR_RETURN(*grad, cx_->NewFloat(out.shape));
  const int kind_code = kind == OutputKind::kLogits          ? 0
                        : kind == OutputKind::kProbabilities ? 1
                                                             : 2;
  OC_CUDA_RETURN_IF_ERROR(
      cuda::CrossEntropyRows(out.data(), d_labels->as<int64_t>(), rows, classes,
                             kind_code, kProbFloor, d_rows->as<double>(),
                             grad->mutable_data(), stream_.get()),
      "CrossEntropyRows");
  std::vector<double> row_loss(static_cast<size_t>(rows));
  if (rows > 0) {
    OC_CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(row_loss.data(), d_rows->data(),
                        row_loss.size() * sizeof(double),
                        cudaMemcpyDeviceToHost, stream_.get()),
        "cudaMemcpyAsync (loss)");
  }
  OC_RETURN_IF_ERROR(Finish("computing the loss"));
  double total = 0.0;
  for (double v : row_loss) total += v;
  return rows > 0 ? total * (1.0 / static_cast<double>(rows)) : 0.0;
}

absl::Status CudaBackend::WriteInitializer(int id, const Tensor& host,
                                           absl::Span<const int64_t> indices,
                                           const Tensor& values) {
  DValue& v = initializers_[id];
  if (!v.on_device()) {
    v.host = host;
    return absl::OkStatus();
  }
  if (v.host.defined()) v.host = host;
  if (indices.empty()) return absl::OkStatus();
  const std::vector<int64_t> index_vec(indices.begin(), indices.end());
  OC_ASSIGN_OR_RETURN(std::shared_ptr<cuda::DeviceBuffer> d_index,
                      cx_->UploadInt64(index_vec));
  OC_ASSIGN_OR_RETURN(std::shared_ptr<cuda::DeviceBuffer> d_values,
                      cx_->NewBytes(values.nbytes()));
  OC_CUDA_RETURN_IF_ERROR(
      cudaMemcpyAsync(d_values->data(), values.raw(), values.nbytes(),
                      cudaMemcpyHostToDevice, stream_.get()),
      "SetInitializerValues: cudaMemcpyAsync");
  OC_CUDA_RETURN_IF_ERROR(
      cuda::ScatterWords(v.buffer->as<uint32_t>(), d_index->as<int64_t>(),
                         d_values->as<uint32_t>(),
                         static_cast<int64_t>(indices.size()), stream_.get()),
      "SetInitializerValues: ScatterWords");
  return Finish("SetInitializerValues");
}

absl::Status CudaBackend::Finish(const char* what) {
  OC_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_.get()), what);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<CudaEngine>> CudaEngine::Create(Graph graph) {
  if (CudaDeviceCount() <= 0) {
    return absl::FailedPreconditionError("no CUDA device is available");
  }
  std::unique_ptr<CudaEngine> engine(new CudaEngine(std::move(graph)));
  OC_ASSIGN_OR_RETURN(std::unique_ptr<CudaBackend> backend,
                      CudaBackend::Create());
  OC_RETURN_IF_ERROR(engine->Init(std::move(backend), CudaBackendTraits()));
  return engine;
}

absl::StatusOr<const DValue*> CudaEngine::DeviceInitializer(
    const std::string& name) {
  const int id = plan().value_id(name);
  if (id < 0 || plan().initializer(id) == nullptr) {
    return absl::NotFoundError(absl::StrCat("no initializer '", name, "'"));
  }
  return &backend().initializer(id);
}

}  // namespace onnx_crypt
