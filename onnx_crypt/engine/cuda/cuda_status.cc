#include "onnx_crypt/engine/cuda/cuda_status.h"

#include "absl/strings/str_cat.h"

namespace onnx_crypt::cuda {

absl::Status CudaStatus(cudaError_t error, absl::string_view what) {
  if (error == cudaSuccess) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(what, ": ", cudaGetErrorName(error),
                                          ": ", cudaGetErrorString(error)));
}

absl::Status CudnnStatus(cudnnStatus_t status, absl::string_view what) {
  if (status == CUDNN_STATUS_SUCCESS) return absl::OkStatus();
  return absl::InternalError(
      absl::StrCat(what, ": ", cudnnGetErrorString(status)));
}

absl::Status CublasStatus(cublasStatus_t status, absl::string_view what) {
  if (status == CUBLAS_STATUS_SUCCESS) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(what, ": ",
                                          cublasGetStatusName(status), ": ",
                                          cublasGetStatusString(status)));
}

}  // namespace onnx_crypt::cuda
