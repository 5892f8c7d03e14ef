// ExecutionPlan: what every engine needs to know about a graph before it runs
// it, built once per graph and shared by all backends.
//
//  - Value ids: every value name (initializer, graph input, node output) gets
//    a dense id; steps refer to values by id (-1 for an absent optional input
//    or an unnamed output).
//  - Steps: one per node, in the graph's topological order, each bound to its
//    op declaration (ops/registry.h) and to where it runs on the plan's
//    backend: the backend's own kernel, the host (integer shape arithmetic
//    such as Shape -> Gather -> Concat, whose inputs all live on the host), or
//    the CPU reference kernel as a fallback for an op the backend has no
//    kernel for (with explicit copies in and out).
//  - Last readers, so a forward-only run frees a value after its last use.
//  - Gradient needs: which values need dL/dv for a given set of parameters.
//  - Downstream steps of a set of values, for incremental re-execution.
//
// The plan holds pointers into the Graph it was built from: the graph must
// outlive the plan and must not be restructured (initializer values may
// change). Immutable after Build; safe to read from several threads.
#ifndef ONNX_CRYPT_ENGINE_PLAN_H_
#define ONNX_CRYPT_ENGINE_PLAN_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "onnx_crypt/ir/graph.h"
#include "onnx_crypt/ops/op.h"

namespace onnx_crypt {

enum class Placement {
  kKernel,    // the backend's own kernel for this op
  kHost,      // all inputs are host values (int64 shapes, constants)
  kFallback,  // no kernel on this backend: the CPU reference kernel
};

// "kernel", "host" or "cpu fallback".
const char* PlacementName(Placement placement);

struct PlanStep {
  const Node* node = nullptr;
  const OpDef* def = nullptr;  // the op's declaration and reference kernel
  Placement placement = Placement::kKernel;
  int kernel = -1;           // index into the backend's kernel table, or -1
  std::vector<int> inputs;   // value ids; -1 = absent optional input
  std::vector<int> outputs;  // value ids; -1 = unnamed output
};

// What a backend tells the planner.
struct BackendTraits {
  std::string name;  // "cpu", "cuda"
  // The backend's kernel for an op declaration at the node's opset: an index
  // into its own kernel table, or -1 when it has none (the step then falls
  // back to the CPU reference kernel).
  std::function<int(const OpDef& def, const Node& node)> find_kernel;
  // Whether the backend keeps float32 values in its own memory, so that steps
  // whose inputs are all other types (int64 shapes) run on the host instead.
  bool has_device_memory = false;
};

class ExecutionPlan {
 public:
  // Unimplemented naming op type, opset and node when a node has no op
  // declaration (so no path at all); InvalidArgument when a graph output is
  // produced by nothing.
  static absl::StatusOr<ExecutionPlan> Build(const Graph& graph,
                                             const BackendTraits& backend);

  const std::string& backend_name() const { return backend_name_; }
  const std::vector<PlanStep>& steps() const { return steps_; }
  size_t num_values() const { return value_names_.size(); }
  const std::string& value_name(int id) const { return value_names_[id]; }
  // -1 when the graph has no value of that name.
  int value_id(const std::string& name) const;
  const std::vector<int>& input_ids() const { return input_ids_; }
  const std::vector<int>& output_ids() const { return output_ids_; }
  // The initializer of a value, or nullptr when it is not one.
  const Tensor* initializer(int id) const { return initializer_of_[id]; }
  // The last step reading value `id` (steps().size() for graph outputs, -1
  // when nothing reads it).
  int last_reader(int id) const { return last_reader_[id]; }

  // needs[v] is true when dL/dv is needed because v depends, through
  // differentiable inputs, on one of `param_ids`.
  std::vector<bool> GradientNeeds(const std::vector<int>& param_ids) const;
  // The steps (ascending) whose result can change when any of `value_ids`
  // changes: the steps reading them and, transitively, their readers.
  std::vector<int> StepsDownstreamOf(const std::vector<int>& value_ids) const;
  // The steps (ascending) that do not run on the backend's own kernel: host
  // steps and CPU fallbacks.
  std::vector<int> StepsOffKernel() const;

 private:
  ExecutionPlan() = default;

  std::string backend_name_;
  std::vector<PlanStep> steps_;
  std::vector<std::string> value_names_;
  std::map<std::string, int> value_ids_;
  std::vector<int> input_ids_;
  std::vector<int> output_ids_;
  std::vector<const Tensor*> initializer_of_;
  std::vector<int> last_reader_;
};

// Whether a node's output `index` is a host value on a backend with device
// memory: anything but float32 (int64 shapes, indices, masks). Inferred from
// the op: Shape and Size give int64, Constant its attribute's type, every
// other op the type of its first input. kUndefined when unknown.
DType InferOutputDType(const Node& node, const std::vector<DType>& inputs);

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_ENGINE_PLAN_H_
