#include "onnx_crypt/ir/half.h"

#include <cstring>

namespace onnx_crypt {
namespace {

uint32_t BitsOf(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
}

float FloatOf(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
}

}  // namespace

// binary16: 1 sign bit, 5 exponent bits (bias 15), 10 fraction bits.
float HalfToFloat32(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  const uint32_t exponent = (bits >> 10) & 0x1fu;
  uint32_t fraction = bits & 0x3ffu;
  if (exponent == 0x1f)  // infinity or NaN
    return FloatOf(sign | 0x7f800000u | (fraction << 13));
  if (exponent != 0)  // normal: rebias 15 -> 127
    return FloatOf(sign | ((exponent + 112) << 23) | (fraction << 13));
  if (fraction == 0) return FloatOf(sign);  // signed zero
  // Subnormal: value = fraction * 2^-24; normalize it.
  int e = -1;
  do {
    fraction <<= 1;
    ++e;
  } while ((fraction & 0x400u) == 0);
  fraction &= 0x3ffu;
  return FloatOf(sign | (static_cast<uint32_t>(112 - e) << 23) |
                 (fraction << 13));
}

uint16_t Float32ToHalf(float value) {
  const uint32_t u = BitsOf(value);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  const uint32_t abs = u & 0x7fffffffu;
  if (abs > 0x7f800000u)  // NaN: keep it quiet and non-zero
    return static_cast<uint16_t>(sign | 0x7e00u | ((abs >> 13) & 0x3ffu));
  if (abs >= 0x477ff000u)  // rounds to 65520 or more: infinity
    return static_cast<uint16_t>(sign | 0x7c00u);
  if (abs >= 0x38800000u) {  // normal half (>= 2^-14)
    // Rebias and round the 13 dropped bits to nearest even; a carry into the
    // exponent is the correct result.
    const uint32_t rebiased = abs - (112u << 23);
    const uint32_t rounded = rebiased + 0xfffu + ((rebiased >> 13) & 1u);
    return static_cast<uint16_t>(sign | (rounded >> 13));
  }
  if (abs < 0x33000000u) return sign;  // below half the smallest subnormal
  // Subnormal half: value / 2^-24, rounded to nearest even.
  const uint32_t exponent = abs >> 23;
  const uint32_t mantissa = (abs & 0x7fffffu) | 0x800000u;
  const uint32_t shift = 126 - exponent;  // 14..24 bits dropped
  const uint32_t kept = mantissa >> shift;
  const uint32_t rest = mantissa & ((1u << shift) - 1);
  const uint32_t half_way = 1u << (shift - 1);
  const uint32_t up = rest > half_way || (rest == half_way && (kept & 1u));
  return static_cast<uint16_t>(sign | (kept + up));
}

float BFloat16ToFloat32(uint16_t bits) {
  return FloatOf(static_cast<uint32_t>(bits) << 16);
}

uint16_t Float32ToBFloat16(float value) {
  const uint32_t u = BitsOf(value);
  if ((u & 0x7fffffffu) > 0x7f800000u)  // NaN: keep it quiet
    return static_cast<uint16_t>((u >> 16) | 0x40u);
  const uint32_t rounded = u + 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(rounded >> 16);
}

}  // namespace onnx_crypt
