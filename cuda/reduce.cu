// Deterministic reductions: one block per output element; thread t of the block
// sums elements t, t + B, t + 2B, ... (B = kThreads) in double, then the block
// combines the B partial sums with a fixed shared-memory tree. The split and
// the tree depend only on the sizes, so results are bit-identical run to run.
//
//   ReduceToShape:      out[t] = scale * sum_{r} in[base(t) + offset(r)]
//   BatchNormParamGrad: dbias[c] = sum dy,  dscale[c] = inv_std[c] *
//                       sum dy (x - mean[c])   over [batch, inner]
//   CrossEntropyRows:   engine/loss.h, one thread per row, in double.
#include <cmath>

#include "cuda/elementwise.cuh"

namespace onnx_crypt::cuda {

namespace {

// Dimensions kept (one entry per output element) and reduced, with their
// element strides in the input.
struct ReducePlan {
  int n_keep = 0;
  int64_t keep_size[kMaxRank] = {};
  int64_t keep_stride[kMaxRank] = {};
  int n_red = 0;
  int64_t red_size[kMaxRank] = {};
  int64_t red_stride[kMaxRank] = {};
  int64_t per_out = 1;  // elements summed into one output
};

__device__ int64_t Offset(int64_t flat, int n, const int64_t* size,
                          const int64_t* stride) {
  int64_t off = 0;
  for (int d = n - 1; d >= 0; --d) {
    off += (flat % size[d]) * stride[d];
    flat /= size[d];
  }
  return off;
}

// Sums the kThreads partial sums of `part` (shared) into part[0].
__device__ void BlockTree(double* part) {
  for (int width = kThreads / 2; width > 0; width /= 2) {
    __syncthreads();
    if (threadIdx.x < width) part[threadIdx.x] += part[threadIdx.x + width];
  }
  __syncthreads();
}

__global__ void ReduceKernel(const float* in, float* out, ReducePlan plan,
                             int64_t out_numel, double scale) {
  __shared__ double part[kThreads];
  for (int64_t t = blockIdx.x; t < out_numel; t += gridDim.x) {
    const int64_t base =
        Offset(t, plan.n_keep, plan.keep_size, plan.keep_stride);
    double sum = 0.0;
    for (int64_t r = threadIdx.x; r < plan.per_out; r += kThreads) {
      sum += in[base + Offset(r, plan.n_red, plan.red_size, plan.red_stride)];
    }
    part[threadIdx.x] = sum;
    BlockTree(part);
    if (threadIdx.x == 0) out[t] = static_cast<float>(part[0] * scale);
    __syncthreads();
  }
}

__global__ void BatchNormCoefficientsKernel(
    const float* scale, const float* bias, const float* mean, const float* var,
    double epsilon, int64_t channels, float* a, float* b, double* inv_std) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= channels) return;
  const double is = 1.0 / sqrt(static_cast<double>(var[c]) + epsilon);
  const double ac = static_cast<double>(scale[c]) * is;
  inv_std[c] = is;
  a[c] = static_cast<float>(ac);
  b[c] = static_cast<float>(static_cast<double>(bias[c]) -
                            static_cast<double>(mean[c]) * ac);
}

__global__ void BatchNormParamGradKernel(const float* x, const float* dy,
                                         const float* mean,
                                         const double* inv_std, int64_t batch,
                                         int64_t channels, int64_t inner,
                                         float* dscale, float* dbias) {
  __shared__ double part_g[kThreads];
  __shared__ double part_gx[kThreads];
  for (int64_t c = blockIdx.x; c < channels; c += gridDim.x) {
    const float m = mean[c];
    double sum_g = 0.0, sum_gx = 0.0;
    const int64_t count = batch * inner;
    for (int64_t r = threadIdx.x; r < count; r += kThreads) {
      const int64_t n = r / inner, i = r % inner;
      const int64_t off = (n * channels + c) * inner + i;
      const float g = dy[off];
      sum_g += g;
      sum_gx += static_cast<double>(g * (x[off] - m));
    }
    part_g[threadIdx.x] = sum_g;
    part_gx[threadIdx.x] = sum_gx;
    for (int width = kThreads / 2; width > 0; width /= 2) {
      __syncthreads();
      if (threadIdx.x < width) {
        part_g[threadIdx.x] += part_g[threadIdx.x + width];
        part_gx[threadIdx.x] += part_gx[threadIdx.x + width];
      }
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      if (dbias != nullptr) dbias[c] = static_cast<float>(part_g[0]);
      if (dscale != nullptr)
        dscale[c] = static_cast<float>(part_gx[0] * inv_std[c]);
    }
    __syncthreads();
  }
}

