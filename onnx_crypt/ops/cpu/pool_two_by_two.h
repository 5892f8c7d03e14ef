// The row-pair loop shared by the IsFullTwoByTwo fast paths of MaxPool and
// AveragePool (pool_util.h): for every output (n, c, i, j), y = window(a, b,
// c, d) of its taps in row-major order (a, b from input row 2i, c, d from row
// 2i + 1). The (n, c) planes are split over the kernel threads (parallel.h);
// each output depends on its own taps only, so the result is the same at any
// thread count. `window` is inlined, so the inner loop vectorizes.
#ifndef ONNX_CRYPT_OPS_CPU_POOL_TWO_BY_TWO_H_
#define ONNX_CRYPT_OPS_CPU_POOL_TWO_BY_TWO_H_

#include <cstdint>

#include "onnx_crypt/ops/cpu/parallel.h"
#include "onnx_crypt/ops/cpu/pool_util.h"

namespace onnx_crypt::cpu {

// The windows of the two fast paths (shared with the fused Conv chains of
// conv_fused.h, which must give the same values). MaxOfFour: the taps in
// order, a later one wins only when greater (MaxPool's generic loop).
// MeanOfFour: the sum from zero in tap order, divided by 4 (AveragePool's).
struct MaxOfFour {
  template <typename T>
  T operator()(T a, T b, T c, T d) const {
    T best = a;
    best = b > best ? b : best;
    best = c > best ? c : best;
    best = d > best ? d : best;
    return best;
  }
};
struct MeanOfFour {
  template <typename T>
  T operator()(T a, T b, T c, T d) const {
    T sum = T(0);
    sum += a;
    sum += b;
    sum += c;
    sum += d;
    return sum / T(4);
  }
};

template <typename T, typename Window>
void ForEachTwoByTwo(const WindowGeometry& g, const T* x, T* y,
                     const Window& window) {
  const int64_t in_size = g.InSize(), out_size = g.OutSize();
  const int64_t width = g.in[2], oh = g.out[1], ow = g.out[2];
  ParallelFor(g.batch * g.channels, GrainFor(4 * out_size),
              [&](int64_t nc_begin, int64_t nc_end) {
                const Window fn = window;
                for (int64_t nc = nc_begin; nc < nc_end; ++nc) {
                  for (int64_t i = 0; i < oh; ++i) {
                    const T* __restrict r0 = x + nc * in_size + 2 * i * width;
                    const T* __restrict r1 = r0 + width;
                    T* __restrict yr = y + nc * out_size + i * ow;
                    for (int64_t j = 0; j < ow; ++j) {
                      yr[j] = fn(r0[2 * j], r0[2 * j + 1], r1[2 * j],
                                 r1[2 * j + 1]);
                    }
                  }
                }
              });
}

}  // namespace onnx_crypt::cpu

#endif  // ONNX_CRYPT_OPS_CPU_POOL_TWO_BY_TWO_H_
