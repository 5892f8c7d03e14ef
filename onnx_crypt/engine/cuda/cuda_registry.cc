// The one list of CUDA kernels, explicit (no self-registering statics). Each
// entry attaches to op declarations of the op table (ops/registry.cc); an op
// without an entry here runs on the CPU kernel (engine/plan.h).
#include "absl/strings/str_cat.h"
#include "onnx_crypt/engine/cuda/cuda_ops.h"

namespace onnx_crypt::cuda {

namespace {

std::vector<CudaKernel> BuildCudaRegistry() {
  std::vector<CudaKernel> ops;
  // Add, Sub, Mul, Div, Relu, LeakyRelu, Sigmoid, Tanh, Clip, HardSigmoid,
  // HardSwish, Dropout, Identity.
  AddCudaElementwiseOps(ops);
  // Flatten, Reshape, Transpose, Concat, Squeeze, Unsqueeze, Constant, Shape.
  AddCudaShapeOps(ops);
  // Gather, Pad.
  AddCudaGatherPadOps(ops);
  // Conv.
  AddCudaConvOps(ops);
  // MaxPool, AveragePool, GlobalAveragePool, BatchNormalization,
  // Softmax, LogSoftmax.
  AddCudaNnOps(ops);
  // Gemm, MatMul.
  AddCudaBlasOps(ops);
  return ops;
}

}  // namespace

const std::vector<CudaKernel>& AllCudaKernels() {
  static const std::vector<CudaKernel>* const ops =
      new std::vector<CudaKernel>(BuildCudaRegistry());
  return *ops;
}

int FindCudaKernel(const OpDef& def, const Node& node) {
  const std::vector<CudaKernel>& kernels = AllCudaKernels();
  for (size_t i = 0; i < kernels.size(); ++i) {
    const CudaKernel& k = kernels[i];
    if (k.domain != def.domain || k.op_type != def.op_type) continue;
    if (node.opset >= k.since_version && node.opset <= k.until_version)
      return static_cast<int>(i);
  }
  return -1;
}

}  // namespace onnx_crypt::cuda
