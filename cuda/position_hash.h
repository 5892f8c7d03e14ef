// The seeded, position-keyed coin flip that leaves out half of all positions
// for a lock variant (LockConfig::diversify_positions). Shared by the lock's
// host ranking (lock/ranking.cc) and the CUDA ranking kernel (cuda/rank.cu),
// so both exclude exactly the same positions. Plain integer arithmetic with no
// dependencies, so it lives beside the kernel and compiles without CUDA:
// the lock includes it, the kernels never include the lock.
#ifndef ONNX_CRYPT_CUDA_POSITION_HASH_H_
#define ONNX_CRYPT_CUDA_POSITION_HASH_H_

#include <cstdint>

#ifdef __CUDACC__
#define OC_HOST_DEVICE __host__ __device__
#else
#define OC_HOST_DEVICE
#endif

namespace onnx_crypt {

// One SplitMix64 step (lock/random.h) from seed ^ (tensor << 48) ^ (index *
// golden gamma); the top bit decides. Stable: keys depend on it.
OC_HOST_DEVICE inline bool PositionExcluded(uint64_t seed, uint64_t tensor,
                                            int64_t index) {
  uint64_t z = seed ^ (tensor << 48) ^
               (static_cast<uint64_t>(index) * 0x9E3779B97F4A7C15ULL);
  z += 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  return (z >> 63) != 0;
}

}  // namespace onnx_crypt

#undef OC_HOST_DEVICE

#endif  // ONNX_CRYPT_CUDA_POSITION_HASH_H_
