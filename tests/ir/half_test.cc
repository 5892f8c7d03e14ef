// float16 / bfloat16 conversions (ir/half.h) against the compiler's own
// IEEE binary16 type (_Float16, GCC >= 12 on x86-64, converted as IEEE 754
// requires: round to nearest even) and against brute-force nearest-value
// search for bfloat16.
#include "onnx_crypt/ir/half.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "gtest/gtest.h"

namespace onnx_crypt {
namespace {

uint32_t Bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float FromBits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Floats spread over every exponent, plus the boundaries around half's range.
std::vector<float> SampleFloats() {
  std::vector<float> out;
  std::mt19937 gen(7);
  for (int i = 0; i < 2000000; ++i) out.push_back(FromBits(gen()));
  for (float v : {0.0f, -0.0f, 65504.0f, 65519.99f, 65520.0f, 6.1035156e-05f,
                  5.9604645e-08f, 2.9802322e-08f, 2.9802326e-08f, 1.0f,
                  std::numeric_limits<float>::infinity(),
                  std::numeric_limits<float>::denorm_min()})
    for (float s : {1.0f, -1.0f}) out.push_back(s * v);
  // Every exact half-way point between adjacent halves (ties to even).
  for (uint32_t h = 0; h < 0x7bffu; ++h) {
    const double a = HalfToFloat32(static_cast<uint16_t>(h));
    const double b = HalfToFloat32(static_cast<uint16_t>(h + 1));
    out.push_back(static_cast<float>((a + b) / 2));
  }
  return out;
}

#ifdef __FLT16_MAX__
TEST(HalfTest, WideningMatchesFloat16Type) {
  for (uint32_t h = 0; h <= 0xffffu; ++h) {
    _Float16 x;
    const uint16_t bits = static_cast<uint16_t>(h);
    std::memcpy(&x, &bits, 2);
    const float want = static_cast<float>(x);
    const float got = HalfToFloat32(bits);
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got)) << h;
    } else {
      ASSERT_EQ(Bits(got), Bits(want)) << "half bits " << h;
    }
  }
}

TEST(HalfTest, NarrowingMatchesFloat16Type) {
  for (float v : SampleFloats()) {
    const _Float16 x = static_cast<_Float16>(v);
    uint16_t want;
    std::memcpy(&want, &x, 2);
    const uint16_t got = Float32ToHalf(v);
    if (std::isnan(v)) {
      EXPECT_TRUE(std::isnan(HalfToFloat32(got)));
      EXPECT_EQ(got & 0x8000u, want & 0x8000u);
    } else {
      ASSERT_EQ(got, want) << "float " << v << " bits " << Bits(v);
    }
  }
}
#endif

TEST(HalfTest, EveryHalfRoundTrips) {
  for (uint32_t h = 0; h <= 0xffffu; ++h) {
    const uint16_t bits = static_cast<uint16_t>(h);
    const float f = HalfToFloat32(bits);
    if (std::isnan(f)) continue;
    EXPECT_EQ(Float32ToHalf(f), bits) << h;
  }
}

TEST(BFloat16Test, EveryBFloat16RoundTrips) {
  for (uint32_t h = 0; h <= 0xffffu; ++h) {
    const uint16_t bits = static_cast<uint16_t>(h);
    const float f = BFloat16ToFloat32(bits);
    EXPECT_EQ(Bits(f), h << 16);
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(BFloat16ToFloat32(Float32ToBFloat16(f))));
    } else {
      EXPECT_EQ(Float32ToBFloat16(f), bits) << h;
    }
  }
}

// Nearest bfloat16 by search over the two candidates that bracket v, ties to
// the even one.
TEST(BFloat16Test, NarrowingIsNearestEven) {
  for (float v : SampleFloats()) {
    if (std::isnan(v)) continue;
    const uint32_t u = Bits(v);
    const uint16_t down = static_cast<uint16_t>(u >> 16);
    const uint16_t up = static_cast<uint16_t>(down + 1);
    const double lo = BFloat16ToFloat32(down);
    const double d_lo = std::fabs(static_cast<double>(v) - lo);
    uint16_t want = down;
    if ((u & 0xffffu) != 0) {
      // Next value away from zero; past the largest finite one, rounding
      // treats infinity as 2^128.
      double hi = BFloat16ToFloat32(up);
      if (std::isinf(hi)) hi = std::copysign(std::ldexp(1.0, 128), hi);
      const double d_hi = std::fabs(hi - static_cast<double>(v));
      if (d_hi < d_lo || (d_hi == d_lo && (down & 1u))) want = up;
    }
    ASSERT_EQ(Float32ToBFloat16(v), want) << v << " bits " << u;
  }
}

}  // namespace
}  // namespace onnx_crypt
