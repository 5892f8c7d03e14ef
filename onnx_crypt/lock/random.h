// The seeded generator that decides everything random in a lock (target values
// in the tail).
//
// Specification (stable: keys depend on it): SplitMix64 (Steele, Lea, Flood
// 2014).
//   state_0 = seed
//   next():   state += 0x9E3779B97F4A7C15; z = state;
//             z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
//             z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
//             return z ^ (z >> 31)
//   Uniform(): (next() >> 11) * 2^-53, in [0, 1).
// Known answers are tested in tests/lock/random_test.cc.
#ifndef ONNX_CRYPT_LOCK_RANDOM_H_
#define ONNX_CRYPT_LOCK_RANDOM_H_

#include <cstdint>

namespace onnx_crypt {

class SeededGenerator {
 public:
  explicit SeededGenerator(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t state_;
};

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_LOCK_RANDOM_H_
