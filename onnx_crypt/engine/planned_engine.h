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

#include <algorithm>
#include <cstring>
#include <map>
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

  using Engine::LossAndGradients;
  using Engine::RerunChanged;
  using Engine::RunAndKeep;
  using Engine::RunTrials;

  const Graph& graph() const override { return graph_; }
  const ExecutionPlan& plan() const override { return *plan_; }

  absl::StatusOr<std::vector<Tensor>> Run(const Feeds& feeds) override {
    typename B::CallScope scope;
    Activations<B> acts;
    OC_RETURN_IF_ERROR(executor_->Forward(feeds, Keep::kLastUse, acts));
    return Outputs(acts, "Run");
  }

  absl::StatusOr<std::vector<Tensor>> RunAndKeep(const Feeds& feeds,
                                                 int slot) override {
    typename B::CallScope scope;
    OC_ASSIGN_OR_RETURN(Kept * kept, Slot(slot));
    OC_RETURN_IF_ERROR(Refresh(*kept, feeds));
    return Outputs(kept->acts, "RunAndKeep");
  }

  absl::StatusOr<std::vector<Tensor>> RerunChanged(
      const std::vector<std::string>& initializers, int slot) override {
    typename B::CallScope scope;
    OC_ASSIGN_OR_RETURN(Kept * kept, Slot(slot));
    std::vector<int> ids;
    for (const std::string& name : initializers) {
      const int id = plan_->value_id(name);
      if (id < 0 || plan_->initializer(id) == nullptr) {
        return absl::NotFoundError(absl::StrCat("no initializer '", name, "'"));
      }
      ids.push_back(id);
    }
    OC_RETURN_IF_ERROR(RerunKept(*kept, std::move(ids)));
    return Outputs(kept->acts, "RerunChanged");
  }

  absl::StatusOr<std::vector<std::vector<Tensor>>> RunTrials(
      const std::vector<Trial>& trials, int slot) override {
    typename B::CallScope scope;
    OC_ASSIGN_OR_RETURN(const Kept* kept, Slot(slot));
    if (!kept->acts.complete) {
      return absl::FailedPreconditionError(
          "RunTrials needs the values of a kept run (RunAndKeep)");
    }
    // Initializers changed since the kept run are re-run by every trial.
    const std::vector<int> changed = ChangedSince(*kept);
    std::vector<std::vector<Tensor>> results;
    results.reserve(trials.size());
    for (const Trial& trial : trials) {
      // Check every edit before changing anything.
      std::vector<int> ids;
      for (const InitializerEdit& e : trial) {
        const int id = plan_->value_id(e.initializer);
        if (id < 0 || plan_->initializer(id) == nullptr) {
          return absl::NotFoundError(
              absl::StrCat("no initializer '", e.initializer, "'"));
        }
        const int64_t index[] = {e.index};
        OC_RETURN_IF_ERROR(CheckInitializerWrite(
            e.initializer, graph_.initializers.at(e.initializer), index,
            e.value));
        ids.push_back(id);
      }
      // Apply the edits, remembering the values they replace (in order, so
      // that writing them back in reverse undoes repeated edits too).
      std::vector<Tensor> replaced;
      absl::Status status;
      size_t applied = 0;
      for (; applied < trial.size() && status.ok(); ++applied) {
        const InitializerEdit& e = trial[applied];
        Tensor& t = graph_.initializers.at(e.initializer);
        replaced.push_back(ElementOf(t, e.index));
        status = WriteChecked(ids[applied], t, {e.index}, e.value);
      }
      std::vector<Tensor> outputs;
      if (status.ok()) {
        ids.insert(ids.end(), changed.begin(), changed.end());
        Activations<B> overlay;
        status = executor_->RerunOver(plan_->StepsDownstreamOf(ids), kept->acts,
                                      overlay);
        if (status.ok()) {
          absl::StatusOr<std::vector<Tensor>> out = Outputs(overlay, "trial");
          if (out.ok()) {
            outputs = std::move(*out);
          } else {
            status = out.status();
          }
        }
      }
      for (size_t k = applied; k-- > 0;) {
        const InitializerEdit& e = trial[k];
        const absl::Status undo =
            WriteChecked(ids[k], graph_.initializers.at(e.initializer),
                         {e.index}, replaced[k]);
        if (!undo.ok()) {
          return absl::InternalError(
              absl::StrCat("a trial could not put initializer '", e.initializer,
                           "' back: ", undo.ToString()));
        }
      }
      OC_RETURN_IF_ERROR(status);
      results.push_back(std::move(outputs));
    }
    return results;
  }

  absl::StatusOr<LossResult> LossAndGradients(
      const Feeds& feeds, absl::Span<const int64_t> labels,
      const std::vector<std::string>& params, int keep_slot) override {
    std::vector<Value> grads;
    OC_ASSIGN_OR_RETURN(
        LossResult result,
        BackendGradients(feeds, labels, params, &grads, keep_slot));
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
    const int id = plan_->value_id(name);
    // Each kept run remembers what it ran with, element by element (before
    // the write: a failed write may have changed part of it).
    for (Kept& kept : kept_) {
      if (!kept.acts.complete) continue;
      std::map<int64_t, uint64_t>& was = kept.before[id];
      for (int64_t i : indices) {
        was.emplace(i, ElementBits(t, i));  // the first write since counts
      }
    }
    return WriteChecked(id, t, indices, values);
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
      const std::vector<std::string>& params, std::vector<Value>* grads,
      int keep_slot = kNoSlot) {
    typename B::CallScope scope;
    Kept* kept = nullptr;
    if (keep_slot != kNoSlot) {
      OC_ASSIGN_OR_RETURN(kept, Slot(keep_slot));
    }
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
    Activations<B> local;
    Activations<B>& acts = kept != nullptr ? kept->acts : local;
    if (kept != nullptr) {
      OC_RETURN_IF_ERROR(Refresh(*kept, feeds));
    } else {
      OC_RETURN_IF_ERROR(executor_->Forward(feeds, Keep::kForBackward, acts));
    }
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
  // Element `index` of `t` as a one-element tensor.
  static Tensor ElementOf(const Tensor& t, int64_t index) {
    Tensor e(t.dtype(), {1});
    const size_t elem = DTypeSize(t.dtype());
    std::memcpy(e.mutable_raw(), t.raw() + index * elem, elem);
    return e;
  }
  // Writes checked `values` at `indices` into the host copy `t` of
  // initializer `id` and into the backend's copy.
  absl::Status WriteChecked(int id, Tensor& t,
                            absl::Span<const int64_t> indices,
                            const Tensor& values) {
    const size_t elem = DTypeSize(t.dtype());
    for (size_t i = 0; i < indices.size(); ++i) {
      std::memcpy(t.mutable_raw() + indices[i] * elem, values.raw() + i * elem,
                  elem);
    }
    return backend_->WriteInitializer(id, t, indices, values);
  }

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
  // A kept run: its feeds, values and op contexts (all a backward pass
  // needs), and for every initializer element written since it ran, the
  // bits it ran with (per initializer id, per element).
  struct Kept {
    Feeds feeds;
    Activations<B> acts;
    std::map<int, std::map<int64_t, uint64_t>> before;
  };
  // The initializers (ascending ids) that now differ from what `kept` ran
  // with. Values written and written back do not count: a loop that moves
  // between states re-runs only what differs.
  std::vector<int> ChangedSince(const Kept& kept) const {
    std::vector<int> ids;
    for (const auto& [id, was] : kept.before) {
      const Tensor& t = *plan_->initializer(id);
      // Elements wider than 8 bytes are not compared: they count as changed.
      const bool wide = DTypeSize(t.dtype()) > sizeof(uint64_t);
      for (const auto& [i, bits] : was) {
        if (wide || ElementBits(t, i) != bits) {
          ids.push_back(id);
          break;
        }
      }
    }
    return ids;
  }
  // Brings `kept` up to date for `feeds`. A complete kept run on equal feeds
  // re-runs only the steps downstream of the initializers changed since (bit
  // for bit a full forward pass); anything else runs a full forward pass on a
  // copy of the feeds (the kept values may point into them).
  absl::Status Refresh(Kept& kept, const Feeds& feeds) {
    if (kept.acts.complete && !kept.acts.contexts.empty() &&
        SameFeeds(kept.feeds, feeds)) {
      return RerunKept(kept, {});
    }
    kept = Kept();
    kept.feeds = feeds;
    const absl::Status status =
        executor_->Forward(kept.feeds, Keep::kForBackward, kept.acts);
    if (!status.ok()) kept = Kept();
    return status;
  }
  // Re-runs, in place, the steps of `kept` downstream of `ids` and of the
  // initializers changed since its run; it is then up to date. On an error
  // it is no longer a kept run (partly re-run).
  absl::Status RerunKept(Kept& kept, std::vector<int> ids) {
    const std::vector<int> changed = ChangedSince(kept);
    ids.insert(ids.end(), changed.begin(), changed.end());
    const absl::Status status =
        executor_->Rerun(plan_->StepsDownstreamOf(ids), kept.acts);
    if (!status.ok()) {
      kept = Kept();
      return status;
    }
    kept.before.clear();
    return absl::OkStatus();
  }
  // The bits of element `i` of `t` (its first 8 bytes).
  static uint64_t ElementBits(const Tensor& t, int64_t i) {
    const size_t elem = DTypeSize(t.dtype());
    uint64_t bits = 0;
    std::memcpy(&bits, t.raw() + i * elem, std::min(elem, sizeof bits));
    return bits;
  }
  static bool SameFeeds(const Feeds& a, const Feeds& b) {
    if (a.size() != b.size()) return false;
    for (auto i = a.begin(), j = b.begin(); i != a.end(); ++i, ++j) {
      if (i->first != j->first || i->second.dtype() != j->second.dtype() ||
          i->second.shape() != j->second.shape() ||
          i->second.nbytes() != j->second.nbytes() ||
          std::memcmp(i->second.raw(), j->second.raw(), i->second.nbytes()) !=
              0) {
        return false;
      }
    }
    return true;
  }
  absl::StatusOr<Kept*> Slot(int slot) {
    if (slot < 0 || slot >= kKeptSlots) {
      return absl::InvalidArgumentError(absl::StrCat(
          "kept-run slot ", slot, " is not in [0, ", kKeptSlots, ")"));
    }
    return &kept_[slot];
  }
  Kept kept_[kKeptSlots];
};

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_ENGINE_PLANNED_ENGINE_H_
