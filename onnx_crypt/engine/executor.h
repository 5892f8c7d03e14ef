// Executor: the one walk over an ExecutionPlan, forward, in reverse and
// incrementally, on any backend.
//
// A backend B is a class with (the CPU backend, engine/cpu_engine.cc, and the
// CUDA backend, engine/cuda/cuda_engine.cc, are the two):
//   using Value = ...;                 // a tensor where B keeps it;
//                                      // default-constructed = undefined
//   static bool Defined(const Value&);
//   // A graph input: checks B can take it, returns the value to read (either
//   // &t's own storage or `storage`, filled).
//   StatusOr<const Value*> BindFeed(const ValueInfo&, const Tensor& t,
//                                   Value& storage);
//   // One step forward / backward, at the step's placement (its own kernel,
//   // the host, or the CPU fallback with copies in and out).
//   Status Forward(const PlanStep&, const std::vector<const Value*>& inputs,
//                  std::vector<Value>& outputs, std::unique_ptr<OpContext>*);
//   Status Backward(const PlanStep&, inputs, outputs, grad_outputs,
//                   const OpContext*, const std::vector<bool>& need,
//                   std::vector<Value>& grad_inputs);
//   // acc += g (acc undefined: acc = g).
//   Status Accumulate(Value& acc, Value g, const std::string& value_name);
//   // Mean cross-entropy of `output` (N x C) and its gradient.
//   StatusOr<double> LossGradient(const Value& output, Span<const int64_t>,
//                                 OutputKind, Value* grad);
// and optionally, to run chains of steps as one call where no intermediate
// value is kept, handing values between chains in a layout of its own:
//   // ChainPlan (below): per step, the chain that starts there, if any.
//   ChainPlan PlanChains(const ExecutionPlan&);
//   // Runs steps [first, first + count): inputs[i] are step first + i's
//   // inputs (null for the previous step's output), native[i][j] whether
//   // inputs[i][j] is in the backend's native layout; `native_output`:
//   // whether the output may be left in it. On true `output` is the last
//   // step's first output, equal bit for bit to running the steps one by one
//   // (in the native layout where *output_native says so); false: nothing
//   // done, the steps run one by one.
//   StatusOr<bool> ForwardChain(const ExecutionPlan&, size_t first,
//                               size_t count,
//                               const std::vector<std::vector<const Value*>>&,
//                               const std::vector<std::vector<bool>>& native,
//                               bool native_output, Value& output,
//                               bool* output_native);
//   // A native-layout value in the plain layout (same values).
//   StatusOr<Value> ToPlain(const Value&);
// A native value is only ever read by ForwardChain: before any other step
// reads it, and before it is returned as a graph output, the executor turns
// it plain (once, in place).
//
// Forward: steps in plan order; with Keep::kLastUse a value is freed after its
// last reader (peak memory about the widest cut of the graph) and chains run
// as one call where the backend offers them, otherwise every value is kept
// (and with kForBackward every op context too).
// Backward: steps in reverse; dL/dv is summed over v's readers (a value read
// by two nodes, like the input of a residual Add, receives both
// contributions), in the order the readers run backwards.
// Rerun: after initializer values changed in place, re-runs the given steps
// (ExecutionPlan::StepsDownstreamOf) over kept values; every other value is
// reused, so the result equals a full forward bit for bit. RerunOver does the
// same into a separate overlay, leaving the kept values as they were (a
// trial); it runs the backend's chains where all the steps of one are re-run.
//
// Not thread-safe; one executor per engine.
#ifndef ONNX_CRYPT_ENGINE_EXECUTOR_H_
#define ONNX_CRYPT_ENGINE_EXECUTOR_H_

#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "onnx_crypt/base/memory_budget.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/engine/engine.h"
#include "onnx_crypt/engine/plan.h"
#include "onnx_crypt/ir/graph.h"
#include "onnx_crypt/ops/op.h"

