// The CPU backend: host tensors, the kernels of the op table (reference, or
// oneDNN where ops/cpu/fast_kernels.h says so), BLAS inside Conv/Gemm/MatMul.
// Gradients are summed element by element in the order the executor hands them
// over.
#include "onnx_crypt/engine/cpu_engine.h"

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#include "absl/strings/str_cat.h"
#include "onnx_crypt/engine/loss.h"
#include "onnx_crypt/ops/cpu/conv_fused.h"
#include "onnx_crypt/ops/cpu/fast_kernels.h"

namespace onnx_crypt {

namespace {

template <typename T>
void AddInto(Tensor& acc, const Tensor& g) {
  T* a = acc.mutable_data<T>();
  const T* b = g.data<T>();
  for (int64_t i = 0; i < acc.numel(); ++i) a[i] += b[i];
}

}  // namespace

// Denormal floats (|x| < 1.2e-38) take a slow microcode path on x86: small
// activations times a LeakyRelu slope made a BatchNorm CNN 2.4x slower. For the
// duration of one engine call, flush them to zero (FTZ, and DAZ for inputs),
// then restore the caller's mode: the engine never changes the thread's state.
CpuBackend::CallScope::CallScope() {
#if defined(__SSE__)
  saved_ = _mm_getcsr();
  _mm_setcsr(saved_ | 0x8040);  // FTZ (bit 15) | DAZ (bit 6)
#endif
}

CpuBackend::CallScope::~CallScope() {
#if defined(__SSE__)
  _mm_setcsr(saved_);
#endif
}

BackendTraits CpuBackend::Traits() {
  BackendTraits traits;
  traits.name = "cpu";
  traits.find_kernel = [](const OpDef&, const Node&) { return 0; };
  traits.has_device_memory = false;
  return traits;
}

absl::StatusOr<std::vector<const Tensor*>> CpuBackend::BindInitializers(
    const ExecutionPlan& plan) {
  std::vector<const Tensor*> bound(plan.num_values(), nullptr);
  for (size_t id = 0; id < plan.num_values(); ++id)
    bound[id] = plan.initializer(static_cast<int>(id));
  return bound;
}

absl::StatusOr<const Tensor*> CpuBackend::BindFeed(const ValueInfo& info,
                                                   const Tensor& t,
                                                   Tensor& storage) {
  return &t;  // read in place
}

absl::Status CpuBackend::Forward(const PlanStep& step, const TensorRefs& inputs,
                                 std::vector<Tensor>& outputs,
                                 std::unique_ptr<OpContext>* ctx) {
  return step.def->forward(*step.node, inputs, outputs, ctx);
}

absl::Status CpuBackend::Backward(
    const PlanStep& step, const TensorRefs& inputs, const TensorRefs& outputs,
    const TensorRefs& grad_outputs, const OpContext* ctx,
    const std::vector<bool>& need, std::vector<Tensor>& grad_inputs) {
  return step.def->backward(*step.node, inputs, outputs, grad_outputs, ctx,
                            need, grad_inputs);
}

ChainPlan CpuBackend::PlanChains(const ExecutionPlan& plan) {
  const std::vector<PlanStep>& steps = plan.steps();
  ChainPlan chains;
  chains.length.assign(steps.size(), 0);
  chains.native_output.assign(steps.size(), false);
  for (size_t s = 0; s < steps.size(); ++s) {
    if (steps[s].placement != Placement::kKernel) continue;
    std::vector<const Node*> nodes;
    for (size_t t = s; t < steps.size() && t < s + 5; ++t) {
      nodes.push_back(steps[t].node);
    }
    const size_t candidate = cpu::ConvChainLength(nodes);
    // The longest prefix whose intermediates are read by the next step only,
    // once, and whose steps have one output each.
    size_t n = 1;
    while (n < candidate) {
      const PlanStep& prev = steps[s + n - 1];
      const PlanStep& next = steps[s + n];
      if (prev.outputs.size() != 1 || prev.outputs[0] < 0 ||
          next.placement != Placement::kKernel || next.outputs.size() != 1 ||
          next.outputs[0] < 0) {
        break;
      }
      const int id = prev.outputs[0];
      if (plan.last_reader(id) != static_cast<int>(s + n)) break;
      int reads = 0;
      for (int in : next.inputs) reads += in == id;
      if (reads != 1) break;
      // BatchNormalization and the activations read it as their data input.
      if (next.node->op_type != "Add" && next.inputs[0] != id) break;
      ++n;
    }
    // A prefix that stops early must still be a chain in its own right
    // (Conv then BatchNormalization, Add or an activation): every prefix of
    // ConvChainLength's grammar is. A lone Conv (one output) runs as a chain
    // of one for its layouts.
    if (n > 1 ||
        (steps[s].node->domain.empty() && steps[s].node->op_type == "Conv" &&
         steps[s].outputs.size() == 1 && steps[s].outputs[0] >= 0)) {
      chains.length[s] = static_cast<int>(n);
    }
  }
  // Where a value may be read channels-last: as the X of a chain's Conv, or
  // as the other operand of the Add inside a chain.
  std::vector<int> reads(plan.num_values(), 0),
      native_reads(plan.num_values(), 0);
  for (size_t s = 0; s < steps.size(); ++s) {
    for (int id : steps[s].inputs) {
      if (id >= 0) ++reads[id];
    }
    const int length = chains.length[s];
    if (length == 0) continue;
    if (!steps[s].inputs.empty() && steps[s].inputs[0] >= 0) {
      ++native_reads[steps[s].inputs[0]];
    }
    for (int k = 1; k < length; ++k) {
      const PlanStep& step = steps[s + k];
      if (step.node->op_type != "Add") continue;
      for (int id : step.inputs) {
        if (id >= 0 && id != steps[s + k - 1].outputs[0]) ++native_reads[id];
      }
    }
  }
  std::vector<bool> graph_output(plan.num_values(), false);
  for (int id : plan.output_ids()) graph_output[id] = true;
  for (size_t s = 0; s < steps.size(); ++s) {
    if (chains.length[s] == 0) continue;
    const int out = steps[s + chains.length[s] - 1].outputs[0];
    chains.native_output[s] = out >= 0 && !graph_output[out] &&
                              reads[out] > 0 && reads[out] == native_reads[out];
  }
  return chains;
}

absl::StatusOr<bool> CpuBackend::ForwardChain(
    const ExecutionPlan& plan, size_t first, size_t count,
    const std::vector<std::vector<const Tensor*>>& inputs,
    const std::vector<std::vector<bool>>& native, bool native_output,
    Tensor& output, bool* output_native) {
  std::vector<const Node*> nodes;
  cpu::ChainLayouts layouts;
  layouts.y_nhwc = native_output;
  for (size_t i = 0; i < count; ++i) {
    nodes.push_back(plan.steps()[first + i].node);
    for (size_t j = 0; j < native[i].size(); ++j) {
      if (!native[i][j]) continue;
      if (i == 0 && j == 0) {
        layouts.x_nhwc = true;
      } else if (i > 0 && nodes[i]->op_type == "Add") {
        layouts.addend_nhwc = true;
      } else {
        return false;  // read where only the plain layout is understood
      }
    }
  }
  return cpu::ForwardConvChain(nodes, inputs, layouts, &output, output_native);
}

absl::StatusOr<Tensor> CpuBackend::ToPlain(const Tensor& t) {
  return cpu::ChangeChannelsLayout(t, /*to_nhwc=*/false);
}

absl::Status CpuBackend::Accumulate(Tensor& acc, Tensor g,
                                    const std::string& value) {
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

absl::StatusOr<double> CpuBackend::LossGradient(
    const Tensor& output, absl::Span<const int64_t> labels, OutputKind kind,
    Tensor* grad) {
  OC_ASSIGN_OR_RETURN(LossAndGrad ce, CrossEntropy(output, labels, kind));
  *grad = std::move(ce.grad);
  return ce.loss;
}

absl::StatusOr<std::unique_ptr<CpuEngine>> CpuEngine::Create(Graph graph,
                                                             int num_threads) {
  cpu::SetKernelThreads(num_threads);  // OpenBLAS and oneDNN alike
  std::unique_ptr<CpuEngine> engine(new CpuEngine(std::move(graph)));
  OC_RETURN_IF_ERROR(
      engine->Init(std::make_unique<CpuBackend>(), CpuBackend::Traits()));
  return engine;
}

}  // namespace onnx_crypt
