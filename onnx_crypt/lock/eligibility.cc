#include "onnx_crypt/lock/eligibility.h"

#include <map>

namespace onnx_crypt {

std::vector<EligibleTensor> FindEligibleTensors(const Graph& graph,
                                                bool include_bias) {
  std::map<std::string, EligibleTensor> found;
  auto consider = [&](const Node& node, size_t input, const char* role) {
    if (input >= node.inputs.size()) return;
    const std::string& name = node.inputs[input];
    auto it = graph.initializers.find(name);
    if (it == graph.initializers.end()) return;
    const DType dtype = it->second.dtype();
    if ((dtype != DType::kFloat32 && dtype != DType::kFloat16 &&
         dtype != DType::kBFloat16) ||
        it->second.numel() < 2) {
      return;
    }
    if (found.count(name)) return;
    found[name] =
        EligibleTensor{name, role, node.Describe(), it->second.numel()};
  };
  auto is_init = [&](const std::string& name) {
    return graph.initializers.count(name) > 0;
  };
  for (const Node& node : graph.nodes) {
    if (!node.domain.empty()) continue;
    const std::string& op = node.op_type;
    if (op == "Conv" || op == "ConvTranspose") {
      consider(node, 1, "weight");
      if (include_bias) consider(node, 2, "bias");
    } else if (op == "Gemm") {
      consider(node, 1, "weight");
      if (node.inputs.size() > 1 && !is_init(node.inputs[1]))
        consider(node, 0, "weight");
      if (include_bias) consider(node, 2, "bias");
    } else if (op == "MatMul") {
      consider(node, 1, "weight");
      if (node.inputs.size() > 1 && !is_init(node.inputs[1]))
        consider(node, 0, "weight");
    } else if (op == "BatchNormalization" && include_bias) {
      consider(node, 1, "bias");
      consider(node, 2, "bias");
    } else if (op == "Add" && include_bias && node.inputs.size() == 2) {
      for (size_t j = 0; j < 2; ++j) {
        const int producer = graph.FindProducer(node.inputs[1 - j]);
        if (is_init(node.inputs[j]) && producer >= 0 &&
            graph.nodes[producer].op_type == "MatMul") {
          consider(node, j, "bias");
        }
      }
    }
  }
  std::vector<EligibleTensor> out;
  for (const std::string& name : graph.ParameterOrder()) {
    auto it = found.find(name);
    if (it != found.end()) out.push_back(it->second);
  }
  return out;
}

}  // namespace onnx_crypt
