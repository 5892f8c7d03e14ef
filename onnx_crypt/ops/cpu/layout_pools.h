// Pools over a block laid out either count x channels x spatial (NCHW) or
// count x spatial x channels (NHWC), written in NCHW (or, for the 2 x 2 pool
// of an NHWC block, NHWC too): what a fused Conv chain
// (conv_dnnl.cc) runs on the convolution's output buffer in whichever layout
// oneDNN chose, so that the output never takes the round trip back to NCHW.
// Each output is computed in the same order as the plain pool kernels
// (global_average_pool.cc, pool_two_by_two.h), so the two paths agree bit for
// bit. Thread safety: pure functions of their arguments.
#ifndef ONNX_CRYPT_OPS_CPU_LAYOUT_POOLS_H_
#define ONNX_CRYPT_OPS_CPU_LAYOUT_POOLS_H_

#include <cstdint>
#include <vector>

#include "onnx_crypt/ops/cpu/parallel.h"
#include "onnx_crypt/ops/cpu/pool_two_by_two.h"
#include "onnx_crypt/ops/cpu/pool_util.h"

namespace onnx_crypt::cpu {

// The mean of each channel's `size` values of a count x channels x size block
// (`nhwc`: count x size x channels) into count x channels: the plane summed in
// order from zero, then divided by size.
void GlobalMean(const float* x, bool nhwc, int64_t count, int64_t channels,
                int64_t size, float* y);

// 2 x 2, stride 2 pooling of a count x channels x h x w block (`nhwc`: laid
// out count x h x w x channels) into count x channels x (h / 2) x (w / 2)
// (`nhwc_out`, for an NHWC block only: count x (h / 2) x (w / 2) x channels),
// each output from its own taps in MaxOfFour's / MeanOfFour's order.
template <typename Window>
void PoolTwoByTwo(const float* x, bool nhwc, int64_t count, int64_t channels,
                  int64_t h, int64_t w, float* y, const Window& window,
                  bool nhwc_out = false) {
  const int64_t oh = h / 2, ow = w / 2;
  if (!nhwc) {
    WindowGeometry g;
    g.spatial_rank = 2;
    g.batch = count;
    g.channels = channels;
    g.in = {1, h, w};
    g.out = {1, oh, ow};
    ForEachTwoByTwo(g, x, y, window);
    return;
  }
  // One output row (n, i) at a time: its ow x channels outputs computed
  // across the channels (contiguous taps), then, for an NCHW output, moved
  // from that NHWC tile to each channel's row of ow values (contiguous
  // writes instead of one scattered write per output).
  ParallelFor(count * oh, GrainFor(4 * ow * channels),
              [&](int64_t begin, int64_t end) {
                const Window fn = window;
                std::vector<float> tile(nhwc_out ? 0 : ow * channels);
                for (int64_t ni = begin; ni < end; ++ni) {
                  const int64_t n = ni / oh, i = ni % oh;
                  const float* r0 = x + ((n * h + 2 * i) * w) * channels;
                  const float* r1 = r0 + w * channels;
                  float* row =
                      nhwc_out ? y + (n * oh + i) * ow * channels : tile.data();
                  for (int64_t j = 0; j < ow; ++j) {
                    const float* __restrict a = r0 + 2 * j * channels;
                    const float* __restrict b = r1 + 2 * j * channels;
                    float* __restrict yj = row + j * channels;
                    for (int64_t c = 0; c < channels; ++c) {
                      yj[c] = fn(a[c], a[channels + c], b[c], b[channels + c]);
                    }
                  }
                  if (nhwc_out) continue;
                  float* yn = y + n * channels * oh * ow + i * ow;
                  for (int64_t c = 0; c < channels; ++c) {
                    float* __restrict yc = yn + c * oh * ow;
                    for (int64_t j = 0; j < ow; ++j)
                      yc[j] = row[j * channels + c];
                  }
                }
              });
}

}  // namespace onnx_crypt::cpu

#endif  // ONNX_CRYPT_OPS_CPU_LAYOUT_POOLS_H_
