// Small graphs and nodes built in code, shared by the engine, plan and lock
// tests.
#ifndef ONNX_CRYPT_TESTS_SUPPORT_GRAPHS_H_
#define ONNX_CRYPT_TESTS_SUPPORT_GRAPHS_H_

#include <string>
#include <vector>

#include "onnx_crypt/ir/graph.h"

namespace onnx_crypt::testing {

// A default-domain node named "<first output>_node".
Node Op(const std::string& op_type, std::vector<std::string> inputs,
        std::vector<std::string> outputs, int64_t opset = 13);

// Appends Gemm(inputs..., transB = 1) -> "logits" to `g` and makes "logits"
// the graph's output; returns the node (named "logits_node").
Node& AddLogitsGemm(Graph& g, std::vector<std::string> inputs);

// x float32[N, 3] -> Gemm(W[4, 3]^T, b[4]) node 'fc' -> logits, with seeded
// random W (seed 1) and b (seed 2).
Graph GemmGraph();

}  // namespace onnx_crypt::testing

#endif  // ONNX_CRYPT_TESTS_SUPPORT_GRAPHS_H_
