// The execution plan mirrors CpuEngine: value names map to dense ids once, the
// steps run in topological order, and backward visits them in reverse,
// summing dL/dv over a value's readers. Where a step runs:
//  - on the host, with the CPU op, when none of its inputs is on the device
//    (int64 shape arithmetic such as Shape -> Gather -> Concat, Constant);
//  - on the GPU, with the CUDA op table, otherwise.
// Everything on the GPU goes through one stream, so memory released to the
// pool by the host may be handed to later work at once, and a host copy only
// has to wait for that stream. The loss is computed on the device per row and
// summed on the host in row order, like engine/loss.cc.
#include "onnx_crypt/engine/cuda/cuda_engine.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "cuda/kernels.h"
#include "cuda/rank.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/engine/cuda/cuda_status.h"
#include "onnx_crypt/engine/loss.h"
#include "onnx_crypt/ops/registry.h"

namespace onnx_crypt {

namespace {

using cuda::DValue;

// float32 initializers this small keep a host mirror, so that ops reading a
// scalar parameter (Clip bounds, Pad's constant) need no device round trip.
constexpr int64_t kMirrorElements = 64;

absl::Status CheckFeed(const ValueInfo& info, const Tensor& t) {
  if (info.dtype != DType::kUndefined && t.dtype() != info.dtype) {
    return absl::InvalidArgumentError(
        absl::StrCat("input '", info.name, "' expects ", DTypeName(info.dtype),
                     ", got ", t.DebugString()));
  }
  if (info.has_shape) {
    bool ok = static_cast<int64_t>(info.dims.size()) == t.rank();
    for (size_t i = 0; ok && i < info.dims.size(); ++i) {
      ok = info.dims[i] < 0 || info.dims[i] == t.dim(i);
    }
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          "input '", info.name, "' expects shape ", ShapeToString(info.dims),
          ", got ", ShapeToString(t.shape())));
    }
  }
  return absl::OkStatus();
}

absl::Status RejectFloat64(const Tensor& t, const std::string& what) {
  if (IsFloatingPoint(t.dtype()) && t.dtype() != DType::kFloat32) {
    return absl::UnimplementedError(
        absl::StrCat(what, " is ", t.DebugString(),
                     "; the CUDA engine computes in float32 only"));
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

absl::StatusOr<std::unique_ptr<CudaEngine>> CudaEngine::Create(Graph graph) {
  if (CudaDeviceCount() <= 0) {
    return absl::FailedPreconditionError("no CUDA device is available");
  }
  std::unique_ptr<CudaEngine> engine(new CudaEngine(std::move(graph)));
  OC_RETURN_IF_ERROR(engine->Init());
  OC_RETURN_IF_ERROR(engine->Plan());
  OC_RETURN_IF_ERROR(engine->UploadInitializers());
  return engine;
}

CudaEngine::~CudaEngine() {
  if (stream_.get() != nullptr) cudaStreamSynchronize(stream_.get());
}

absl::Status CudaEngine::Init() {
  pool_ = cuda::DevicePool::Create();
  OC_ASSIGN_OR_RETURN(stream_, cuda::CreateStream());
  OC_ASSIGN_OR_RETURN(cublas_, cuda::CreateCublas(stream_.get()));
  OC_ASSIGN_OR_RETURN(cudnn_, cuda::CreateCudnn(stream_.get()));
  cx_ = std::make_unique<cuda::CudaContext>(stream_.get(), cublas_.get(),
                                            cudnn_.get(), pool_);
  return absl::OkStatus();
}

absl::Status CudaEngine::Plan() {
  auto id_of = [this](const std::string& name) {
    auto [it, inserted] =
        value_ids_.emplace(name, static_cast<int>(value_names_.size()));
    if (inserted) value_names_.push_back(name);
    return it->second;
  };
  for (auto& [name, tensor] : graph_.initializers) id_of(name);
  for (const ValueInfo& in : graph_.inputs)
    input_ids_.push_back(id_of(in.name));
  for (const Node& node : graph_.nodes) {
    Step step;
    OC_ASSIGN_OR_RETURN(step.def, FindOp(node));
    OC_ASSIGN_OR_RETURN(step.cuda, cuda::FindCudaOp(node));
    step.node = &node;
    for (const std::string& in : node.inputs)
      step.inputs.push_back(in.empty() ? -1 : id_of(in));
    for (const std::string& out : node.outputs)
      step.outputs.push_back(out.empty() ? -1 : id_of(out));
    steps_.push_back(std::move(step));
  }
  for (const ValueInfo& out : graph_.outputs) {
    auto it = value_ids_.find(out.name);
    if (it == value_ids_.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("graph output '", out.name, "' is produced by no node"));
    }
    output_ids_.push_back(it->second);
  }
  is_initializer_.assign(value_names_.size(), false);
  for (auto& [name, tensor] : graph_.initializers)
    is_initializer_[value_ids_[name]] = true;
  last_use_.assign(value_names_.size(), -1);
  for (size_t s = 0; s < steps_.size(); ++s) {
    for (int id : steps_[s].inputs) {
      if (id >= 0) last_use_[id] = static_cast<int>(s);
    }
  }
  for (int id : output_ids_) last_use_[id] = static_cast<int>(steps_.size());
  return absl::OkStatus();
}

absl::Status CudaEngine::UploadInitializers() {
  initializers_.assign(value_names_.size(), DValue());
  for (auto& [name, tensor] : graph_.initializers) {
    OC_RETURN_IF_ERROR(
        RejectFloat64(tensor, absl::StrCat("initializer '", name, "'")));
    DValue& v = initializers_[value_ids_[name]];
    if (tensor.dtype() == DType::kFloat32) {
      OC_ASSIGN_OR_RETURN(
          v, cx_->Upload(tensor, tensor.numel() <= kMirrorElements));
    } else {
      v.dtype = tensor.dtype();
      v.shape = tensor.shape();
      v.host = tensor;
    }
  }
  OC_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_.get()),
                          "uploading initializers");
  return absl::OkStatus();
}

