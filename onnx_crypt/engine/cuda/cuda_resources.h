// RAII owners of the CUDA engine's GPU resources: device memory (a caching
// pool and its buffers), the stream, the cuBLAS and cuDNN handles, and cuDNN
// descriptors. Each type frees what it owns in its destructor and is movable,
// not copyable. Creation goes through functions returning absl::StatusOr
// (Internal naming the failed call), never through aborting constructors.
//
// Thread safety: none; each engine instance owns its resources and is used by
// one caller at a time.
#ifndef ONNX_CRYPT_ENGINE_CUDA_CUDA_RESOURCES_H_
#define ONNX_CRYPT_ENGINE_CUDA_CUDA_RESOURCES_H_

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"

namespace onnx_crypt::cuda {

class DevicePool;

// One block of device memory, returned to its pool on destruction. Shared
// (std::shared_ptr) between values that alias it, e.g. a Reshape output and
// its input.
class DeviceBuffer {
 public:
  DeviceBuffer(std::shared_ptr<DevicePool> pool, void* ptr, size_t bytes)
      : pool_(std::move(pool)), ptr_(ptr), bytes_(bytes) {}
  ~DeviceBuffer();
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* data() const { return ptr_; }
  size_t bytes() const { return bytes_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }

 private:
  std::shared_ptr<DevicePool> pool_;
  void* ptr_;
  size_t bytes_;
};

// A caching allocator: released blocks are kept and handed out again to
// requests of up to their size (at least half of it), so repeated calls with
// the same shapes allocate from CUDA only once. All users enqueue work on one
// stream, so a block released by the host can be reused for later work on that
// stream at once. Tracks the bytes held from CUDA and their peak.
class DevicePool : public std::enable_shared_from_this<DevicePool> {
 public:
  static std::shared_ptr<DevicePool> Create();
  ~DevicePool();  // frees the cached blocks (buffers keep the pool alive)
  DevicePool(const DevicePool&) = delete;
  DevicePool& operator=(const DevicePool&) = delete;

  // A block of at least `bytes` bytes (at least 256; contents undefined).
  absl::StatusOr<std::shared_ptr<DeviceBuffer>> Allocate(size_t bytes);

  size_t held_bytes() const { return held_; }  // cached + in use
  size_t in_use_bytes() const { return in_use_; }
  size_t peak_bytes() const { return peak_; }  // maximum of held_bytes()

 private:
  friend class DeviceBuffer;
  DevicePool() = default;
  void Release(void* ptr, size_t bytes);
  void FreeCached();

  std::multimap<size_t, void*> free_;
  size_t held_ = 0;
  size_t in_use_ = 0;
  size_t peak_ = 0;
};

// Owner of one handle `T`, destroyed with `Destroy`.
template <typename T, typename Destroy>
class UniqueHandle {
 public:
  UniqueHandle() = default;
  explicit UniqueHandle(T handle) : handle_(handle) {}
  ~UniqueHandle() { Reset(); }
  UniqueHandle(UniqueHandle&& other) noexcept : handle_(other.handle_) {
    other.handle_ = T();
  }
  UniqueHandle& operator=(UniqueHandle&& other) noexcept {
    if (this != &other) {
      Reset();
      handle_ = other.handle_;
      other.handle_ = T();
    }
    return *this;
  }
  UniqueHandle(const UniqueHandle&) = delete;
  UniqueHandle& operator=(const UniqueHandle&) = delete;

  T get() const { return handle_; }

 private:
  void Reset() {
    if (handle_ != T()) Destroy()(handle_);
    handle_ = T();
  }
  T handle_ = T();
};

struct StreamDestroy {
  void operator()(cudaStream_t s) const { cudaStreamDestroy(s); }
};
struct CublasDestroy {
  void operator()(cublasHandle_t h) const { cublasDestroy(h); }
};
struct CudnnDestroy {
  void operator()(cudnnHandle_t h) const { cudnnDestroy(h); }
};
struct TensorDescDestroy {
  void operator()(cudnnTensorDescriptor_t d) const {
    cudnnDestroyTensorDescriptor(d);
  }
};
struct FilterDescDestroy {
  void operator()(cudnnFilterDescriptor_t d) const {
    cudnnDestroyFilterDescriptor(d);
  }
};
struct ConvDescDestroy {
  void operator()(cudnnConvolutionDescriptor_t d) const {
    cudnnDestroyConvolutionDescriptor(d);
  }
};
struct PoolingDescDestroy {
  void operator()(cudnnPoolingDescriptor_t d) const {
    cudnnDestroyPoolingDescriptor(d);
  }
};

using Stream = UniqueHandle<cudaStream_t, StreamDestroy>;
using CublasHandle = UniqueHandle<cublasHandle_t, CublasDestroy>;
using CudnnHandle = UniqueHandle<cudnnHandle_t, CudnnDestroy>;
using TensorDescriptor =
    UniqueHandle<cudnnTensorDescriptor_t, TensorDescDestroy>;
using FilterDescriptor =
    UniqueHandle<cudnnFilterDescriptor_t, FilterDescDestroy>;
using ConvolutionDescriptor =
    UniqueHandle<cudnnConvolutionDescriptor_t, ConvDescDestroy>;
using PoolingDescriptor =
    UniqueHandle<cudnnPoolingDescriptor_t, PoolingDescDestroy>;

// A non-blocking stream.
absl::StatusOr<Stream> CreateStream();
// A cuBLAS handle on `stream`: full float32 math (no TF32), no atomics, host
// pointer mode.
absl::StatusOr<CublasHandle> CreateCublas(cudaStream_t stream);
// A cuDNN handle on `stream`.
absl::StatusOr<CudnnHandle> CreateCudnn(cudaStream_t stream);
// Packed float32 NCHW-style descriptor of `dims` (4 or 5 entries; cuDNN needs
// at least 4, so callers pad with 1s).
absl::StatusOr<TensorDescriptor> CreateTensorDescriptor(
    const std::vector<int>& dims);
// float32 NCHW filter of `dims` (4 or 5 entries).
absl::StatusOr<FilterDescriptor> CreateFilterDescriptor(
    const std::vector<int>& dims);
// Cross-correlation in float32 with plain FMA math (no TF32 tensor cores).
absl::StatusOr<ConvolutionDescriptor> CreateConvolutionDescriptor(
    const std::vector<int>& pads, const std::vector<int>& strides,
    const std::vector<int>& dilations, int groups);
// Average pooling (excluding or including pads) over `window`.
absl::StatusOr<PoolingDescriptor> CreateAveragePoolingDescriptor(
    bool count_include_pad, const std::vector<int>& window,
    const std::vector<int>& pads, const std::vector<int>& strides);

}  // namespace onnx_crypt::cuda

#endif  // ONNX_CRYPT_ENGINE_CUDA_CUDA_RESOURCES_H_
