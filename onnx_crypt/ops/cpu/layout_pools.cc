// GlobalMean (layout_pools.h): each channel summed in order from zero over its
// positions, then divided by their number; in NHWC the channels of one
// position are added together, and each channel's sum still runs in order.
#include "onnx_crypt/ops/cpu/layout_pools.h"

#include <algorithm>
#include <vector>

namespace onnx_crypt::cpu {

void GlobalMean(const float* x, bool nhwc, int64_t count, int64_t channels,
                int64_t size, float* y) {
  const float divisor = static_cast<float>(size);
  if (!nhwc) {
    ParallelFor(count * channels, GrainFor(size),
                [&](int64_t begin, int64_t end) {
                  for (int64_t p = begin; p < end; ++p) {
                    const float* plane = x + p * size;
                    float sum = 0.0f;
                    for (int64_t i = 0; i < size; ++i) sum += plane[i];
                    y[p] = size > 0 ? sum / divisor : 0.0f;
                  }
                });
    return;
  }
  // Across the channels of one position at a time: each channel's sum still
  // runs over the positions in order.
  ParallelFor(count, GrainFor(size * channels),
              [&](int64_t begin, int64_t end) {
                std::vector<float> sums(static_cast<size_t>(channels));
                for (int64_t n = begin; n < end; ++n) {
                  std::fill(sums.begin(), sums.end(), 0.0f);
                  const float* image = x + n * size * channels;
                  for (int64_t i = 0; i < size; ++i) {
                    const float* at = image + i * channels;
                    for (int64_t c = 0; c < channels; ++c) sums[c] += at[c];
                  }
                  for (int64_t c = 0; c < channels; ++c) {
                    y[n * channels + c] = size > 0 ? sums[c] / divisor : 0.0f;
                  }
                }
              });
}

}  // namespace onnx_crypt::cpu
