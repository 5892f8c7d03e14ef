// PlannedEngine<B>: the Engine interface over one ExecutionPlan, one Executor
// and a backend B (executor.h lists what a backend provides). Everything that
// is not device-specific lives here once: parameter and index checks, the
// order of forward, loss and backward, kept activations for incremental
// re-execution, and the host copy of the initializers.
//
// Besides the executor's contract a backend provides:
//   using CallScope = ...;   // RAII state for the duration of one call
//   // The backend's copy of each initializer (null for other value ids).
//   StatusOr<std::vector<const Value*>> BindInitializers(const ExecutionPlan&);
//   // Initializer `id` changed on the host (`host` is its new value and
//   // `indices` the elements that changed): update the backend's copy.
//   Status WriteInitializer(int id, const Tensor& host,
//                           Span<const int64_t> indices, const Tensor& values);
//   StatusOr<Tensor> ToHost(const Value&);   // copy
//   StatusOr<Tensor> TakeHost(Value&&);      // move where possible
//   Status Finish(const char* what);          // wait for queued work
//
// The host copy (graph().initializers) is always current: GetInitializer
// reads it.
#ifndef ONNX_CRYPT_ENGINE_PLANNED_ENGINE_H_
#define ONNX_CRYPT_ENGINE_PLANNED_ENGINE_H_

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/engine/engine.h"
#include "onnx_crypt/engine/executor.h"
#include "onnx_crypt/engine/plan.h"

namespace onnx_crypt {

// InvalidArgument / OutOfRange unless `values` (dtype of `t`, one per index)
// can be written at `indices` of initializer `name`.
absl::Status CheckInitializerWrite(const std::string& name, const Tensor& t,
                                   absl::Span<const int64_t> indices,
                                   const Tensor& values);

template <typename B>
class PlannedEngine : public Engine {
 public:
  using Value = typename B::Value;

  const Graph& graph() const override { return graph_; }
  const ExecutionPlan& plan() const override { return *plan_; }

  absl::StatusOr<std::vector<Tensor>> Run(const Feeds& feeds) override {
    typename B::CallScope scope;
    Activations<B> acts;
    OC_RETURN_IF_ERROR(executor_->Forward(feeds, Keep::kLastUse, acts));
    return Outputs(acts, "Run");
  }

  absl::StatusOr<std::vector<Tensor>> RunAndKeep(const Feeds& feeds) override {
    typename B::CallScope scope;
    // The kept values may point into the feeds: keep a copy of them too.
    kept_ = Activations<B>();
    kept_feeds_ = feeds;
    OC_RETURN_IF_ERROR(executor_->Forward(kept_feeds_, Keep::kValues, kept_));
    return Outputs(kept_, "RunAndKeep");
  }

  absl::StatusOr<std::vector<Tensor>> RerunChanged(
      const std::vector<std::string>& initializers) override {
    typename B::CallScope scope;
    std::vector<int> ids;
    for (const std::string& name : initializers) {
      const int id = plan_->value_id(name);
      if (id < 0 || plan_->initializer(id) == nullptr) {
        return absl::NotFoundError(absl::StrCat("no initializer '", name, "'"));
      }
      ids.push_back(id);
    }
    OC_RETURN_IF_ERROR(executor_->Rerun(plan_->StepsDownstreamOf(ids), kept_));
    return Outputs(kept_, "RerunChanged");
  }

  absl::StatusOr<LossResult> LossAndGradients(
      const Feeds& feeds, absl::Span<const int64_t> labels,
      const std::vector<std::string>& params) override {
    std::vector<Value> grads;
    OC_ASSIGN_OR_RETURN(LossResult result,
                        BackendGradients(feeds, labels, params, &grads));
    typename B::CallScope scope;
    for (size_t p = 0; p < params.size(); ++p) {
      const Tensor& w = *plan_->initializer(plan_->value_id(params[p]));
      if (!B::Defined(grads[p])) {
        result.grads[params[p]] = Tensor(w.dtype(), w.shape());
        continue;
      }
      OC_ASSIGN_OR_RETURN(result.grads[params[p]],
                          backend_->TakeHost(std::move(grads[p])));
    }
    OC_RETURN_IF_ERROR(backend_->Finish("LossAndGradients"));
    return result;
  }