namespace onnx_crypt {

// Checks a fed tensor against the graph input's declared type and shape
// (unknown dimensions match anything).
absl::Status CheckFeed(const ValueInfo& info, const Tensor& t);

enum class Keep { kLastUse, kValues, kForBackward };

// A backend's chains (PlanChains above), per plan step s: length[s] = 0 when
// step s runs alone, n >= 1 when steps [s, s + n) may run as one ForwardChain
// call (n = 1: one step, for its layouts); each intermediate output is read by
// the next step only. native_output[s]: every reader of that chain's output is
// a chain that takes it in the native layout, so it may stay there.
struct ChainPlan {
  std::vector<int> length;
  std::vector<bool> native_output;
};

// Whether backend B runs chains of steps (PlanChains / ForwardChain above).
template <typename B, typename = void>
struct HasForwardChains : std::false_type {};
template <typename B>
struct HasForwardChains<B, std::void_t<decltype(&B::PlanChains)>>
    : std::true_type {};

template <typename B>
struct Activations {
  using Value = typename B::Value;
  std::vector<Value> owned;       // per value id: computed or uploaded values
  std::vector<const Value*> ref;  // per value id: where its value is, or null
  std::vector<std::unique_ptr<OpContext>> contexts;  // per step (backward)
  bool complete = false;  // every value kept (Keep::kValues or kForBackward)
};

template <typename B>
class Executor {
 public:
  using Value = typename B::Value;

  // `initializers[id]` is the backend's copy of initializer `id` (null for
  // other values); they are read in place, so edits show in the next run.
  Executor(const Graph& graph, const ExecutionPlan& plan, B& backend,
           std::vector<const Value*> initializers)
      : graph_(graph),
        plan_(plan),
        backend_(backend),
        initializers_(std::move(initializers)) {
    if constexpr (HasForwardChains<B>::value) {
      chains_ = backend_.PlanChains(plan_);
    }
  }

  absl::Status Forward(const Feeds& feeds, Keep keep,
                       Activations<B>& acts) const {
    const size_t n = plan_.num_values();
    acts.owned.assign(n, Value());
    acts.ref.assign(n, nullptr);
    acts.contexts.clear();
    acts.complete = keep != Keep::kLastUse;
    if (keep == Keep::kForBackward) acts.contexts.resize(plan_.steps().size());
    for (size_t i = 0; i < n; ++i) acts.ref[i] = initializers_[i];
    for (size_t k = 0; k < graph_.inputs.size(); ++k) {
      const ValueInfo& info = graph_.inputs[k];
      auto it = feeds.find(info.name);
      if (it == feeds.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat("graph input '", info.name, "' is not fed"));
      }
      OC_RETURN_IF_ERROR(CheckFeed(info, it->second));
      const int id = plan_.input_ids()[k];
      OC_ASSIGN_OR_RETURN(acts.ref[id],
                          backend_.BindFeed(info, it->second, acts.owned[id]));
    }
    // Which values a chain left in the backend's native layout (kLastUse).
    std::vector<bool> native(n, false);
    for (size_t s = 0; s < plan_.steps().size();) {
      size_t count = 1;
      bool chained = false;
      if (keep == Keep::kLastUse && s < chains_.length.size() &&
          chains_.length[s] > 0) {
        OC_ASSIGN_OR_RETURN(
            chained,
            RunChain(s, static_cast<size_t>(chains_.length[s]), acts, native));
        if (chained) count = static_cast<size_t>(chains_.length[s]);
      }
      if (!chained) {
        OC_RETURN_IF_ERROR(MakePlain(plan_.steps()[s].inputs, acts, native));
        OC_RETURN_IF_ERROR(RunStep(s, keep == Keep::kForBackward, acts));
      }
      for (size_t t = s; t < s + count && keep == Keep::kLastUse; ++t) {
        for (int id : plan_.steps()[t].inputs) {
          if (id >= 0 && plan_.last_reader(id) == static_cast<int>(t) &&
              B::Defined(acts.owned[id])) {
            acts.owned[id] = Value();
            acts.ref[id] = nullptr;
          }
        }
      }
      s += count;
    }
    return MakePlain(plan_.output_ids(), acts, native);
  }

  // Re-runs `steps` (ascending) over the values of a complete forward pass.
  absl::Status Rerun(const std::vector<int>& steps,
                     Activations<B>& acts) const {
    if (!acts.complete) {
      return absl::FailedPreconditionError(
          "incremental re-execution needs a forward pass that kept its values");
    }
    const bool keep_contexts = !acts.contexts.empty();
    for (int s : steps) {
      OC_RETURN_IF_ERROR(RunStep(static_cast<size_t>(s), keep_contexts, acts));
    }
    return absl::OkStatus();
  }

