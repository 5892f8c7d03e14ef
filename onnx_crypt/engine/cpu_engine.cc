// Execution plan: value names are mapped to dense ids once (Plan); Run walks
// the steps in topological order. Forward-only runs free each intermediate
// after its last reader, so peak memory is about the widest cut of the graph;
// LossAndGradients keeps everything for backward. Backward visits the steps in
// reverse and accumulates dL/dv by summation (a value read by two nodes, like
// the input of a residual Add, receives the sum of both contributions).
#include "onnx_crypt/engine/cpu_engine.h"

#include <cblas.h>

#include <cstring>

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#include "absl/strings/str_cat.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/engine/loss.h"
#include "onnx_crypt/ops/registry.h"

namespace onnx_crypt {

namespace {

// Denormal floats (|x| < 1.2e-38) take a slow microcode path on x86: small
// activations times a LeakyRelu slope made a BatchNorm CNN 2.4x slower. For the
// duration of one engine call, flush them to zero (FTZ, and DAZ for inputs),
// then restore the caller's mode: the engine never changes the thread's state.
class ScopedFlushDenormals {
 public:
  ScopedFlushDenormals() {
#if defined(__SSE__)
    saved_ = _mm_getcsr();
    _mm_setcsr(saved_ | 0x8040);  // FTZ (bit 15) | DAZ (bit 6)
#endif
  }
  ~ScopedFlushDenormals() {
#if defined(__SSE__)
    _mm_setcsr(saved_);
#endif
  }
  ScopedFlushDenormals(const ScopedFlushDenormals&) = delete;
  ScopedFlushDenormals& operator=(const ScopedFlushDenormals&) = delete;