  absl::Status SetInitializerValues(const std::string& name,
                                    absl::Span<const int64_t> indices,
                                    const Tensor& values) override {
    auto it = graph_.initializers.find(name);
    if (it == graph_.initializers.end()) {
      return absl::NotFoundError(absl::StrCat("no initializer '", name, "'"));
    }
    Tensor& t = it->second;
    OC_RETURN_IF_ERROR(CheckInitializerWrite(name, t, indices, values));
    const size_t elem = DTypeSize(t.dtype());
    for (size_t i = 0; i < indices.size(); ++i) {
      std::memcpy(t.mutable_raw() + indices[i] * elem, values.raw() + i * elem,
                  elem);
    }
    return backend_->WriteInitializer(plan_->value_id(name), t, indices,
                                      values);
  }

  absl::StatusOr<Tensor> GetInitializer(
      const std::string& name) const override {
    auto it = graph_.initializers.find(name);
    if (it == graph_.initializers.end()) {
      return absl::NotFoundError(absl::StrCat("no initializer '", name, "'"));
    }
    return it->second;
  }

 protected:
  explicit PlannedEngine(Graph graph) : graph_(std::move(graph)) {}

  // Builds the plan for `traits`, lets the backend bind its initializers, and
  // sets up the executor. Call once, from the derived class's Create.
  absl::Status Init(std::unique_ptr<B> backend, const BackendTraits& traits) {
    backend_ = std::move(backend);
    OC_ASSIGN_OR_RETURN(ExecutionPlan plan,
                        ExecutionPlan::Build(graph_, traits));
    plan_ = std::make_unique<ExecutionPlan>(std::move(plan));
    OC_ASSIGN_OR_RETURN(std::vector<const Value*> bound,
                        backend_->BindInitializers(*plan_));
    executor_ = std::make_unique<Executor<B>>(graph_, *plan_, *backend_,
                                              std::move(bound));
    return absl::OkStatus();
  }

  // Forward, loss and backward; (*grads)[i] is dL/d params[i] where the
  // backend keeps it (undefined when no gradient reaches it). The result holds
  // the loss and the first output, not the gradients.
  absl::StatusOr<LossResult> BackendGradients(
      const Feeds& feeds, absl::Span<const int64_t> labels,
      const std::vector<std::string>& params, std::vector<Value>* grads) {
    typename B::CallScope scope;
    if (plan_->output_ids().empty())
      return absl::InvalidArgumentError("graph has no output");
    std::vector<int> param_ids;
    for (const std::string& p : params) {
      const int id = plan_->value_id(p);
      if (id < 0 || plan_->initializer(id) == nullptr) {
        return absl::InvalidArgumentError(
            absl::StrCat("'", p, "' is not an initializer"));
      }
      if (!IsFloatingPoint(plan_->initializer(id)->dtype())) {
        return absl::InvalidArgumentError(
            absl::StrCat("initializer '", p, "' is not float"));
      }
      param_ids.push_back(id);
    }
    const std::vector<bool> needs = plan_->GradientNeeds(param_ids);
    Activations<B> acts;
    OC_RETURN_IF_ERROR(executor_->Forward(feeds, Keep::kForBackward, acts));
    LossResult result;
    OC_ASSIGN_OR_RETURN(result.output,
                        backend_->ToHost(*acts.ref[plan_->output_ids()[0]]));
    std::vector<Value> all;
    OC_ASSIGN_OR_RETURN(
        result.loss, executor_->Backward(acts, labels, DetectOutputKind(graph_),
                                         needs, all));
    grads->clear();
    for (int id : param_ids) grads->push_back(std::move(all[id]));
    return result;
  }

  B& backend() { return *backend_; }
  const B& backend() const { return *backend_; }

 private:
  absl::StatusOr<std::vector<Tensor>> Outputs(const Activations<B>& acts,
                                              const char* what) {
    std::vector<Tensor> outputs;
    for (int id : plan_->output_ids()) {
      OC_ASSIGN_OR_RETURN(Tensor t, backend_->ToHost(*acts.ref[id]));
      outputs.push_back(std::move(t));
    }
    OC_RETURN_IF_ERROR(backend_->Finish(what));
    return outputs;
  }

  Graph graph_;
  std::unique_ptr<B> backend_;
  std::unique_ptr<ExecutionPlan> plan_;
  std::unique_ptr<Executor<B>> executor_;
  Feeds kept_feeds_;  // RunAndKeep's feeds and values, for RerunChanged
  Activations<B> kept_;
};

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_ENGINE_PLANNED_ENGINE_H_
