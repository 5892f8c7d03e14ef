// MaxPool and AveragePool with ONNX semantics (onnx_crypt/ops/cpu/pool_util.h:
// ceil_mode, asymmetric pads, dilations, 1-D to 3-D in three geometry slots).
//
// Forward: one thread per output walks its window's taps inside x in
// row-major tap order (as the CPU reference does):
//   max: y = first maximum, argmax = its flat index in x
//   avg: y = (sum of taps inside x) / count, count = taps inside x, or taps
//        inside x plus pads (count_include_pad), never past the end padding
// Backward gathers instead of scattering: one thread per input element i visits
// the outputs o whose window has a tap on i (per slot: o s - p_begin + j d =
// i_slot, 0 <= j < K), in increasing o, and sums
//   max: dy[o] where argmax[o] == i;   avg: dy[o] / count(o).
// The same additions happen in the same order as the CPU loop, without atomics.
#include "cuda/elementwise.cuh"

namespace onnx_crypt::cuda {

namespace {

__host__ __device__ int64_t CeilDiv(int64_t a, int64_t b) {
  return a >= 0 ? (a + b - 1) / b : -((-a) / b);
}

__host__ __device__ int64_t Clamp(int64_t v, int64_t lo, int64_t hi) {
  return v < lo ? lo : (v > hi ? hi : v);
}

// The taps [k_begin, k_end) of output o of slot d read inside x; taps
// [0, k_end_padded) read inside x plus pads.
struct Window {
  int64_t start, k_begin, k_end, k_end_padded;
};

__device__ Window MakeWindow(const PoolGeometry& g, int d, int64_t o) {
  Window w;
  const int64_t kernel = g.kernel[d], dil = g.dilation[d], in = g.in[d];
  w.start = o * g.stride[d] - g.pad_begin[d];
  w.k_begin =
      w.start < 0
          ? (kernel < CeilDiv(-w.start, dil) ? kernel : CeilDiv(-w.start, dil))
          : 0;
  w.k_end = Clamp(CeilDiv(in - w.start, dil), w.k_begin, kernel);
  w.k_end_padded = Clamp(CeilDiv(in + g.pad_end[d] - w.start, dil), 0, kernel);
  return w;
}

__device__ int64_t AverageCount(const Window (&w)[3], bool include_pad) {
  if (include_pad)
    return w[0].k_end_padded * w[1].k_end_padded * w[2].k_end_padded;
  return (w[0].k_end - w[0].k_begin) * (w[1].k_end - w[1].k_begin) *
         (w[2].k_end - w[2].k_begin);
}

// Splits a flat output index into (plane, od, oh, ow).
__device__ void SplitOut(const PoolGeometry& g, int64_t e, int64_t* nc,
                         int64_t o[3]) {
  o[2] = e % g.out[2];
  e /= g.out[2];
  o[1] = e % g.out[1];
  e /= g.out[1];
  o[0] = e % g.out[0];
  *nc = e / g.out[0];
}

struct MaxForwardFn {
  PoolGeometry g;
  const float* x;
  float* y;
  int64_t* argmax;
  __device__ void operator()(int64_t e) const {
    int64_t nc, o[3];
    SplitOut(g, e, &nc, o);
    const Window w[3] = {MakeWindow(g, 0, o[0]), MakeWindow(g, 1, o[1]),
                         MakeWindow(g, 2, o[2])};
    const int64_t in_size = g.in[0] * g.in[1] * g.in[2];
    const float* xp = x + nc * in_size;
    float best = -3.402823466e+38f;  // lowest float
    int64_t arg = -1;
    for (int64_t kd = w[0].k_begin; kd < w[0].k_end; ++kd) {
      const int64_t id = w[0].start + kd * g.dilation[0];
      for (int64_t kh = w[1].k_begin; kh < w[1].k_end; ++kh) {
        const int64_t row =
            (id * g.in[1] + w[1].start + kh * g.dilation[1]) * g.in[2];
        for (int64_t kw = w[2].k_begin; kw < w[2].k_end; ++kw) {
          const int64_t idx = row + w[2].start + kw * g.dilation[2];
          const float v = xp[idx];
          if (arg < 0 || v > best) {
            best = v;
            arg = idx;
          }
        }
      }
    }
    y[e] = best;
    if (argmax != nullptr) argmax[e] = arg < 0 ? -1 : nc * in_size + arg;
  }
};

struct AvgForwardFn {
  PoolGeometry g;
  bool include_pad;
  const float* x;
  float* y;
  __device__ void operator()(int64_t e) const {
    int64_t nc, o[3];
    SplitOut(g, e, &nc, o);
    const Window w[3] = {MakeWindow(g, 0, o[0]), MakeWindow(g, 1, o[1]),
                         MakeWindow(g, 2, o[2])};
    const float* xp = x + nc * g.in[0] * g.in[1] * g.in[2];
    float sum = 0.0f;
    for (int64_t kd = w[0].k_begin; kd < w[0].k_end; ++kd) {
      const int64_t id = w[0].start + kd * g.dilation[0];
      for (int64_t kh = w[1].k_begin; kh < w[1].k_end; ++kh) {
        const float* row =
            xp + (id * g.in[1] + w[1].start + kh * g.dilation[1]) * g.in[2] +
            w[2].start;
        for (int64_t kw = w[2].k_begin; kw < w[2].k_end; ++kw) {
          sum += row[kw * g.dilation[2]];
        }
      }
    }
    const int64_t count = AverageCount(w, include_pad);
    y[e] = count > 0 ? sum / static_cast<float>(count) : 0.0f;
  }
};

// Outputs of slot d whose window has a tap on input position i: o in
// [lo, hi] with (i + p_begin - o s) divisible by the dilation and its quotient
// (the tap) below the kernel size.
__device__ void OutRange(const PoolGeometry& g, int d, int64_t i, int64_t* lo,
                         int64_t* hi) {
  const int64_t top = i + g.pad_begin[d];  // o s + j dil = top
  const int64_t reach = (g.kernel[d] - 1) * g.dilation[d];
  *lo = top - reach <= 0 ? 0 : CeilDiv(top - reach, g.stride[d]);
  *hi = top / g.stride[d];
  if (*hi > g.out[d] - 1) *hi = g.out[d] - 1;
}

__device__ bool TapOf(const PoolGeometry& g, int d, int64_t i, int64_t o) {
  const int64_t r = i + g.pad_begin[d] - o * g.stride[d];
  return r >= 0 && r % g.dilation[d] == 0 && r / g.dilation[d] < g.kernel[d];
}

template <bool kMax>
struct PoolBackwardFn {
  PoolGeometry g;
  bool include_pad;
  const float* dy;
  const int64_t* argmax;
  float* dx;
  __device__ void operator()(int64_t e) const {
    const int64_t i2 = e % g.in[2];
    const int64_t i1 = (e / g.in[2]) % g.in[1];
    const int64_t i0 = (e / (g.in[2] * g.in[1])) % g.in[0];
    const int64_t nc = e / (g.in[2] * g.in[1] * g.in[0]);
    int64_t lo[3], hi[3];
    OutRange(g, 0, i0, &lo[0], &hi[0]);
    OutRange(g, 1, i1, &lo[1], &hi[1]);
    OutRange(g, 2, i2, &lo[2], &hi[2]);
    const int64_t out_size = g.out[0] * g.out[1] * g.out[2];
    float sum = 0.0f;
    for (int64_t od = lo[0]; od <= hi[0]; ++od) {
      if (!TapOf(g, 0, i0, od)) continue;
      for (int64_t oh = lo[1]; oh <= hi[1]; ++oh) {
        if (!TapOf(g, 1, i1, oh)) continue;
        for (int64_t ow = lo[2]; ow <= hi[2]; ++ow) {
          if (!TapOf(g, 2, i2, ow)) continue;
          const int64_t o =
              nc * out_size + (od * g.out[1] + oh) * g.out[2] + ow;
          if (kMax) {
            if (argmax[o] == e) sum += dy[o];
          } else {
            const Window w[3] = {MakeWindow(g, 0, od), MakeWindow(g, 1, oh),
                                 MakeWindow(g, 2, ow)};
            const int64_t count = AverageCount(w, include_pad);
            if (count > 0) sum += dy[o] / static_cast<float>(count);
          }
        }
      }
    }
    dx[e] = sum;
  }
};

int64_t OutNumel(const PoolGeometry& g) {
  return g.planes * g.out[0] * g.out[1] * g.out[2];
}
int64_t InNumel(const PoolGeometry& g) {
  return g.planes * g.in[0] * g.in[1] * g.in[2];
}

}  // namespace

cudaError_t MaxPoolForward(const PoolGeometry& g, const float* x, float* y,
                           int64_t* argmax, cudaStream_t stream) {
  return LaunchElementwise(MaxForwardFn{g, x, y, argmax}, OutNumel(g), stream);
}

cudaError_t MaxPoolBackward(const PoolGeometry& g, const float* dy,
                            const int64_t* argmax, float* dx,
                            cudaStream_t stream) {
  return LaunchElementwise(PoolBackwardFn<true>{g, false, dy, argmax, dx},
                           InNumel(g), stream);
}

cudaError_t AveragePoolForward(const PoolGeometry& g, bool count_include_pad,
                               const float* x, float* y, cudaStream_t stream) {
  return LaunchElementwise(AvgForwardFn{g, count_include_pad, x, y},
                           OutNumel(g), stream);
}

cudaError_t AveragePoolBackward(const PoolGeometry& g, bool count_include_pad,
                                const float* dy, float* dx,
                                cudaStream_t stream) {
  return LaunchElementwise(
      PoolBackwardFn<false>{g, count_include_pad, dy, nullptr, dx}, InNumel(g),
      stream);
}

}  // namespace onnx_crypt::cuda
