// Engine: executes a Graph forward, and forward+backward with a cross-entropy
// loss, on one backend (engine/planned_engine.h; CPU in cpu_engine.h, CUDA in
// cuda/cuda_engine.h).
//
// An engine owns its copy of the graph's initializers (uploaded once for
// device backends); SetInitializerValues edits them in place between calls.
// The engine knows nothing about locking: it computes outputs and gradients.
// Not thread-safe: one caller at a time.
#ifndef ONNX_CRYPT_ENGINE_ENGINE_H_
#define ONNX_CRYPT_ENGINE_ENGINE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "onnx_crypt/ir/graph.h"
#include "onnx_crypt/ir/tensor.h"

namespace onnx_crypt {

class ExecutionPlan;

using Feeds = std::map<std::string, Tensor>;

// What the graph's first output holds, which decides how the loss reads it.
enum class OutputKind {
  kLogits,            // unnormalized scores: loss = logsumexp(z) - z_y
  kProbabilities,     // ends in Softmax: loss = -log(max(p_y, kProbFloor))
  kLogProbabilities,  // ends in LogSoftmax: loss = -logp_y
};

// One element of an initializer set to another value, for a trial
// (Engine::RunTrials). `value` holds one element of the initializer's dtype.
struct InitializerEdit {
  std::string initializer;
  int64_t index = 0;
  Tensor value;
};
// The edits of one trial, applied in order.
using Trial = std::vector<InitializerEdit>;

struct LossResult {
  double loss = 0.0;                    // mean cross-entropy over the batch
  Tensor output;                        // the graph's first output (N x C)
  std::map<std::string, Tensor> grads;  // dL/dθ for each requested initializer
};

class Engine {
 public:
  virtual ~Engine() = default;

  virtual const Graph& graph() const = 0;
  // The plan this engine executes: where each step runs (plan.h).
  virtual const ExecutionPlan& plan() const = 0;

  // Runs the graph; returns its outputs in graph order.
  virtual absl::StatusOr<std::vector<Tensor>> Run(const Feeds& feeds) = 0;

  // Incremental re-execution. RunAndKeep is Run that also keeps every value
  // (and a copy of the feeds, and what a backward pass needs). After
  // SetInitializerValues, RerunChanged re-runs only the steps downstream of
  // the named initializers and of every initializer changed since the kept
  // run, reusing every other kept value, and returns the outputs: bit for bit
  // what Run would return now. FailedPrecondition before any RunAndKeep;
  // NotFound for a name that is not an initializer.
  //
  // A slot knows which initializers differ from what it ran with (values
  // written and written back do not count): RunAndKeep (and
  // LossAndGradients with a keep_slot) on feeds equal to the kept ones
  // re-runs only the steps downstream of those, so a loop that changes a few
  // values between kept runs pays for what they change, with the same results.
  //
  // Kept runs live in kKeptSlots slots, so that the values of two sample sets
  // (all owner samples and a screening subset, say) can be kept at once; the
  // calls without a slot use slot 0.
  static constexpr int kKeptSlots = 6;
  virtual absl::StatusOr<std::vector<Tensor>> RunAndKeep(const Feeds& feeds,
                                                         int slot) = 0;
  virtual absl::StatusOr<std::vector<Tensor>> RerunChanged(
      const std::vector<std::string>& initializers, int slot) = 0;
  absl::StatusOr<std::vector<Tensor>> RunAndKeep(const Feeds& feeds) {
    return RunAndKeep(feeds, 0);
  }
  absl::StatusOr<std::vector<Tensor>> RerunChanged(
      const std::vector<std::string>& initializers) {
    return RerunChanged(initializers, 0);
  }

  // Trials over the kept values. For each trial, its edits are applied on
  // top of the engine's current initializers, only the steps downstream of the
  // edited initializers (and of those changed since the kept run) are re-run,
  // reading every other value from the last RunAndKeep (or
  // LossAndGradients) into `slot`, and the graph outputs
  // are returned: bit for bit what SetInitializerValues followed by Run would
  // return. Afterwards the initializers and the kept values are exactly as
  // before, so trials are independent of each other and of their order (a
  // backend may evaluate several at once). FailedPrecondition before any
  // kept run; NotFound / InvalidArgument / OutOfRange for a bad edit.
  virtual absl::StatusOr<std::vector<std::vector<Tensor>>> RunTrials(
      const std::vector<Trial>& trials, int slot) = 0;
  absl::StatusOr<std::vector<std::vector<Tensor>>> RunTrials(
      const std::vector<Trial>& trials) {
    return RunTrials(trials, 0);
  }

  // Runs the graph, takes the mean cross-entropy of the first output (N x C)
  // against `labels` (N class indices), and returns dL/dθ for each initializer
  // named in `params` (float32/64). With a `keep_slot` (not kNoSlot), the
  // forward pass is that slot's RunAndKeep (incremental on equal feeds, and
  // kept for RerunChanged and RunTrials): the backward pass then reads the
  // kept values.
  static constexpr int kNoSlot = -1;
  virtual absl::StatusOr<LossResult> LossAndGradients(
      const Feeds& feeds, absl::Span<const int64_t> labels,
      const std::vector<std::string>& params, int keep_slot) = 0;
  absl::StatusOr<LossResult> LossAndGradients(
      const Feeds& feeds, absl::Span<const int64_t> labels,
      const std::vector<std::string>& params) {
    return LossAndGradients(feeds, labels, params, kNoSlot);
  }

  // Overwrites elements of initializer `name`: element indices[i] becomes
  // values[i] (`values` has the initializer's dtype and indices.size()
  // elements). Bits are copied exactly.
  virtual absl::Status SetInitializerValues(const std::string& name,
                                            absl::Span<const int64_t> indices,
                                            const Tensor& values) = 0;

  // Current value of an initializer (host copy).
  virtual absl::StatusOr<Tensor> GetInitializer(
      const std::string& name) const = 0;
};

// How the first graph output is produced (Softmax / LogSoftmax / anything
// else).
OutputKind DetectOutputKind(const Graph& graph);

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_ENGINE_ENGINE_H_
