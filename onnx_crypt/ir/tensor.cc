#include "onnx_crypt/ir/tensor.h"

#include <algorithm>
#include <cassert>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "onnx_crypt/ir/half.h"

namespace onnx_crypt {

int64_t NumElements(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (!CheckedMul(n, d, &n)) return INT64_MAX;
  }
  return n;
}

absl::StatusOr<int64_t> CheckedNumElements(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "shape ", ShapeToString(shape), " has a negative dimension"));
    }
    if (!CheckedMul(n, d, &n)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "shape ", ShapeToString(shape), " has more than 2^63 elements"));
    }
  }
  return n;
}

absl::Status CheckTensorSize(DType dtype, const Shape& shape) {
  absl::StatusOr<int64_t> numel = CheckedNumElements(shape);
  if (!numel.ok()) return numel.status();
  int64_t bytes = 0;
  const int64_t elem = std::max<int64_t>(1, DTypeSize(dtype));
  if (!CheckedMul(*numel, elem, &bytes)) {
    return absl::InvalidArgumentError(
        absl::StrCat("a ", DTypeName(dtype), ShapeToString(shape),
                     " tensor would hold more than 2^63 bytes"));
  }
  if (bytes > MemoryBudgetBytes()) {
    return absl::ResourceExhaustedError(
        absl::StrCat("a ", DTypeName(dtype), ShapeToString(shape), " tensor (",
                     ByteSizeText(bytes), ") is ", OverBudgetText()));
  }
  return absl::OkStatus();
}

std::string ShapeToString(const Shape& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

Tensor::Tensor(DType dtype, Shape shape)
    : dtype_(dtype), shape_(std::move(shape)), numel_(NumElements(shape_)) {
  bytes_.assign(static_cast<size_t>(numel_) * DTypeSize(dtype_), 0);
}

Tensor Tensor::Uninitialized(DType dtype, Shape shape) {
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.numel_ = NumElements(t.shape_);
  t.bytes_.resize(static_cast<size_t>(t.numel_) * DTypeSize(dtype));
  return t;
}

void Tensor::Reshape(Shape shape) {
  assert(NumElements(shape) == numel_);
  shape_ = std::move(shape);
}

namespace {

template <typename To, typename From>
void ConvertAll(const Tensor& src, To* dst) {
  const From* p = src.data<From>();
  for (int64_t i = 0; i < src.numel(); ++i) dst[i] = static_cast<To>(p[i]);
}

template <typename To>
void ConvertAny(const Tensor& src, To* dst) {
  switch (src.dtype()) {
    case DType::kFloat32:
      ConvertAll<To, float>(src, dst);
      break;
    case DType::kFloat64:
      ConvertAll<To, double>(src, dst);
      break;
    case DType::kInt64:
      ConvertAll<To, int64_t>(src, dst);
      break;
    case DType::kInt32:
      ConvertAll<To, int32_t>(src, dst);
      break;
    case DType::kInt16:
      ConvertAll<To, int16_t>(src, dst);
      break;
    case DType::kInt8:
      ConvertAll<To, int8_t>(src, dst);
      break;
    case DType::kUint8:
      ConvertAll<To, uint8_t>(src, dst);
      break;
    case DType::kUint16:
      ConvertAll<To, uint16_t>(src, dst);
      break;
    case DType::kUint32:
      ConvertAll<To, uint32_t>(src, dst);
      break;
    case DType::kUint64:
      ConvertAll<To, uint64_t>(src, dst);
      break;
    case DType::kBool:
      ConvertAll<To, bool>(src, dst);
      break;
    case DType::kFloat16: {
      const uint16_t* p = src.data<uint16_t>();
      for (int64_t i = 0; i < src.numel(); ++i)
        dst[i] = static_cast<To>(HalfToFloat32(p[i]));
      break;
    }
    case DType::kBFloat16: {
      const uint16_t* p = src.data<uint16_t>();
      for (int64_t i = 0; i < src.numel(); ++i)
        dst[i] = static_cast<To>(BFloat16ToFloat32(p[i]));
      break;
    }
    default:
      for (int64_t i = 0; i < src.numel(); ++i) dst[i] = To{};
  }
}

}  // namespace

std::vector<int64_t> Tensor::ToInt64Vector() const {
  std::vector<int64_t> out(static_cast<size_t>(numel_));
  ConvertAny<int64_t>(*this, out.data());
  return out;
}

std::vector<double> Tensor::ToDoubleVector() const {
  std::vector<double> out(static_cast<size_t>(numel_));
  ConvertAny<double>(*this, out.data());
  return out;
}

Tensor Tensor::CastTo(DType dtype) const {
  if (dtype == dtype_) return *this;
  Tensor out(dtype, shape_);
  switch (dtype) {
    case DType::kFloat32:
      ConvertAny<float>(*this, out.mutable_data<float>());
      break;
    case DType::kFloat64:
      ConvertAny<double>(*this, out.mutable_data<double>());
      break;
    case DType::kInt64:
      ConvertAny<int64_t>(*this, out.mutable_data<int64_t>());
      break;
    case DType::kInt32:
      ConvertAny<int32_t>(*this, out.mutable_data<int32_t>());
      break;
    case DType::kInt16:
      ConvertAny<int16_t>(*this, out.mutable_data<int16_t>());
      break;
    case DType::kInt8:
      ConvertAny<int8_t>(*this, out.mutable_data<int8_t>());
      break;
    case DType::kUint8:
      ConvertAny<uint8_t>(*this, out.mutable_data<uint8_t>());
      break;
    case DType::kUint16:
      ConvertAny<uint16_t>(*this, out.mutable_data<uint16_t>());
      break;
    case DType::kUint32:
      ConvertAny<uint32_t>(*this, out.mutable_data<uint32_t>());
      break;
    case DType::kUint64:
      ConvertAny<uint64_t>(*this, out.mutable_data<uint64_t>());
      break;
    case DType::kBool:
      ConvertAny<bool>(*this, out.mutable_data<bool>());
      break;
    case DType::kFloat16:
    case DType::kBFloat16: {
      // Through float32 (one rounding for float32 sources, the usual case).
      std::vector<float> f(static_cast<size_t>(numel_));
      ConvertAny<float>(*this, f.data());
      uint16_t* p = out.mutable_data<uint16_t>();
      for (size_t i = 0; i < f.size(); ++i) {
        p[i] = dtype == DType::kFloat16 ? Float32ToHalf(f[i])
                                        : Float32ToBFloat16(f[i]);
      }
      break;
    }
    default:
      break;
  }
  return out;
}

std::string Tensor::DebugString() const {
  return absl::StrCat(DTypeName(dtype_), ShapeToString(shape_));
}

}  // namespace onnx_crypt
