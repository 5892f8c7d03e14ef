// Known answers of the lock's seeded generator (SplitMix64). Seed 0's first
// output, 0xe220a8397b1dcdaf, is the published reference value; the rest were
// computed by an independent Python implementation of the specification in
// lock/random.h.
#include "onnx_crypt/lock/random.h"

#include "cuda/position_hash.h"
#include "gtest/gtest.h"

namespace onnx_crypt {
namespace {

TEST(SeededGeneratorTest, KnownAnswersSeed0) {
  SeededGenerator g(0);
  EXPECT_EQ(g.Next(), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(g.Next(), 0x6e789e6aa1b965f4ULL);
  EXPECT_EQ(g.Next(), 0x06c45d188009454fULL);
}

TEST(SeededGeneratorTest, KnownAnswersSeed1234567) {
  SeededGenerator g(1234567);
  EXPECT_EQ(g.Next(), 0x599ed017fb08fc85ULL);
  EXPECT_EQ(g.Next(), 0x2c73f08458540fa5ULL);
  EXPECT_EQ(g.Next(), 0x883ebce5a3f27c77ULL);
}

TEST(SeededGeneratorTest, UniformIsInUnitInterval) {
  SeededGenerator g(7);
  double lo = 1, hi = 0;
  for (int i = 0; i < 100000; ++i) {
    const double u = g.Uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    lo = std::min(lo, u);
    hi = std::max(hi, u);
  }
  EXPECT_LT(lo, 1e-3);
  EXPECT_GT(hi, 1 - 1e-3);
}

// The variants' position hash is one generator step from the keyed seed: the
// top bit of SeededGenerator(seed ^ (tensor << 48) ^ (index * golden
// gamma)).Next(), and it leaves out about half of all positions.
TEST(PositionExcludedTest, IsTheTopBitOfOneGeneratorStep) {
  int excluded = 0, total = 0;
  for (uint64_t seed : {0ULL, 1ULL, 12345ULL, 0xFFFFFFFFFFFFFFFFULL}) {
    for (uint64_t tensor = 0; tensor < 4; ++tensor) {
      for (int64_t index = 0; index < 2000; ++index) {
        SeededGenerator g(
            seed ^ (tensor << 48) ^
            (static_cast<uint64_t>(index) * 0x9E3779B97F4A7C15ULL));
        const bool expected = (g.Next() >> 63) != 0;
        ASSERT_EQ(PositionExcluded(seed, tensor, index), expected)
            << seed << " " << tensor << " " << index;
        excluded += expected;
        ++total;
      }
    }
  }
  EXPECT_GT(excluded, total * 45 / 100);
  EXPECT_LT(excluded, total * 55 / 100);
}

}  // namespace
}  // namespace onnx_crypt
