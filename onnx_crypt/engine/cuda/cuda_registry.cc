// The one table of CUDA ops, listed explicitly (no self-registering statics).
// Every op of the CPU registry (ops/registry.cc) has an entry here.
#include "absl/strings/str_cat.h"
#include "onnx_crypt/engine/cuda/cuda_ops.h"

namespace onnx_crypt::cuda {

namespace {

std::vector<CudaOpDef> BuildCudaRegistry() {
  std::vector<CudaOpDef> ops;
  // Add, Sub, Mul, Div, Relu, LeakyRelu, Sigmoid, Tanh, Clip, HardSigmoid,
  // HardSwish, Dropout, Identity.
  AddCudaElementwiseOps(ops);
  // Flatten, Reshape, Transpose, Concat, Squeeze, Unsqueeze, Constant, Shape,
  // Gather, Pad.
  AddCudaShapeOps(ops);
  // Conv, MaxPool, AveragePool, GlobalAveragePool, BatchNormalization,
  // Softmax, LogSoftmax.
  AddCudaNnOps(ops);
  // Gemm, MatMul.
  AddCudaBlasOps(ops);
  return ops;
}

}  // namespace

const std::vector<CudaOpDef>& AllCudaOps() {
  static const std::vector<CudaOpDef>* const ops =
      new std::vector<CudaOpDef>(BuildCudaRegistry());
  return *ops;
}

absl::StatusOr<const CudaOpDef*> FindCudaOp(const Node& node) {
  for (const CudaOpDef& def : AllCudaOps()) {
    if (def.domain != node.domain || def.op_type != node.op_type) continue;
    if (node.opset >= def.since_version && node.opset <= def.until_version)
      return &def;
  }
  return absl::UnimplementedError(
      absl::StrCat(node.Describe(), " has no CUDA kernel"));
}

}  // namespace onnx_crypt::cuda
