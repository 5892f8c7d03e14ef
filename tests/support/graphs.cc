#include "tests/support/graphs.h"

#include "tests/support/op_check.h"

namespace onnx_crypt::testing {

Node Op(const std::string& op_type, std::vector<std::string> inputs,
        std::vector<std::string> outputs, int64_t opset) {
  Node node;
  node.op_type = op_type;
  node.opset = opset;
  node.name = outputs[0] + "_node";
  node.inputs = std::move(inputs);
  node.outputs = std::move(outputs);
  return node;
}

Node& AddLogitsGemm(Graph& g, std::vector<std::string> inputs) {
  Node gemm = Op("Gemm", std::move(inputs), {"logits"});
  SetAttr(gemm, "transB", int64_t{1});
  g.nodes.push_back(std::move(gemm));
  ValueInfo out;
  out.name = "logits";
  g.outputs.push_back(out);
  return g.nodes.back();
}

Graph GemmGraph() {
  Graph g;
  g.opsets[""] = 13;
  g.initializers["W"] = RandomTensor({4, 3}, 1).CastTo(DType::kFloat32);
  g.initializers["b"] = RandomTensor({4}, 2).CastTo(DType::kFloat32);
  g.initializer_order = {"W", "b"};
  ValueInfo x;
  x.name = "x";
  x.dtype = DType::kFloat32;
  g.inputs.push_back(x);
  AddLogitsGemm(g, {"x", "W", "b"}).name = "fc";
  return g;
}

}  // namespace onnx_crypt::testing
