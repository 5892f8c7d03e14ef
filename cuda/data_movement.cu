// Data movement as functors over ElementwiseKernel: every output element is
// read from one computed source (Transpose, Gather, Pad) or summed over a
// fixed, ordered set of sources (GatherGrad, PadGradDim), so no two threads
// write the same element and no atomics are needed.
//   Transpose: y[i_0..i_{r-1}] = x[j] with j[perm[d]] = i_d
//   Gather:    y[o, i, k] = data[o, idx[i], k]
//   Pad:       y[i] = x[src(i)], src per dimension s = i_d - begin_d mapped by
//              the mode (constant: value; edge: clamp; reflect: mirror without
//              repeating the edge, period 2 (n - 1))
#include "cuda/elementwise.cuh"

namespace onnx_crypt::cuda {

namespace {

struct TransposeFn {
  int rank;
  int64_t out_size[kMaxRank];
  int64_t src_stride[kMaxRank];  // source step per output index step
  const float* x;
  float* y;
  __device__ void operator()(int64_t i) const {
    int64_t flat = i, src = 0;
    for (int d = rank - 1; d >= 0; --d) {
      src += (flat % out_size[d]) * src_stride[d];
      flat /= out_size[d];
    }
    y[i] = x[src];
  }
};

struct GatherFn {
  const float* data;
  const int64_t* idx;
  int64_t n, m, inner;
  float* y;
  __device__ void operator()(int64_t e) const {
    const int64_t k = e % inner;
    const int64_t i = (e / inner) % m;
    const int64_t o = e / (inner * m);
    y[e] = data[(o * n + idx[i]) * inner + k];
  }
};

struct GatherGradFn {
  const float* dy;
  const int64_t* idx;
  int64_t n, m, inner;
  float* dx;
  __device__ void operator()(int64_t e) const {
    const int64_t k = e % inner;
    const int64_t j = (e / inner) % n;
    const int64_t o = e / (inner * n);
    float sum = 0.0f;
    for (int64_t i = 0; i < m; ++i) {
      if (idx[i] == j) sum += dy[(o * m + i) * inner + k];
    }
    dx[e] = sum;
  }
};

// Source position along one dimension of size n for padded position s (already
// shifted by begin), or -1 for a constant fill.
__device__ int64_t PadSource(int64_t s, int64_t n, PadMode mode) {
  if (s >= 0 && s < n) return s;
  switch (mode) {
    case PadMode::kConstant:
      return -1;
    case PadMode::kEdge:
      return s < 0 ? 0 : n - 1;
    case PadMode::kReflect: {
      if (n == 1) return 0;
      const int64_t period = 2 * (n - 1);
      int64_t r = ((s % period) + period) % period;
      if (r >= n) r = period - r;
      return r;
    }
  }
  return -1;
}

struct PadFn {
  int rank;
  int64_t in_size[kMaxRank];
  int64_t out_size[kMaxRank];
  int64_t begin[kMaxRank];
  PadMode mode;
  float value;
  const float* x;
  float* y;
  __device__ void operator()(int64_t i) const {
    int64_t flat = i, src = 0, stride = 1;
    for (int d = rank - 1; d >= 0; --d) {
      const int64_t pos = flat % out_size[d];
      flat /= out_size[d];
      const int64_t s = PadSource(pos - begin[d], in_size[d], mode);
      if (s < 0) {
        y[i] = value;
        return;
      }
      src += s * stride;
      stride *= in_size[d];
    }
    y[i] = x[src];
  }
};

struct PadGradDimFn {
  const float* g;
  int64_t out_d, in_d, inner, begin;
  PadMode mode;
  float* dx;
  __device__ void operator()(int64_t e) const {
    const int64_t k = e % inner;
    const int64_t i = (e / inner) % in_d;
    const int64_t o = e / (inner * in_d);
    float sum = 0.0f;
    for (int64_t j = 0; j < out_d; ++j) {
      if (PadSource(j - begin, in_d, mode) == i)
        sum += g[(o * out_d + j) * inner + k];
    }
    dx[e] = sum;
  }
};

}  // namespace

cudaError_t Transpose(const float* x, const int64_t* x_shape, int rank,
                      const int64_t* perm, float* y, cudaStream_t stream) {
  if (rank > kMaxRank) return cudaErrorInvalidValue;
  TransposeFn f{};
  f.rank = rank;
  f.x = x;
  f.y = y;
  int64_t in_stride[kMaxRank];
  int64_t s = 1;
  for (int d = rank - 1; d >= 0; --d) {
    in_stride[d] = s;
    s *= x_shape[d];
  }
  int64_t n = 1;
  for (int d = 0; d < rank; ++d) {
    f.out_size[d] = x_shape[perm[d]];
    f.src_stride[d] = in_stride[perm[d]];
    n *= f.out_size[d];
  }
  return LaunchElementwise(f, n, stream);
}

cudaError_t Gather(const float* data, const int64_t* idx, int64_t outer,
                   int64_t n, int64_t m, int64_t inner, float* y,
                   cudaStream_t stream) {
  if (inner <= 0 || m <= 0) return cudaSuccess;
  return LaunchElementwise(GatherFn{data, idx, n, m, inner, y},
                           outer * m * inner, stream);
}

cudaError_t GatherGrad(const float* dy, const int64_t* idx, int64_t outer,
                       int64_t n, int64_t m, int64_t inner, float* dx,
                       cudaStream_t stream) {
  if (inner <= 0 || n <= 0) return cudaSuccess;
  return LaunchElementwise(GatherGradFn{dy, idx, n, m, inner, dx},
                           outer * n * inner, stream);
}

cudaError_t PadForward(const float* x, const int64_t* x_shape, int rank,
                       const int64_t* begin, const int64_t* out_shape,
                       PadMode mode, float value, float* y,
                       cudaStream_t stream) {
  if (rank > kMaxRank) return cudaErrorInvalidValue;
  PadFn f{};
  f.rank = rank;
  f.mode = mode;
  f.value = value;
  f.x = x;
  f.y = y;
  int64_t n = 1;
  for (int d = 0; d < rank; ++d) {
    f.in_size[d] = x_shape[d];
    f.out_size[d] = out_shape[d];
    f.begin[d] = begin[d];
    n *= out_shape[d];
  }
  return LaunchElementwise(f, n, stream);
}

cudaError_t PadGradDim(const float* g, int64_t outer, int64_t out_d,
                       int64_t in_d, int64_t inner, int64_t begin, PadMode mode,
                       float* dx, cudaStream_t stream) {
  if (inner <= 0 || in_d <= 0) return cudaSuccess;
  return LaunchElementwise(PadGradDimFn{g, out_d, in_d, inner, begin, mode, dx},
                           outer * in_d * inner, stream);
}

}  // namespace onnx_crypt::cuda
