// Which initializers the lock may change: the weights of weight-bearing ops,
// and optionally their biases.
//
// Eligible: float32 (or float16 / bfloat16: engine/narrow_floats.h)
// initializers that feed a differentiable weight input of a
// weight-bearing op: Conv/ConvTranspose input 1, Gemm input 1 (or input 0 when
// that one is the constant), MatMul's constant operand. With include_bias also:
// Conv/ConvTranspose input 2, Gemm input 2, the constant operand of an Add that
// directly follows a MatMul (how exporters write a Linear bias), and
// BatchNormalization scale (1) and bias (2). Never running statistics, shapes,
// indices or quantization parameters. A tensor with fewer than 2 elements is
// never eligible.
#ifndef ONNX_CRYPT_LOCK_ELIGIBILITY_H_
#define ONNX_CRYPT_LOCK_ELIGIBILITY_H_

#include <string>
#include <vector>

#include "onnx_crypt/ir/graph.h"

namespace onnx_crypt {

struct EligibleTensor {
  std::string name;
  std::string role;      // "weight" or "bias"
  std::string consumer;  // the node that reads it, node.Describe()
  int64_t numel = 0;
};

// In the graph's initializer (file) order, so "tensor order" is well defined
// for tie-breaks.
std::vector<EligibleTensor> FindEligibleTensors(const Graph& graph,
                                                bool include_bias);

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_LOCK_ELIGIBILITY_H_
