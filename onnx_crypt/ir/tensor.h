// Tensor: a dense host tensor with value semantics (dtype, shape, contiguous
// row-major bytes).
//
// A default-constructed Tensor is "absent" (dtype kUndefined); ops use it for
// missing optional inputs and for gradients that are not needed. Not
// thread-safe for concurrent mutation.
#ifndef ONNX_CRYPT_IR_TENSOR_H_
#define ONNX_CRYPT_IR_TENSOR_H_

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "onnx_crypt/base/memory_budget.h"
#include "onnx_crypt/ir/dtype.h"

namespace onnx_crypt {

using Shape = std::vector<int64_t>;

// Allocator whose construct() default-initializes: resize() leaves bytes
// uninitialized, so a tensor that is about to be overwritten is not zero-filled
// first (measured: memset was ~9 % of a ResNet forward pass).
template <typename T>
struct DefaultInitAllocator : std::allocator<T> {
  template <typename U>
  struct rebind {
    using other = DefaultInitAllocator<U>;
  };
  DefaultInitAllocator() = default;
  template <typename U>
  DefaultInitAllocator(const DefaultInitAllocator<U>&) noexcept {}
  template <typename U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
  // Every tensor's bytes come through here: a block over the memory budget
  // throws OverMemoryBudget, which the engine turns into an error naming the
  // node (engine/executor.h).
  T* allocate(size_t n) {
    if (n > static_cast<size_t>(MemoryBudgetBytes()) / sizeof(T)) {
      throw OverMemoryBudget(static_cast<int64_t>(
          std::min<size_t>(n, SIZE_MAX / sizeof(T)) * sizeof(T)));
    }
    return std::allocator<T>::allocate(n);
  }
};

// *out = a * b (a + b); false, with *out unspecified, on int64 overflow.
inline bool CheckedMul(int64_t a, int64_t b, int64_t* out) {
  return !__builtin_mul_overflow(a, b, out);
}
inline bool CheckedAdd(int64_t a, int64_t b, int64_t* out) {
  return !__builtin_add_overflow(a, b, out);
}

// Product of the dimensions (1 for a scalar). For shapes whose product does
// not fit in int64 it saturates at INT64_MAX (no undefined behaviour); callers
// that take shapes from a model use CheckedNumElements or CheckTensorSize.
int64_t NumElements(const Shape& shape);
// Product of the dimensions; InvalidArgument when a dimension is negative or
// the product overflows int64.
absl::StatusOr<int64_t> CheckedNumElements(const Shape& shape);
// OK when a tensor of `dtype` and `shape` has no negative dimension and fits
// the memory budget (base/memory_budget.h); InvalidArgument (a bad shape) or
// ResourceExhausted (over the budget) saying which otherwise.
absl::Status CheckTensorSize(DType dtype, const Shape& shape);
// "[2, 3, 4]"
std::string ShapeToString(const Shape& shape);

class Tensor {
 public:
  Tensor() = default;
  // Zero-filled tensor.
  Tensor(DType dtype, Shape shape);
  // Tensor whose elements are left uninitialized: for outputs every element of
  // which is written before it is read.
  static Tensor Uninitialized(DType dtype, Shape shape);

  template <typename T>
  static Tensor FromVector(Shape shape, const std::vector<T>& values) {
    Tensor t(DTypeOf<T>::value, std::move(shape));
    if (!values.empty())
      std::memcpy(t.bytes_.data(), values.data(), t.bytes_.size());
    return t;
  }
  template <typename T>
  static Tensor Scalar(T value) {
    return FromVector<T>({}, std::vector<T>{value});
  }

  bool defined() const { return dtype_ != DType::kUndefined; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t rank() const { return static_cast<int64_t>(shape_.size()); }
  int64_t dim(int64_t i) const { return shape_[i]; }
  int64_t numel() const { return numel_; }
  size_t nbytes() const { return bytes_.size(); }

  // Changes the shape without touching the bytes; numel must stay the same.
  void Reshape(Shape shape);

  // Typed access. The caller must have checked dtype() (asserted in debug
  // builds).
  template <typename T>
  const T* data() const {
    return reinterpret_cast<const T*>(bytes_.data());
  }
  template <typename T>
  T* mutable_data() {
    return reinterpret_cast<T*>(bytes_.data());
  }
  template <typename T>
  absl::Span<const T> span() const {
    return absl::MakeConstSpan(data<T>(), static_cast<size_t>(numel_));
  }
  template <typename T>
  absl::Span<T> mutable_span() {
    return absl::MakeSpan(mutable_data<T>(), static_cast<size_t>(numel_));
  }
  const uint8_t* raw() const { return bytes_.data(); }
  uint8_t* mutable_raw() { return bytes_.data(); }

  // Reads an integer tensor (int32/int64/uint8/bool...) as int64 values.
  std::vector<int64_t> ToInt64Vector() const;
  // Reads a float32/float64 tensor as double values.
  std::vector<double> ToDoubleVector() const;
  // Element-wise converted copy (numeric types only).
  Tensor CastTo(DType dtype) const;

  // "float32[2, 3]"
  std::string DebugString() const;

 private:
  DType dtype_ = DType::kUndefined;
  Shape shape_;
  int64_t numel_ = 0;
  std::vector<uint8_t, DefaultInitAllocator<uint8_t>> bytes_;
};

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_IR_TENSOR_H_
