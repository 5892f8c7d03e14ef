// float16 (IEEE 754 binary16) and bfloat16 <-> float32 conversion, bit exact.
//
// Float32ToHalf / Float32ToBFloat16 round to nearest, ties to even, as IEEE
// 754 conversion does (and as numpy's float16 cast and PyTorch's bfloat16 cast
// do); overflow gives infinity, NaN stays NaN (quiet, sign kept). The widening
// conversions are exact. A value v is representable in the narrow type when
// HalfToFloat32(Float32ToHalf(v)) == v.
#ifndef ONNX_CRYPT_IR_HALF_H_
#define ONNX_CRYPT_IR_HALF_H_

#include <cstdint>

namespace onnx_crypt {

float HalfToFloat32(uint16_t bits);
uint16_t Float32ToHalf(float value);
float BFloat16ToFloat32(uint16_t bits);
uint16_t Float32ToBFloat16(float value);

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_IR_HALF_H_
