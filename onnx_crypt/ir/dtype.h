// Element types. Values equal onnx::TensorProto::DataType so conversion is a
// cast.
#ifndef ONNX_CRYPT_IR_DTYPE_H_
#define ONNX_CRYPT_IR_DTYPE_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace onnx_crypt {

enum class DType : int32_t {
  kUndefined = 0,
  kFloat32 = 1,
  kUint8 = 2,
  kInt8 = 3,
  kUint16 = 4,
  kInt16 = 5,
  kInt32 = 6,
  kInt64 = 7,
  kString = 8,
  kBool = 9,
  kFloat16 = 10,
  kFloat64 = 11,
  kUint32 = 12,
  kUint64 = 13,
  kBFloat16 = 16,
};

// Size in bytes of one element; 0 for kUndefined and kString.
size_t DTypeSize(DType dtype);
// "float32", "int64", ... ; "dtype(N)" for unknown values.
std::string DTypeName(DType dtype);
bool IsFloatingPoint(DType dtype);  // float16, bfloat16, float32, float64

template <typename T>
struct DTypeOf;
template <>
struct DTypeOf<float> {
  static constexpr DType value = DType::kFloat32;
};
template <>
struct DTypeOf<double> {
  static constexpr DType value = DType::kFloat64;
};
template <>
struct DTypeOf<int64_t> {
  static constexpr DType value = DType::kInt64;
};
template <>
struct DTypeOf<int32_t> {
  static constexpr DType value = DType::kInt32;
};
template <>
struct DTypeOf<uint8_t> {
  static constexpr DType value = DType::kUint8;
};
template <>
struct DTypeOf<int8_t> {
  static constexpr DType value = DType::kInt8;
};
template <>
struct DTypeOf<bool> {
  static constexpr DType value = DType::kBool;
};

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_IR_DTYPE_H_
