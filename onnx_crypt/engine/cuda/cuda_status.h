// CUDA, cuDNN and cuBLAS error codes as absl::Status: the one place where they
// are translated. Every failure is Internal and its message names what failed
// (the caller passes the op and node, e.g. "Conv-11 node 'conv1':
// cudnnConvolutionForward") and the library's own error name and text.
#ifndef ONNX_CRYPT_ENGINE_CUDA_CUDA_STATUS_H_
#define ONNX_CRYPT_ENGINE_CUDA_CUDA_STATUS_H_

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "onnx_crypt/base/status.h"

namespace onnx_crypt::cuda {

// OK for cudaSuccess, else Internal "<what>: <cudaErrorName>: <description>".
absl::Status CudaStatus(cudaError_t error, absl::string_view what);
// OK for CUDNN_STATUS_SUCCESS, else Internal "<what>: <cudnn error string>".
absl::Status CudnnStatus(cudnnStatus_t status, absl::string_view what);
// OK for CUBLAS_STATUS_SUCCESS, else Internal "<what>: <cublas status name>".
absl::Status CublasStatus(cublasStatus_t status, absl::string_view what);

}  // namespace onnx_crypt::cuda

// Returns the Status of a failed CUDA / cuDNN / cuBLAS call from the enclosing
// function; `what` (anything absl::StrCat takes) names the call and the node.
#define OC_CUDA_RETURN_IF_ERROR(expr, ...) \
  OC_RETURN_IF_ERROR(                      \
      ::onnx_crypt::cuda::CudaStatus((expr), ::absl::StrCat(__VA_ARGS__)))
#define OC_CUDNN_RETURN_IF_ERROR(expr, ...) \
  OC_RETURN_IF_ERROR(                       \
      ::onnx_crypt::cuda::CudnnStatus((expr), ::absl::StrCat(__VA_ARGS__)))
#define OC_CUBLAS_RETURN_IF_ERROR(expr, ...) \
  OC_RETURN_IF_ERROR(                        \
      ::onnx_crypt::cuda::CublasStatus((expr), ::absl::StrCat(__VA_ARGS__)))

#endif  // ONNX_CRYPT_ENGINE_CUDA_CUDA_STATUS_H_