  // Re-runs `steps` (ascending) into `overlay`, reading every value that the
  // steps do not produce from `base` (a complete forward pass), which stays
  // unchanged. A re-computed value is released after its last reader unless
  // it is a graph output, so `overlay` ends up holding the outputs the steps
  // produced, and pointers into `base` for the rest.
  absl::Status RerunOver(const std::vector<int>& steps,
                         const Activations<B>& base,
                         Activations<B>& overlay) const {
    if (!base.complete) {
      return absl::FailedPreconditionError(
          "incremental re-execution needs a forward pass that kept its values");
    }
    overlay.owned.assign(plan_.num_values(), Value());
    overlay.ref = base.ref;
    overlay.contexts.clear();
    overlay.complete = false;
    // Chains run as in a kLastUse forward where all their steps are re-run
    // (a chain's intermediates are read by its next step alone).
    std::vector<bool> native(plan_.num_values(), false);
    for (size_t k = 0; k < steps.size();) {
      const int s = steps[k];
      size_t count = 1;
      bool chained = false;
      const size_t length = static_cast<size_t>(s) < chains_.length.size()
                                ? static_cast<size_t>(chains_.length[s])
                                : 0;
      if (length > 0 && k + length <= steps.size() &&
          steps[k + length - 1] == s + static_cast<int>(length) - 1) {
        OC_ASSIGN_OR_RETURN(
            chained, RunChain(static_cast<size_t>(s), length, overlay, native));
        if (chained) count = length;
      }
      if (!chained) {
        OC_RETURN_IF_ERROR(MakePlain(plan_.steps()[s].inputs, overlay, native));
        OC_RETURN_IF_ERROR(RunStep(static_cast<size_t>(s), false, overlay));
      }
      for (int t = s; t < s + static_cast<int>(count); ++t) {
        for (int id : plan_.steps()[t].inputs) {
          if (id >= 0 && plan_.last_reader(id) == t &&
              B::Defined(overlay.owned[id])) {
            overlay.owned[id] = Value();
            overlay.ref[id] = nullptr;
          }
        }
      }
      k += count;
    }
    return MakePlain(plan_.output_ids(), overlay, native);
  }

  // Loss of the first graph output against `labels`, then dL/dv for every
  // value v with needs[v], walking the steps in reverse. On return grads[v] is
  // defined for the needed values that receive a gradient (initializers among
  // them; intermediate gradients are released once consumed).
  absl::StatusOr<double> Backward(Activations<B>& acts,
                                  absl::Span<const int64_t> labels,
                                  OutputKind kind,
                                  const std::vector<bool>& needs,
                                  std::vector<Value>& grads) const {
    const int out = plan_.output_ids()[0];
    grads.assign(plan_.num_values(), Value());
    OC_ASSIGN_OR_RETURN(
        const double loss,
        backend_.LossGradient(*acts.ref[out], labels, kind, &grads[out]));
    const Value absent;
    const std::vector<PlanStep>& steps = plan_.steps();
    for (size_t s = steps.size(); s-- > 0;) {
      const PlanStep& step = steps[s];
      bool has_upstream = false;
      for (int id : step.outputs)
        has_upstream |= id >= 0 && B::Defined(grads[id]);
      if (!has_upstream) continue;
      std::vector<bool> need(step.inputs.size(), false);
      bool any_need = false;
      for (size_t j = 0; j < step.inputs.size(); ++j) {
        const int id = step.inputs[j];
        need[j] = id >= 0 && needs[id] && step.def->IsDifferentiable(j);
        any_need |= need[j];
      }
      if (!any_need) continue;
      if (step.def->backward == nullptr) {
        return absl::UnimplementedError(absl::StrCat(
            step.node->Describe(), ": no backward implementation"));
      }
      std::vector<const Value*> inputs, outputs, grad_outputs;
      for (int id : step.inputs)
        inputs.push_back(id >= 0 ? acts.ref[id] : &absent);
      for (int id : step.outputs) {
        outputs.push_back(id >= 0 ? acts.ref[id] : &absent);
        grad_outputs.push_back(id >= 0 ? &grads[id] : &absent);
      }
      std::vector<Value> grad_inputs(step.inputs.size());
      OC_RETURN_IF_ERROR(CatchAllocationFailure(step.node->Describe(), [&]() {
        return backend_.Backward(step, inputs, outputs, grad_outputs,
                                 acts.contexts[s].get(), need, grad_inputs);
      }));
      // The upstream gradients of this step's outputs are consumed: release
      // them first, so a gradient that aliases one of them can be summed into
      // in place.
      for (int id : step.outputs) {
        if (id >= 0) grads[id] = Value();
      }
      for (size_t j = 0; j < step.inputs.size(); ++j) {
        if (!need[j] || !B::Defined(grad_inputs[j])) continue;
        const int id = step.inputs[j];
        OC_RETURN_IF_ERROR(CatchAllocationFailure(step.node->Describe(), [&]() {
          return Annotate(
              backend_.Accumulate(grads[id], std::move(grad_inputs[j]),
                                  plan_.value_name(id)),
              step.node->Describe());
        }));
      }
    }
    return loss;
  }