absl::Status CudaEngine::Forward(const Feeds& feeds, bool keep_all,
                                 Activations& acts) {
  const size_t n = value_names_.size();
  acts.owned.assign(n, DValue());
  acts.ref.assign(n, nullptr);
  acts.contexts.clear();
  if (keep_all) acts.contexts.resize(steps_.size());
  for (size_t i = 0; i < n; ++i) {
    if (is_initializer_[i]) acts.ref[i] = &initializers_[i];
  }
  for (size_t k = 0; k < graph_.inputs.size(); ++k) {
    const ValueInfo& info = graph_.inputs[k];
    auto it = feeds.find(info.name);
    if (it == feeds.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("graph input '", info.name, "' is not fed"));
    }
    const Tensor& t = it->second;
    OC_RETURN_IF_ERROR(CheckFeed(info, t));
    OC_RETURN_IF_ERROR(
        RejectFloat64(t, absl::StrCat("input '", info.name, "'")));
    const int id = input_ids_[k];
    if (t.dtype() == DType::kFloat32) {
      OC_ASSIGN_OR_RETURN(acts.owned[id], cx_->Upload(t, /*keep_host=*/false));
    } else {
      acts.owned[id].dtype = t.dtype();
      acts.owned[id].shape = t.shape();
      acts.owned[id].host = t;
    }
    acts.ref[id] = &acts.owned[id];
  }
  const DValue absent;
  for (size_t s = 0; s < steps_.size(); ++s) {
    const Step& step = steps_[s];
    cuda::DValueRefs inputs;
    inputs.reserve(step.inputs.size());
    bool on_host = true;
    for (int id : step.inputs) {
      if (id < 0) {
        inputs.push_back(&absent);
        continue;
      }
      if (acts.ref[id] == nullptr) {
        return absl::InternalError(absl::StrCat(step.node->Describe(),
                                                ": input '", value_names_[id],
                                                "' has no value"));
      }
      on_host = on_host && !acts.ref[id]->on_device();
      inputs.push_back(acts.ref[id]);
    }
    std::vector<DValue> outputs(step.outputs.size());
    std::unique_ptr<OpContext> ctx;
    if (on_host) {
      OC_RETURN_IF_ERROR(cuda::RunOnHost(*cx_, *step.node, inputs, outputs));
    } else {
      OC_RETURN_IF_ERROR(
          step.cuda->forward(*cx_, *step.node, inputs, outputs, &ctx));
    }
    for (size_t j = 0; j < step.outputs.size(); ++j) {
      const int id = step.outputs[j];
      if (id < 0) continue;
      if (!outputs[j].defined()) {
        return absl::InternalError(absl::StrCat(step.node->Describe(),
                                                ": output '", value_names_[id],
                                                "' was not produced"));
      }
      acts.owned[id] = std::move(outputs[j]);
      acts.ref[id] = &acts.owned[id];
    }
    if (keep_all) {
      acts.contexts[s] = std::move(ctx);
    } else {
      for (int id : step.inputs) {
        if (id >= 0 && last_use_[id] == static_cast<int>(s) &&
            acts.owned[id].defined()) {
          acts.owned[id] = DValue();
          acts.ref[id] = nullptr;
        }
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Tensor>> CudaEngine::Run(const Feeds& feeds) {
  Activations acts;
  OC_RETURN_IF_ERROR(Forward(feeds, /*keep_all=*/false, acts));
  std::vector<Tensor> outputs;
  for (int id : output_ids_) {
    OC_ASSIGN_OR_RETURN(Tensor t, cx_->ToHost(*acts.ref[id]));
    outputs.push_back(std::move(t));
  }
  OC_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_.get()),
                          "CudaEngine::Run");
  return outputs;
}

absl::Status CudaEngine::Accumulate(DValue& acc, DValue g,
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

absl::StatusOr<LossResult> CudaEngine::LossAndGradients(
    const Feeds& feeds, absl::Span<const int64_t> labels,
    const std::vector<std::string>& params) {
  std::vector<DValue> device_grads;
  OC_ASSIGN_OR_RETURN(LossResult result,
                      DeviceGradients(feeds, labels, params, &device_grads));
  for (size_t p = 0; p < params.size(); ++p) {
    if (!device_grads[p].defined()) {
      result.grads[params[p]] =
          Tensor(DType::kFloat32, initializers_[value_ids_[params[p]]].shape);
      continue;
    }
    OC_ASSIGN_OR_RETURN(result.grads[params[p]], cx_->ToHost(device_grads[p]));
  }
  OC_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_.get()),
                          "CudaEngine::LossAndGradients");
  return result;
}

