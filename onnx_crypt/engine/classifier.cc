#include "onnx_crypt/engine/classifier.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "onnx_crypt/engine/narrow_floats.h"

namespace onnx_crypt {

absl::Status PrepareClassifierGraph(
    Graph& graph, const std::string& output,
    const std::map<std::string, ValueInfo>& inferred) {
  if (graph.outputs.empty())
    return absl::InvalidArgumentError("the model has no outputs");
  if (!output.empty()) {
    auto it =
        std::find_if(graph.outputs.begin(), graph.outputs.end(),
                     [&](const ValueInfo& v) { return v.name == output; });
    if (it == graph.outputs.end()) {
      std::vector<std::string> names;
      for (const ValueInfo& v : graph.outputs)
        names.push_back("'" + v.name + "'");
      return absl::InvalidArgumentError(
          absl::StrCat("--output '", output, "' names no output of the model; ",
                       "its outputs are ", absl::StrJoin(names, ", ")));
    }
    std::rotate(graph.outputs.begin(), it, it + 1);
  }
  ComputeNarrowFloatsInFloat32(graph);
  const ValueInfo& first = graph.outputs[0];
  const ValueInfo* shape = first.has_shape ? &first : nullptr;
  if (shape == nullptr) {
    auto it = inferred.find(first.name);
    if (it != inferred.end() && it->second.has_shape) shape = &it->second;
  }
  if (shape != nullptr && shape->dims.size() == 3 && shape->dims[1] == 1) {
    // [N, 1, C] -> [N, C].
    Node flatten;
    flatten.name = kClassifierFlattenNode;
    flatten.op_type = "Flatten";
    flatten.opset = 13;
    flatten.inputs = {first.name};
    const std::string flat =
        absl::StrCat(first.name, "/", kClassifierFlattenNode);
    flatten.outputs = {flat};
    Attribute axis;
    axis.kind = Attribute::Kind::kInt;
    axis.i = 1;
    flatten.attrs["axis"] = axis;
    graph.nodes.push_back(std::move(flatten));
    ValueInfo info = first;
    info.name = flat;
    info.dims = {shape->dims[0], shape->dims[2]};
    info.dim_params.clear();
    info.has_shape = true;
    graph.outputs[0] = std::move(info);
  }
  return absl::OkStatus();
}

}  // namespace onnx_crypt