 private:
  // Steps [first, first + count) as one backend call (ForwardChain); false
  // when the backend declined them.
  absl::StatusOr<bool> RunChain(size_t first, size_t count,
                                Activations<B>& acts,
                                std::vector<bool>& native) const {
    if constexpr (HasForwardChains<B>::value) {
      const Value absent;
      std::vector<std::vector<const Value*>> inputs(count);
      std::vector<std::vector<bool>> native_inputs(count);
      for (size_t i = 0; i < count; ++i) {
        const PlanStep& step = plan_.steps()[first + i];
        const int previous =
            i == 0 ? -1 : plan_.steps()[first + i - 1].outputs[0];
        for (int id : step.inputs) {
          native_inputs[i].push_back(id >= 0 && id != previous && native[id]);
          if (id >= 0 && id == previous) {
            inputs[i].push_back(nullptr);
          } else if (id < 0) {
            inputs[i].push_back(&absent);
          } else if (acts.ref[id] == nullptr) {
            return absl::InternalError(
                absl::StrCat(step.node->Describe(), ": input '",
                             plan_.value_name(id), "' has no value"));
          } else {
            inputs[i].push_back(acts.ref[id]);
          }
        }
      }
      const PlanStep& last = plan_.steps()[first + count - 1];
      Value output;
      bool chained = false, output_native = false;
      OC_RETURN_IF_ERROR(CatchAllocationFailure(last.node->Describe(), [&]() {
        absl::StatusOr<bool> r = backend_.ForwardChain(
            plan_, first, count, inputs, native_inputs,
            chains_.native_output[first], output, &output_native);
        if (!r.ok()) return r.status();
        chained = *r;
        return absl::OkStatus();
      }));
      if (!chained) return false;
      const int id = last.outputs[0];
      acts.owned[id] = std::move(output);
      acts.ref[id] = &acts.owned[id];
      native[id] = output_native;
      return true;
    } else {
      return false;
    }
  }

  // The values `ids` that a chain left in the native layout, made plain.
  absl::Status MakePlain(const std::vector<int>& ids, Activations<B>& acts,
                         std::vector<bool>& native) const {
    if constexpr (HasForwardChains<B>::value) {
      for (int id : ids) {
        if (id < 0 || !native[id]) continue;
        OC_ASSIGN_OR_RETURN(Value plain, backend_.ToPlain(*acts.ref[id]));
        acts.owned[id] = std::move(plain);
        acts.ref[id] = &acts.owned[id];
        native[id] = false;
      }
    }
    return absl::OkStatus();
  }

  absl::Status RunStep(size_t s, bool keep_context,
                       Activations<B>& acts) const {
    const PlanStep& step = plan_.steps()[s];
    const Value absent;
    std::vector<const Value*> inputs;
    inputs.reserve(step.inputs.size());
    for (int id : step.inputs) {
      if (id < 0) {
        inputs.push_back(&absent);
        continue;
      }
      if (acts.ref[id] == nullptr) {
        return absl::InternalError(
            absl::StrCat(step.node->Describe(), ": input '",
                         plan_.value_name(id), "' has no value"));
      }
      inputs.push_back(acts.ref[id]);
    }
    std::vector<Value> outputs(step.outputs.size());
    std::unique_ptr<OpContext> ctx;
    OC_RETURN_IF_ERROR(CatchAllocationFailure(step.node->Describe(), [&]() {
      return backend_.Forward(step, inputs, outputs, &ctx);
    }));
    for (size_t j = 0; j < step.outputs.size(); ++j) {
      const int id = step.outputs[j];
      if (id < 0) continue;
      if (!B::Defined(outputs[j])) {
        return absl::InternalError(
            absl::StrCat(step.node->Describe(), ": output '",
                         plan_.value_name(id), "' was not produced"));
      }
      acts.owned[id] = std::move(outputs[j]);
      acts.ref[id] = &acts.owned[id];
    }
    if (keep_context) acts.contexts[s] = std::move(ctx);
    return absl::OkStatus();
  }

  const Graph& graph_;
  const ExecutionPlan& plan_;
  B& backend_;
  std::vector<const Value*> initializers_;
  ChainPlan chains_;  // empty: the backend has no chains
};

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_ENGINE_EXECUTOR_H_