absl::StatusOr<LossResult> CudaEngine::DeviceGradients(
    const Feeds& feeds, absl::Span<const int64_t> labels,
    const std::vector<std::string>& params, std::vector<DValue>* out_grads) {
  if (output_ids_.empty())
    return absl::InvalidArgumentError("graph has no output");
  const size_t n = value_names_.size();
  // needs[v]: dL/dv is needed because v depends on a requested parameter.
  std::vector<bool> needs(n, false);
  for (const std::string& p : params) {
    auto it = value_ids_.find(p);
    if (it == value_ids_.end() || !is_initializer_[it->second]) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", p, "' is not an initializer"));
    }
    if (!initializers_[it->second].on_device()) {
      return absl::InvalidArgumentError(
          absl::StrCat("initializer '", p, "' is not float"));
    }
    needs[it->second] = true;
  }
  for (const Step& step : steps_) {
    bool any = false;
    for (size_t j = 0; j < step.inputs.size(); ++j) {
      const int id = step.inputs[j];
      any |=
          id >= 0 && needs[id] && ((step.def->differentiable_inputs >> j) & 1u);
    }
    if (!any) continue;
    for (int id : step.outputs) {
      if (id >= 0) needs[id] = true;
    }
  }

  Activations acts;
  OC_RETURN_IF_ERROR(Forward(feeds, /*keep_all=*/true, acts));
  const DValue& out = *acts.ref[output_ids_[0]];
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
  LossResult result;
  OC_ASSIGN_OR_RETURN(result.output, cx_->ToHost(out));
  std::vector<DValue> grads(n);
  {
    const std::vector<int64_t> label_vec(labels.begin(), labels.end());
    OC_ASSIGN_OR_RETURN(std::shared_ptr<cuda::DeviceBuffer> d_labels,
                        cx_->UploadInt64(label_vec));
    OC_ASSIGN_OR_RETURN(
        std::shared_ptr<cuda::DeviceBuffer> d_rows,
        cx_->NewBytes(static_cast<size_t>(std::max<int64_t>(1, rows)) *
                      sizeof(double)));
    OC_ASSIGN_OR_RETURN(DValue grad, cx_->NewFloat(out.shape));
    const OutputKind kind = DetectOutputKind(graph_);
    const int kind_code = kind == OutputKind::kLogits          ? 0
                          : kind == OutputKind::kProbabilities ? 1
                                                               : 2;
    OC_CUDA_RETURN_IF_ERROR(
        cuda::CrossEntropyRows(out.data(), d_labels->as<int64_t>(), rows,
                               classes, kind_code, kProbFloor,
                               d_rows->as<double>(), grad.mutable_data(),
                               stream_.get()),
        "CrossEntropyRows");
    std::vector<double> row_loss(static_cast<size_t>(rows));
    if (rows > 0) {
      OC_CUDA_RETURN_IF_ERROR(
          cudaMemcpyAsync(row_loss.data(), d_rows->data(),
                          row_loss.size() * sizeof(double),
                          cudaMemcpyDeviceToHost, stream_.get()),
          "cudaMemcpyAsync (loss)");
    }
    OC_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_.get()),
                            "computing the loss");
    double total = 0.0;
    for (double v : row_loss) total += v;
    result.loss = rows > 0 ? total * (1.0 / static_cast<double>(rows)) : 0.0;
    grads[output_ids_[0]] = std::move(grad);
  }

  const DValue absent;
  for (size_t s = steps_.size(); s-- > 0;) {
    const Step& step = steps_[s];
    bool has_upstream = false;
    for (int id : step.outputs) has_upstream |= id >= 0 && grads[id].defined();
    if (!has_upstream) continue;
    std::vector<bool> need(step.inputs.size(), false);
    bool any_need = false;
    for (size_t j = 0; j < step.inputs.size(); ++j) {
      const int id = step.inputs[j];
      need[j] =
          id >= 0 && needs[id] && ((step.def->differentiable_inputs >> j) & 1u);
      any_need |= need[j];
    }
    if (!any_need) continue;
    if (step.cuda->backward == nullptr) {
      return absl::UnimplementedError(
          absl::StrCat(step.node->Describe(), ": no CUDA backward"));
    }
    cuda::DValueRefs inputs, outputs, grad_outputs;
    for (int id : step.inputs)
      inputs.push_back(id >= 0 ? acts.ref[id] : &absent);
    for (int id : step.outputs) {
      outputs.push_back(id >= 0 ? acts.ref[id] : &absent);
      grad_outputs.push_back(id >= 0 ? &grads[id] : &absent);
    }
    std::vector<DValue> grad_inputs(step.inputs.size());
    OC_RETURN_IF_ERROR(step.cuda->backward(*cx_, *step.node, inputs, outputs,
                                           grad_outputs, acts.contexts[s].get(),
                                           need, grad_inputs));
    // Upstream gradients of this step's outputs are no longer needed.
    for (int id : step.outputs) {
      if (id >= 0) grads[id] = DValue();
    }
    for (size_t j = 0; j < step.inputs.size(); ++j) {
      if (!need[j] || !grad_inputs[j].defined()) continue;
      const int id = step.inputs[j];
      OC_RETURN_IF_ERROR(Annotate(
          Accumulate(grads[id], std::move(grad_inputs[j]), value_names_[id]),
          step.node->Describe()));
    }
  }
  out_grads->clear();
  for (const std::string& p : params)
    out_grads->push_back(grads[value_ids_[p]]);
  return result;
}

