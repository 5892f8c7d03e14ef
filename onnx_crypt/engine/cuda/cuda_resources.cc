// The pool rounds requests up to 256 bytes and reuses a cached block when it is
// at most twice the rounded request: shapes repeat from call to call, so the
// steady state allocates nothing, while a small request never pins a huge
// block. On an out-of-memory error the cache is emptied and the allocation
// retried once.
#include "onnx_crypt/engine/cuda/cuda_resources.h"

#include "absl/strings/str_cat.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/engine/cuda/cuda_status.h"

namespace onnx_crypt::cuda {

namespace {
constexpr size_t kAlignment = 256;
}  // namespace

DeviceBuffer::~DeviceBuffer() {
  if (ptr_ != nullptr) pool_->Release(ptr_, bytes_);
}

std::shared_ptr<DevicePool> DevicePool::Create() {
  return std::shared_ptr<DevicePool>(new DevicePool());
}

DevicePool::~DevicePool() { FreeCached(); }

void DevicePool::FreeCached() {
  for (auto& [bytes, ptr] : free_) {
    cudaFree(ptr);
    held_ -= bytes;
  }
  free_.clear();
}

absl::StatusOr<std::shared_ptr<DeviceBuffer>> DevicePool::Allocate(
    size_t bytes) {
  const size_t rounded =
      std::max(kAlignment, (bytes + kAlignment - 1) / kAlignment * kAlignment);
  auto it = free_.lower_bound(rounded);
  if (it != free_.end() && it->first <= 2 * rounded) {
    const size_t size = it->first;
    void* ptr = it->second;
    free_.erase(it);
    in_use_ += size;
    return std::make_shared<DeviceBuffer>(shared_from_this(), ptr, size);
  }
  void* ptr = nullptr;
  cudaError_t err = cudaMalloc(&ptr, rounded);
  if (err == cudaErrorMemoryAllocation && !free_.empty()) {
    cudaGetLastError();  // reset the last-error state before retrying
    FreeCached();
    err = cudaMalloc(&ptr, rounded);
  }
  if (err != cudaSuccess) {
    cudaGetLastError();
    return CudaStatus(err, absl::StrCat("cudaMalloc of ", rounded, " bytes (",
                                        held_, " bytes already held)"));
  }
  held_ += rounded;
  in_use_ += rounded;
  peak_ = std::max(peak_, held_);
  return std::make_shared<DeviceBuffer>(shared_from_this(), ptr, rounded);
}

void DevicePool::Release(void* ptr, size_t bytes) {
  in_use_ -= bytes;
  free_.emplace(bytes, ptr);
}

absl::StatusOr<Stream> CreateStream() {
  cudaStream_t s = nullptr;
  OC_CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking),
                          "cudaStreamCreateWithFlags");
  return Stream(s);
}

absl::StatusOr<CublasHandle> CreateCublas(cudaStream_t stream) {
  cublasHandle_t h = nullptr;
  OC_CUBLAS_RETURN_IF_ERROR(cublasCreate(&h), "cublasCreate");
  CublasHandle handle(h);
  OC_CUBLAS_RETURN_IF_ERROR(cublasSetStream(h, stream), "cublasSetStream");
  OC_CUBLAS_RETURN_IF_ERROR(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH),
                            "cublasSetMathMode");
  OC_CUBLAS_RETURN_IF_ERROR(cublasSetAtomicsMode(h, CUBLAS_ATOMICS_NOT_ALLOWED),
                            "cublasSetAtomicsMode");
  OC_CUBLAS_RETURN_IF_ERROR(cublasSetPointerMode(h, CUBLAS_POINTER_MODE_HOST),
                            "cublasSetPointerMode");
  return handle;
}

absl::StatusOr<CudnnHandle> CreateCudnn(cudaStream_t stream) {
  cudnnHandle_t h = nullptr;
  OC_CUDNN_RETURN_IF_ERROR(cudnnCreate(&h), "cudnnCreate");
  CudnnHandle handle(h);
  OC_CUDNN_RETURN_IF_ERROR(cudnnSetStream(h, stream), "cudnnSetStream");
  return handle;
}

absl::StatusOr<TensorDescriptor> CreateTensorDescriptor(
    const std::vector<int>& dims) {
  cudnnTensorDescriptor_t d = nullptr;
  OC_CUDNN_RETURN_IF_ERROR(cudnnCreateTensorDescriptor(&d),
                           "cudnnCreateTensorDescriptor");
  TensorDescriptor desc(d);
  std::vector<int> strides(dims.size(), 1);
  for (int i = static_cast<int>(dims.size()) - 2; i >= 0; --i)
    strides[i] = strides[i + 1] * dims[i + 1];
  OC_CUDNN_RETURN_IF_ERROR(
      cudnnSetTensorNdDescriptor(d, CUDNN_DATA_FLOAT,
                                 static_cast<int>(dims.size()), dims.data(),
                                 strides.data()),
      "cudnnSetTensorNdDescriptor");
  return desc;
}

absl::StatusOr<FilterDescriptor> CreateFilterDescriptor(
    const std::vector<int>& dims) {
  cudnnFilterDescriptor_t d = nullptr;
  OC_CUDNN_RETURN_IF_ERROR(cudnnCreateFilterDescriptor(&d),
                           "cudnnCreateFilterDescriptor");
  FilterDescriptor desc(d);
  OC_CUDNN_RETURN_IF_ERROR(
      cudnnSetFilterNdDescriptor(d, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW,
                                 static_cast<int>(dims.size()), dims.data()),
      "cudnnSetFilterNdDescriptor");
  return desc;
}

absl::StatusOr<ConvolutionDescriptor> CreateConvolutionDescriptor(
    const std::vector<int>& pads, const std::vector<int>& strides,
    const std::vector<int>& dilations, int groups) {
  cudnnConvolutionDescriptor_t d = nullptr;
  OC_CUDNN_RETURN_IF_ERROR(cudnnCreateConvolutionDescriptor(&d),
                           "cudnnCreateConvolutionDescriptor");
  ConvolutionDescriptor desc(d);
  OC_CUDNN_RETURN_IF_ERROR(
      cudnnSetConvolutionNdDescriptor(
          d, static_cast<int>(pads.size()), pads.data(), strides.data(),
          dilations.data(), CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
      "cudnnSetConvolutionNdDescriptor");
  OC_CUDNN_RETURN_IF_ERROR(cudnnSetConvolutionGroupCount(d, groups),
                           "cudnnSetConvolutionGroupCount");
  OC_CUDNN_RETURN_IF_ERROR(cudnnSetConvolutionMathType(d, CUDNN_FMA_MATH),
                           "cudnnSetConvolutionMathType");
  return desc;
}

absl::StatusOr<PoolingDescriptor> CreateAveragePoolingDescriptor(
    bool count_include_pad, const std::vector<int>& window,
    const std::vector<int>& pads, const std::vector<int>& strides) {
  cudnnPoolingDescriptor_t d = nullptr;
  OC_CUDNN_RETURN_IF_ERROR(cudnnCreatePoolingDescriptor(&d),
                           "cudnnCreatePoolingDescriptor");
  PoolingDescriptor desc(d);
  OC_CUDNN_RETURN_IF_ERROR(
      cudnnSetPoolingNdDescriptor(
          d,
          count_include_pad ? CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING
                            : CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING,
          CUDNN_NOT_PROPAGATE_NAN, static_cast<int>(window.size()),
          window.data(), pads.data(), strides.data()),
      "cudnnSetPoolingNdDescriptor");
  return desc;
}

}  // namespace onnx_crypt::cuda