 private:
  unsigned int saved_ = 0;
};

template <typename T>
void AddInto(Tensor& acc, const Tensor& g) {
  T* a = acc.mutable_data<T>();
  const T* b = g.data<T>();
  for (int64_t i = 0; i < acc.numel(); ++i) a[i] += b[i];
}

absl::Status Accumulate(Tensor& acc, Tensor g, const std::string& value) {
  if (!acc.defined()) {
    acc = std::move(g);
    return absl::OkStatus();
  }
  if (acc.shape() != g.shape() || acc.dtype() != g.dtype()) {
    return absl::InternalError(
        absl::StrCat("gradient of '", value, "': ", g.DebugString(),
                     " does not match ", acc.DebugString()));
  }
  if (acc.dtype() == DType::kFloat64) {
    AddInto<double>(acc, g);
  } else {
    AddInto<float>(acc, g);
  }
  return absl::OkStatus();
}

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

}  // namespace

OutputKind DetectOutputKind(const Graph& graph) {
  if (graph.outputs.empty()) return OutputKind::kLogits;
  const int producer = graph.FindProducer(graph.outputs[0].name);
  if (producer < 0) return OutputKind::kLogits;
  const std::string& op = graph.nodes[producer].op_type;
  if (op == "Softmax") return OutputKind::kProbabilities;
  if (op == "LogSoftmax") return OutputKind::kLogProbabilities;
  return OutputKind::kLogits;
}

absl::StatusOr<std::unique_ptr<CpuEngine>> CpuEngine::Create(Graph graph,
                                                             int num_threads) {
  if (num_threads > 0) openblas_set_num_threads(num_threads);
  std::unique_ptr<CpuEngine> engine(new CpuEngine(std::move(graph)));
  OC_RETURN_IF_ERROR(engine->Plan());
  return engine;
}

absl::Status CpuEngine::Plan() {
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
    step.node = &node;
    for (const std::string& in : node.inputs)
      step.inputs.push_back(in.empty() ? -1 : id_of(in));
    for (const std::string& out : node.outputs) {
      step.outputs.push_back(out.empty() ? -1 : id_of(out));
    }
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
  initializer_of_.assign(value_names_.size(), nullptr);
  for (auto& [name, tensor] : graph_.initializers)
    initializer_of_[value_ids_[name]] = &tensor;
  last_use_.assign(value_names_.size(), -1);
  for (size_t s = 0; s < steps_.size(); ++s) {
    for (int id : steps_[s].inputs) {
      if (id >= 0) last_use_[id] = static_cast<int>(s);
    }
  }
  for (int id : output_ids_) last_use_[id] = static_cast<int>(steps_.size());
  return absl::OkStatus();
}

absl::Status CpuEngine::Forward(const Feeds& feeds, bool keep_all,
                                Activations& acts) {
  const size_t n = value_names_.size();
  acts.owned.assign(n, Tensor());
  acts.ref.assign(n, nullptr);
  acts.contexts.clear();
  if (keep_all) acts.contexts.resize(steps_.size());
  for (size_t i = 0; i < n; ++i) acts.ref[i] = initializer_of_[i];
  for (size_t k = 0; k < graph_.inputs.size(); ++k) {
    const ValueInfo& info = graph_.inputs[k];
    auto it = feeds.find(info.name);
    if (it == feeds.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("graph input '", info.name, "' is not fed"));
    }
    OC_RETURN_IF_ERROR(CheckFeed(info, it->second));
    acts.ref[input_ids_[k]] = &it->second;
  }
  const Tensor absent;
  for (size_t s = 0; s < steps_.size(); ++s) {
    const Step& step = steps_[s];
    TensorRefs inputs;
    inputs.reserve(step.inputs.size());
    for (size_t j = 0; j < step.inputs.size(); ++j) {
      const int id = step.inputs[j];
      if (id < 0) {
        inputs.push_back(&absent);
        continue;
      }
      if (acts.ref[id] == nullptr) {
        return absl::InternalError(absl::StrCat(step.node->Describe(),
                                                ": input '", value_names_[id],
                                                "' has no value"));
      }
      inputs.push_back(acts.ref[id]);
    }
    std::vector<Tensor> outputs(step.outputs.size());
    std::unique_ptr<OpContext> ctx;
    OC_RETURN_IF_ERROR(step.def->forward(*step.node, inputs, outputs, &ctx));
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
          acts.owned[id] = Tensor();
          acts.ref[id] = nullptr;
        }
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Tensor>> CpuEngine::Run(const Feeds& feeds) {
  ScopedFlushDenormals flush;
  Activations acts;
  OC_RETURN_IF_ERROR(Forward(feeds, /*keep_all=*/false, acts));
  std::vector<Tensor> outputs;
  for (int id : output_ids_) outputs.push_back(*acts.ref[id]);
  return outputs;
}

absl::StatusOr<LossResult> CpuEngine::LossAndGradients(
    const Feeds& feeds, absl::Span<const int64_t> labels,
    const std::vector<std::string>& params) {
  ScopedFlushDenormals flush;
  if (output_ids_.empty())
    return absl::InvalidArgumentError("graph has no output");
  const size_t n = value_names_.size();
  // requires[v]: dL/dv is needed because v depends on a requested parameter.
  std::vector<bool>
  requires(n, false);
  for (const std::string& p : params) {
    auto it = value_ids_.find(p);
    if (it == value_ids_.end() || initializer_of_[it->second] == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", p, "' is not an initializer"));
    }
    if (!IsFloatingPoint(initializer_of_[it->second]->dtype())) {
      return absl::InvalidArgumentError(
          absl::StrCat("initializer '", p, "' is not float"));
    }
    requires[it->second] = true;
  }
  for (const Step& step : steps_) {
    bool any = false;
    for (size_t j = 0; j < step.inputs.size(); ++j) {
      const int id = step.inputs[j];
      any |= id >= 0 && requires[id] &&
             ((step.def->differentiable_inputs >> j) & 1u);
    }
    if (!any) continue;
    for (int id : step.outputs) {
      if (id >= 0) requires[id] = true;
    }
  }

  Activations acts;
  OC_RETURN_IF_ERROR(Forward(feeds, /*keep_all=*/true, acts));
  LossResult result;
  result.output = *acts.ref[output_ids_[0]];
  OC_ASSIGN_OR_RETURN(LossAndGrad ce, CrossEntropy(result.output, labels,
                                                   DetectOutputKind(graph_)));
  result.loss = ce.loss;

  std::vector<Tensor> grads(n);
  grads[output_ids_[0]] = std::move(ce.grad);
  const Tensor absent;
  for (size_t s = steps_.size(); s-- > 0;) {
    const Step& step = steps_[s];
    bool has_upstream = false;
    for (int id : step.outputs) has_upstream |= id >= 0 && grads[id].defined();
    if (!has_upstream) continue;
    std::vector<bool> need(step.inputs.size(), false);
    bool any_need = false;
    for (size_t j = 0; j < step.inputs.size(); ++j) {
      const int id = step.inputs[j];
      need[j] = id >= 0 && requires[id] &&
                ((step.def->differentiable_inputs >> j) & 1u);
      any_need |= need[j];
    }
    if (!any_need) continue;
    if (step.def->backward == nullptr) {
      return absl::UnimplementedError(
          absl::StrCat(step.node->Describe(), ": no backward implementation"));
    }
    TensorRefs inputs, outputs, grad_outputs;
    for (int id : step.inputs)
      inputs.push_back(id >= 0 ? acts.ref[id] : &absent);
    for (int id : step.outputs) {
      outputs.push_back(id >= 0 ? acts.ref[id] : &absent);
      grad_outputs.push_back(id >= 0 ? &grads[id] : &absent);
    }
    std::vector<Tensor> grad_inputs(step.inputs.size());
    OC_RETURN_IF_ERROR(step.def->backward(*step.node, inputs, outputs,
                                          grad_outputs, acts.contexts[s].get(),
                                          need, grad_inputs));
    for (size_t j = 0; j < step.inputs.size(); ++j) {
      if (!need[j] || !grad_inputs[j].defined()) continue;
      const int id = step.inputs[j];
      OC_RETURN_IF_ERROR(Annotate(
          Accumulate(grads[id], std::move(grad_inputs[j]), value_names_[id]),
          step.node->Describe()));
    }
    // Upstream gradients of this step's outputs are no longer needed.
    for (int id : step.outputs) {
      if (id >= 0) grads[id] = Tensor();
    }
  }
  for (const std::string& p : params) {
    const int id = value_ids_[p];
    Tensor g = std::move(grads[id]);
    if (!g.defined())
      g = Tensor(initializer_of_[id]->dtype(), initializer_of_[id]->shape());
    result.grads[p] = std::move(g);
  }
  return result;
}

absl::Status CpuEngine::SetInitializerValues(const std::string& name,
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
    std::memcpy(t.mutable_raw() + indices[i] * elem, values.raw() + i * elem,
                elem);
  }
  return absl::OkStatus();
}

absl::StatusOr<Tensor> CpuEngine::GetInitializer(
    const std::string& name) const {
  auto it = graph_.initializers.find(name);
  if (it == graph_.initializers.end()) {
    return absl::NotFoundError(absl::StrCat("no initializer '", name, "'"));
  }
  return it->second;
}

}  // namespace onnx_crypt