absl::StatusOr<RankResult> CudaEngine::LossAndRank(
    const Feeds& feeds, absl::Span<const int64_t> labels,
    const std::vector<std::string>& params, const RankRequest& request) {
  if (request.lo.size() != params.size() ||
      request.hi.size() != params.size() ||
      request.excluded.size() != params.size()) {
    return absl::InvalidArgumentError(
        "RankRequest needs lo, hi and excluded per parameter");
  }
  std::vector<DValue> grads;
  OC_ASSIGN_OR_RETURN(LossResult lr,
                      DeviceGradients(feeds, labels, params, &grads));
  RankResult result;
  result.loss = lr.loss;
  // Scores of all parameters end to end (model order), so the flat index of the
  // sort breaks ties by parameter, then index.
  std::vector<int64_t> offsets(params.size() + 1, 0);
  for (size_t p = 0; p < params.size(); ++p) {
    offsets[p + 1] = offsets[p] + initializers_[value_ids_[params[p]]].numel();
  }
  const int64_t total = offsets.back();
  const int64_t k = std::min<int64_t>(std::max<int64_t>(request.k, 0), total);
  if (k == 0) return result;
  OC_ASSIGN_OR_RETURN(std::shared_ptr<cuda::DeviceBuffer> scores,
                      cx_->NewBytes(sizeof(float) * total));
  for (size_t p = 0; p < params.size(); ++p) {
    const DValue& w = initializers_[value_ids_[params[p]]];
    const int64_t n = w.numel();
    float* dst = scores->as<float>() + offsets[p];
    if (!grads[p].defined()) {
      OC_CUDA_RETURN_IF_ERROR(
          cudaMemsetAsync(dst, 0, sizeof(float) * n, stream_.get()),
          "clearing scores");
      continue;
    }
    // The excluded positions as a byte mask (only the few locked positions are
    // set; uploaded, never downloaded).
    std::shared_ptr<cuda::DeviceBuffer> mask;
    if (!request.excluded[p].empty()) {
      std::vector<uint8_t> host(static_cast<size_t>(n), 0);
      for (int64_t i : request.excluded[p]) {
        if (i >= 0 && i < n) host[static_cast<size_t>(i)] = 1;
      }
      OC_ASSIGN_OR_RETURN(mask, cx_->NewBytes(host.size()));
      OC_CUDA_RETURN_IF_ERROR(
          cudaMemcpyAsync(mask->data(), host.data(), host.size(),
                          cudaMemcpyHostToDevice, stream_.get()),
          "uploading the locked positions");
      OC_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_.get()),
                              "uploading the locked positions");
    }
    OC_CUDA_RETURN_IF_ERROR(
        cuda::RangeGainScores(w.data(), grads[p].data(),
                              mask ? mask->as<uint8_t>() : nullptr,
                              request.lo[p], request.hi[p], n,
                              request.diversify, request.diversify_seed,
                              static_cast<uint64_t>(p), dst, stream_.get()),
        "ranking '", params[p], "'");
  }
  OC_ASSIGN_OR_RETURN(std::shared_ptr<cuda::DeviceBuffer> workspace,
                      cx_->NewBytes(cuda::TopKWorkspaceBytes(total)));
  const int64_t k_param = std::max<int64_t>(request.k_per_param, 0);
  const int64_t k_max = std::max(k, k_param);
  OC_ASSIGN_OR_RETURN(std::shared_ptr<cuda::DeviceBuffer> top_index,
                      cx_->NewBytes(sizeof(int64_t) * k_max));
  OC_ASSIGN_OR_RETURN(std::shared_ptr<cuda::DeviceBuffer> top_score,
                      cx_->NewBytes(sizeof(float) * k_max));
  // The kk best of scores[base, base + n): (flat index, score) pairs, positive
  // scores only.
  auto best_of = [&](int64_t base, int64_t n, int64_t kk)
      -> absl::StatusOr<std::vector<std::pair<int64_t, float>>> {
    std::vector<std::pair<int64_t, float>> out;
    kk = std::min(kk, n);
    if (kk <= 0) return out;
    OC_CUDA_RETURN_IF_ERROR(
        cuda::TopK(scores->as<float>() + base, n, kk, workspace->data(),
                   cuda::TopKWorkspaceBytes(total), top_index->as<int64_t>(),
                   top_score->as<float>(), stream_.get()),
        "top-k");
    std::vector<int64_t> idx(static_cast<size_t>(kk));
    std::vector<float> sc(static_cast<size_t>(kk));
    OC_CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(idx.data(), top_index->data(), sizeof(int64_t) * kk,
                        cudaMemcpyDeviceToHost, stream_.get()),
        "downloading the top-k");
    OC_CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(sc.data(), top_score->data(), sizeof(float) * kk,
                        cudaMemcpyDeviceToHost, stream_.get()),
        "downloading the top-k");
    OC_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_.get()), "top-k");
    for (int64_t j = 0; j < kk && sc[j] > 0.0f; ++j) {
      out.push_back({base + idx[j], sc[j]});
    }
    return out;
  };
  std::vector<std::pair<int64_t, float>> picked;
  for (size_t p = 0; p < params.size() && k_param > 0; ++p) {
    OC_ASSIGN_OR_RETURN(
        auto local, best_of(offsets[p], offsets[p + 1] - offsets[p], k_param));
    picked.insert(picked.end(), local.begin(), local.end());
  }
  OC_ASSIGN_OR_RETURN(auto global, best_of(0, total, k));
  for (const auto& g : global) {
    bool seen = false;
    for (const auto& q : picked) seen |= q.first == g.first;
    if (!seen) picked.push_back(g);
  }
  // Best first; ties by flat index = parameter order, then index.
  std::sort(picked.begin(), picked.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  for (const auto& [flat, score] : picked) {
    const size_t p = static_cast<size_t>(
        std::upper_bound(offsets.begin(), offsets.end(), flat) -
        offsets.begin() - 1);
    RankedValue v;
    v.param = static_cast<int>(p);
    v.index = flat - offsets[p];
    v.score = score;
    // Two floats per candidate: the weight and its gradient.
    const DValue& w = initializers_[value_ids_[params[p]]];
    OC_CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(&v.weight, w.data() + v.index, sizeof(float),
                        cudaMemcpyDeviceToHost, stream_.get()),
        "downloading a candidate");
    OC_CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(&v.grad, grads[p].data() + v.index, sizeof(float),
                        cudaMemcpyDeviceToHost, stream_.get()),
        "downloading a candidate");
    result.top.push_back(v);
  }
  OC_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_.get()), "top-k");
  return result;
}