__global__ void CrossEntropyRowsKernel(const float* out, const int64_t* labels,
                                       int64_t n, int64_t c, int kind,
                                       double prob_floor, double* row_loss,
                                       float* grad) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const float* row = out + i * c;
  float* grow = grad + i * c;
  const int64_t y = labels[i];
  const double inv_n = 1.0 / static_cast<double>(n);
  if (kind == 0) {  // logits
    double mx = row[0];
    for (int64_t k = 1; k < c; ++k) mx = fmax(mx, static_cast<double>(row[k]));
    double sum = 0.0;
    for (int64_t k = 0; k < c; ++k) sum += exp(row[k] - mx);
    row_loss[i] = log(sum) + mx - row[y];
    for (int64_t k = 0; k < c; ++k) {
      const double p = exp(row[k] - mx) / sum;
      grow[k] = static_cast<float>((p - (k == y ? 1.0 : 0.0)) * inv_n);
    }
    return;
  }
  for (int64_t k = 0; k < c; ++k) grow[k] = 0.0f;
  if (kind == 1) {  // probabilities
    const double p = row[y];
    if (p > prob_floor) {
      row_loss[i] = -log(p);
      grow[y] = static_cast<float>(-inv_n / p);
    } else {
      row_loss[i] = -log(prob_floor);
    }
    return;
  }
  row_loss[i] = -static_cast<double>(row[y]);  // log-probabilities
  grow[y] = static_cast<float>(-inv_n);
}

}  // namespace

cudaError_t ReduceToShape(const float* in, const int64_t* in_shape, int in_rank,
                          float* out, const int64_t* out_shape, int out_rank,
                          double scale, cudaStream_t stream) {
  if (in_rank > kMaxRank || out_rank > in_rank) return cudaErrorInvalidValue;
  ReducePlan plan;
  int64_t stride = 1;
  int64_t out_numel = 1;
  // Walk from the innermost dimension; collect in reverse, then flip.
  int64_t ks[kMaxRank], kst[kMaxRank], rs[kMaxRank], rst[kMaxRank];
  int nk = 0, nr = 0;
  for (int d = in_rank - 1; d >= 0; --d) {
    const int od = d - (in_rank - out_rank);
    const int64_t out_dim = od >= 0 ? out_shape[od] : 1;
    const int64_t dim = in_shape[d];
    if (out_dim == dim) {
      ks[nk] = dim;
      kst[nk++] = stride;
      out_numel *= dim;
    } else if (out_dim == 1) {
      rs[nr] = dim;
      rst[nr++] = stride;
      plan.per_out *= dim;
    } else {
      return cudaErrorInvalidValue;
    }
    stride *= dim;
  }
  plan.n_keep = nk;
  plan.n_red = nr;
  for (int k = 0; k < nk; ++k) {
    plan.keep_size[k] = ks[nk - 1 - k];
    plan.keep_stride[k] = kst[nk - 1 - k];
  }
  for (int k = 0; k < nr; ++k) {
    plan.red_size[k] = rs[nr - 1 - k];
    plan.red_stride[k] = rst[nr - 1 - k];
  }
  if (out_numel <= 0) return cudaSuccess;
  const int blocks =
      static_cast<int>(out_numel < kMaxBlocks ? out_numel : kMaxBlocks);
  ReduceKernel<<<blocks, kThreads, 0, stream>>>(in, out, plan, out_numel,
                                                scale);
  return cudaGetLastError();
}

cudaError_t BatchNormCoefficients(const float* scale, const float* bias,
                                  const float* mean, const float* var,
                                  double epsilon, int64_t channels, float* a,
                                  float* b, double* inv_std,
                                  cudaStream_t stream) {
  if (channels <= 0) return cudaSuccess;
  BatchNormCoefficientsKernel<<<BlocksFor(channels), kThreads, 0, stream>>>(
      scale, bias, mean, var, epsilon, channels, a, b, inv_std);
  return cudaGetLastError();
}

cudaError_t BatchNormParamGrad(const float* x, const float* dy,
                               const float* mean, const double* inv_std,
                               int64_t batch, int64_t channels, int64_t inner,
                               float* dscale, float* dbias,
                               cudaStream_t stream) {
  if (channels <= 0) return cudaSuccess;
  const int blocks =
      static_cast<int>(channels < kMaxBlocks ? channels : kMaxBlocks);
  BatchNormParamGradKernel<<<blocks, kThreads, 0, stream>>>(
      x, dy, mean, inv_std, batch, channels, inner, dscale, dbias);
  return cudaGetLastError();
}

cudaError_t CrossEntropyRows(const float* out, const int64_t* labels, int64_t n,
                             int64_t c, int kind, double prob_floor,
                             double* row_loss, float* grad,
                             cudaStream_t stream) {
  if (n <= 0 || c <= 0) return cudaSuccess;
  CrossEntropyRowsKernel<<<BlocksFor(n), kThreads, 0, stream>>>(
      out, labels, n, c, kind, prob_floor, row_loss, grad);
  return cudaGetLastError();
}

}  // namespace onnx_crypt::cuda
