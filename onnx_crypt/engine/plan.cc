// Building the plan is one pass over the nodes in topological order: ids are
// handed out in a fixed order (initializers by name, graph inputs, then node
// inputs and outputs as they appear), so two plans of one graph are equal.
//
// Host steps (backends with device memory only): a value is a host value when
// its type is known and is not float32. A step all of whose present inputs are
// host values (a Constant has none) runs on the host; its outputs are host
// values unless InferOutputDType says float32. This is a static prediction:
// backends still move a value to where a step needs it, so a wrong guess costs
// a copy, never a wrong result.
#include "onnx_crypt/engine/plan.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/ops/registry.h"

namespace onnx_crypt {

const char* PlacementName(Placement placement) {
  switch (placement) {
    case Placement::kKernel:
      return "kernel";
    case Placement::kHost:
      return "host";
    case Placement::kFallback:
      return "cpu fallback";
  }
  return "?";
}

DType InferOutputDType(const Node& node, const std::vector<DType>& inputs) {
  if (node.domain.empty()) {
    if (node.op_type == "Shape" || node.op_type == "Size") return DType::kInt64;
    if (node.op_type == "Constant") {
      for (const auto& [key, attr] : node.attrs) {
        if (key == "value" && attr.t != nullptr) return attr.t->dtype();
        if (key == "value_float" || key == "value_floats")
          return DType::kFloat32;
        if (key == "value_int" || key == "value_ints") return DType::kInt64;
      }
      return DType::kUndefined;
    }
  }
  for (DType d : inputs) {
    if (d != DType::kUndefined) return d;
  }
  return DType::kUndefined;
}

absl::StatusOr<ExecutionPlan> ExecutionPlan::Build(
    const Graph& graph, const BackendTraits& backend) {
  ExecutionPlan plan;
  plan.backend_name_ = backend.name;
  auto id_of = [&plan](const std::string& name) {
    auto [it, inserted] = plan.value_ids_.emplace(
        name, static_cast<int>(plan.value_names_.size()));
    if (inserted) plan.value_names_.push_back(name);
    return it->second;
  };
  OC_RETURN_IF_ERROR(CheckAllOpsSupported(graph));
  for (const auto& [name, tensor] : graph.initializers) id_of(name);
  for (const ValueInfo& in : graph.inputs)
    plan.input_ids_.push_back(id_of(in.name));
  for (const Node& node : graph.nodes) {
    PlanStep step;
    OC_ASSIGN_OR_RETURN(step.def, FindOp(node));
    step.node = &node;
    for (const std::string& in : node.inputs)
      step.inputs.push_back(in.empty() ? -1 : id_of(in));
    for (const std::string& out : node.outputs)
      step.outputs.push_back(out.empty() ? -1 : id_of(out));
    plan.steps_.push_back(std::move(step));
  }
  for (const ValueInfo& out : graph.outputs) {
    auto it = plan.value_ids_.find(out.name);
    if (it == plan.value_ids_.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("graph output '", out.name, "' is produced by no node"));
    }
    plan.output_ids_.push_back(it->second);
  }
  const size_t n = plan.value_names_.size();
  plan.initializer_of_.assign(n, nullptr);
  for (const auto& [name, tensor] : graph.initializers)
    plan.initializer_of_[plan.value_ids_[name]] = &tensor;
  plan.last_reader_.assign(n, -1);
  for (size_t s = 0; s < plan.steps_.size(); ++s) {
    for (int id : plan.steps_[s].inputs) {
      if (id >= 0) plan.last_reader_[id] = static_cast<int>(s);
    }
  }
  for (int id : plan.output_ids_)
    plan.last_reader_[id] = static_cast<int>(plan.steps_.size());

  // Placement.
  std::vector<DType> dtype(n, DType::kUndefined);
  for (const auto& [name, tensor] : graph.initializers)
    dtype[plan.value_ids_[name]] = tensor.dtype();
  for (size_t k = 0; k < graph.inputs.size(); ++k)
    dtype[plan.input_ids_[k]] = graph.inputs[k].dtype;
  auto is_host = [&dtype](int id) {
    return dtype[id] != DType::kUndefined && dtype[id] != DType::kFloat32;
  };
  for (PlanStep& step : plan.steps_) {
    step.kernel =
        backend.find_kernel ? backend.find_kernel(*step.def, *step.node) : -1;
    bool host = backend.has_device_memory;
    std::vector<DType> in_types;
    for (int id : step.inputs) {
      if (id < 0) continue;
      host = host && is_host(id);
      in_types.push_back(dtype[id]);
    }
    if (host) {
      step.placement = Placement::kHost;
    } else if (step.kernel >= 0) {
      step.placement = Placement::kKernel;
    } else {
      step.placement = Placement::kFallback;
    }
    const DType out = InferOutputDType(*step.node, in_types);
    for (int id : step.outputs) {
      if (id >= 0) dtype[id] = out;
    }
  }
  return plan;
}

int ExecutionPlan::value_id(const std::string& name) const {
  auto it = value_ids_.find(name);
  return it == value_ids_.end() ? -1 : it->second;
}

std::vector<bool> ExecutionPlan::GradientNeeds(
    const std::vector<int>& param_ids) const {
  std::vector<bool> needs(value_names_.size(), false);
  for (int id : param_ids) needs[id] = true;
  for (const PlanStep& step : steps_) {
    bool any = false;
    for (size_t j = 0; j < step.inputs.size(); ++j) {
      const int id = step.inputs[j];
      any |= id >= 0 && needs[id] && step.def->IsDifferentiable(j);
    }
    if (!any) continue;
    for (int id : step.outputs) {
      if (id >= 0) needs[id] = true;
    }
  }
  return needs;
}

std::vector<int> ExecutionPlan::StepsDownstreamOf(
    const std::vector<int>& value_ids) const {
  std::vector<bool> dirty(value_names_.size(), false);
  for (int id : value_ids) {
    if (id >= 0) dirty[id] = true;
  }
  std::vector<int> out;
  for (size_t s = 0; s < steps_.size(); ++s) {
    bool any = false;
    for (int id : steps_[s].inputs) any |= id >= 0 && dirty[id];
    if (!any) continue;
    out.push_back(static_cast<int>(s));
    for (int id : steps_[s].outputs) {
      if (id >= 0) dirty[id] = true;
    }
  }
  return out;
}

std::vector<int> ExecutionPlan::StepsOffKernel() const {
  std::vector<int> out;
  for (size_t s = 0; s < steps_.size(); ++s) {
    if (steps_[s].placement != Placement::kKernel)
      out.push_back(static_cast<int>(s));
  }
  return out;
}

}  // namespace onnx_crypt