absl::Status CudaEngine::SetInitializerValues(const std::string& name,
                                              absl::Span<const int64_t> indices,
                                              const Tensor& values) {
  auto it = graph_.initializers.find(name);
  if (it == graph_.initializers.end()) {
    return absl::NotFoundError(absl::StrCat("no initializer '", name, "'"));
  }
  Tensor& t = it->second;
  if (values.dtype() != t.dtype() ||
      values.numel() != static_cast<int64_t>(indices.size())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "initializer '", name, "' is ", t.DebugString(), "; got values ",
        values.DebugString(), " for ", indices.size(), " indices"));
  }
  const size_t elem = DTypeSize(t.dtype());
  for (size_t i = 0; i < indices.size(); ++i) {
    if (indices[i] < 0 || indices[i] >= t.numel()) {
      return absl::OutOfRangeError(
          absl::StrCat("index ", indices[i], " is outside initializer '", name,
                       "' of ", t.numel(), " elements"));
    }
  }
  // The host copy (kept for the graph) first, then the device copy.
  for (size_t i = 0; i < indices.size(); ++i) {
    std::memcpy(t.mutable_raw() + indices[i] * elem, values.raw() + i * elem,
                elem);
  }
  DValue& v = initializers_[value_ids_.at(name)];
  if (!v.on_device()) {
    v.host = t;
    return absl::OkStatus();
  }
  if (v.host.defined()) v.host = t;
  if (indices.empty()) return absl::OkStatus();
  const std::vector<int64_t> index_vec(indices.begin(), indices.end());
  OC_ASSIGN_OR_RETURN(std::shared_ptr<cuda::DeviceBuffer> d_index,
                      cx_->UploadInt64(index_vec));
  OC_ASSIGN_OR_RETURN(std::shared_ptr<cuda::DeviceBuffer> d_values,
                      cx_->NewBytes(values.nbytes()));
  OC_CUDA_RETURN_IF_ERROR(
      cudaMemcpyAsync(d_values->data(), values.raw(), values.nbytes(),
                      cudaMemcpyHostToDevice, stream_.get()),
      "SetInitializerValues '", name, "': cudaMemcpyAsync");
  OC_CUDA_RETURN_IF_ERROR(
      cuda::ScatterWords(v.buffer->as<uint32_t>(), d_index->as<int64_t>(),
                         d_values->as<uint32_t>(),
                         static_cast<int64_t>(indices.size()), stream_.get()),
      "SetInitializerValues '", name, "': ScatterWords");
  OC_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_.get()),
                          "SetInitializerValues '", name, "'");
  return absl::OkStatus();
}

absl::StatusOr<Tensor> CudaEngine::GetInitializer(
    const std::string& name) const {
  auto it = value_ids_.find(name);
  if (it == value_ids_.end() || !is_initializer_[it->second]) {
    return absl::NotFoundError(absl::StrCat("no initializer '", name, "'"));
  }
  return cx_->ToHost(initializers_[it->second]);
}

size_t CudaEngine::PeakDeviceBytes() const { return pool_->peak_bytes(); }

size_t CudaEngine::DeviceBytesHeld() const { return pool_->held_bytes(); }

}  // namespace onnx_crypt
