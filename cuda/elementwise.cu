// Elementwise ops as functors over the one ElementwiseKernel template.
//
// Unary forward / derivative (the same formulas as onnx_crypt/ops/cpu/*.cc):
//   Relu        y = x > 0 ? x : 0                     y' = x > 0 ? 1 : 0
//   LeakyRelu   y = x >= 0 ? x : a x                  y' = x > 0 ? 1 : a
//   Sigmoid     y = 1 / (1 + e^-x)  (e^x/(1+e^x) for x < 0)   y' = y (1 - y)
//   Tanh        y = tanh x                            y' = 1 - y^2
//   Clip        y = min(max(x, lo), hi) in double     y' = lo <= x <= hi
//   HardSigmoid y = max(0, min(1, a x + b))           y' = a where 0<ax+b<1
//   HardSwish   y = x max(0, min(1, x/6 + 1/2))       y' = 0 | 1 | x/3 + 1/2
// Binary (numpy broadcasting) and their partial derivatives:
//   Add a + b (1, 1); Sub a - b (1, -1); Mul a b (b, a); Div a / b (1/b,
//   -a/b^2)
#include "cuda/elementwise.cuh"

namespace onnx_crypt::cuda {

namespace {

struct ReluOp {
  __device__ float Forward(float x) const { return x > 0.0f ? x : 0.0f; }
  __device__ float Grad(float x, float) const { return x > 0.0f ? 1.0f : 0.0f; }
};

struct LeakyReluOp {
  float alpha;
  __device__ float Forward(float x) const { return x >= 0.0f ? x : alpha * x; }
  __device__ float Grad(float x, float) const {
    return x > 0.0f ? 1.0f : alpha;
  }
};

struct SigmoidOp {
  __device__ float Forward(float x) const {
    if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
    const float e = expf(x);
    return e / (1.0f + e);
  }
  __device__ float Grad(float, float y) const { return y * (1.0f - y); }
};

struct TanhOp {
  __device__ float Forward(float x) const { return tanhf(x); }
  __device__ float Grad(float, float y) const { return 1.0f - y * y; }
};

struct ClipOp {
  double lo, hi;
  __device__ float Forward(float x) const {
    return static_cast<float>(fmin(fmax(static_cast<double>(x), lo), hi));
  }
  __device__ float Grad(float x, float) const {
    const double v = x;
    return v >= lo && v <= hi ? 1.0f : 0.0f;
  }
};

struct HardSigmoidOp {
  float alpha, beta;
  __device__ float Forward(float x) const {
    return fmaxf(0.0f, fminf(1.0f, alpha * x + beta));
  }
  __device__ float Grad(float x, float) const {
    const float z = alpha * x + beta;
    return z > 0.0f && z < 1.0f ? alpha : 0.0f;
  }
};

struct HardSwishOp {
  __device__ float Forward(float x) const {
    return x * fmaxf(0.0f, fminf(1.0f, x / 6.0f + 0.5f));
  }
  __device__ float Grad(float x, float) const {
    if (x < -3.0f) return 0.0f;
    if (x > 3.0f) return 1.0f;
    return x / 3.0f + 0.5f;
  }
};

template <typename Op>
struct UnaryForwardFn {
  Op op;
  const float* x;
  float* y;
  __device__ void operator()(int64_t i) const { y[i] = op.Forward(x[i]); }
};

template <typename Op>
struct UnaryBackwardFn {
  Op op;
  const float* x;
  const float* y;
  const float* dy;
  float* dx;
  __device__ void operator()(int64_t i) const {
    dx[i] = dy[i] * op.Grad(x[i], y[i]);
  }
};

// Calls fn(op) with the functor of `kind`.
template <typename Fn>
cudaError_t WithUnaryOp(UnaryKind kind, const UnaryParams& p, Fn fn) {
  switch (kind) {
    case UnaryKind::kRelu:
      return fn(ReluOp{});
    case UnaryKind::kLeakyRelu:
      return fn(LeakyReluOp{p.alpha});
    case UnaryKind::kSigmoid:
      return fn(SigmoidOp{});
    case UnaryKind::kTanh:
      return fn(TanhOp{});
    case UnaryKind::kClip:
      return fn(ClipOp{p.lo, p.hi});
    case UnaryKind::kHardSigmoid:
      return fn(HardSigmoidOp{p.alpha, p.beta});
    case UnaryKind::kHardSwish:
      return fn(HardSwishOp{});
  }
  return cudaErrorInvalidValue;
}

struct AddOp {
  __device__ float Forward(float a, float b) const { return a + b; }
  __device__ float GradA(float, float) const { return 1.0f; }
  __device__ float GradB(float, float) const { return 1.0f; }
};
struct SubOp {
  __device__ float Forward(float a, float b) const { return a - b; }
  __device__ float GradA(float, float) const { return 1.0f; }
  __device__ float GradB(float, float) const { return -1.0f; }
};
struct MulOp {
  __device__ float Forward(float a, float b) const { return a * b; }
  __device__ float GradA(float, float b) const { return b; }
  __device__ float GradB(float a, float) const { return a; }
};
struct DivOp {
  __device__ float Forward(float a, float b) const { return a / b; }
  __device__ float GradA(float, float b) const { return 1.0f / b; }
  __device__ float GradB(float a, float b) const { return -a / (b * b); }
};

template <typename Op>
struct BinaryForwardFn {
  Op op;
  BroadcastIndexer ix;
  const float* a;
  const float* b;
  float* c;
  __device__ void operator()(int64_t i) const {
    c[i] = op.Forward(a[ix.Index(0, i)], b[ix.Index(1, i)]);
  }
};

template <typename Op>
struct BinaryGradFn {
  Op op;
  BroadcastIndexer ix;
  int operand;
  const float* a;
  const float* b;
  const float* dc;
  float* full;
  __device__ void operator()(int64_t i) const {
    const float va = a[ix.Index(0, i)];
    const float vb = b[ix.Index(1, i)];
    full[i] = dc[i] * (operand == 0 ? op.GradA(va, vb) : op.GradB(va, vb));
  }
};

template <typename Fn>
cudaError_t WithBinaryOp(BinaryKind kind, Fn fn) {
  switch (kind) {
    case BinaryKind::kAdd:
      return fn(AddOp{});
    case BinaryKind::kSub:
      return fn(SubOp{});
    case BinaryKind::kMul:
      return fn(MulOp{});
    case BinaryKind::kDiv:
      return fn(DivOp{});
  }
  return cudaErrorInvalidValue;
}

int64_t Product(const int64_t* shape, int rank) {
  int64_t n = 1;
  for (int d = 0; d < rank; ++d) n *= shape[d];
  return n;
}

struct BroadcastToFn {
  BroadcastIndexer ix;
  const float* in;
  float* out;
  float scale;
  __device__ void operator()(int64_t i) const {
    out[i] = scale * in[ix.Index(0, i)];
  }
};

struct SumFn {
  const float* a;
  const float* b;
  float* c;
  __device__ void operator()(int64_t i) const { c[i] = a[i] + b[i]; }
};

struct FillFn {
  float* y;
  float value;
  __device__ void operator()(int64_t i) const { y[i] = value; }
};

struct ChannelAffineFn {
  const float* x;
  const float* a;
  const float* b;
  int64_t channels;
  int64_t inner;
  float* y;
  __device__ void operator()(int64_t i) const {
    const int64_t c = (i / inner) % channels;
    float v = x[i];
    if (a != nullptr) v = v * a[c];
    if (b != nullptr) v = v + b[c];
    y[i] = v;
  }
};

struct ScatterWordsFn {
  uint32_t* dst;
  const int64_t* idx;
  const uint32_t* values;
  __device__ void operator()(int64_t i) const { dst[idx[i]] = values[i]; }
};

}  // namespace

cudaError_t UnaryForward(UnaryKind kind, const UnaryParams& params,
                         const float* x, float* y, int64_t n,
                         cudaStream_t stream) {
  return WithUnaryOp(kind, params, [&](auto op) {
    using Op = decltype(op);
    return LaunchElementwise(UnaryForwardFn<Op>{op, x, y}, n, stream);
  });
}

cudaError_t UnaryBackward(UnaryKind kind, const UnaryParams& params,
                          const float* x, const float* y, const float* dy,
                          float* dx, int64_t n, cudaStream_t stream) {
  return WithUnaryOp(kind, params, [&](auto op) {
    using Op = decltype(op);
    return LaunchElementwise(UnaryBackwardFn<Op>{op, x, y, dy, dx}, n, stream);
  });
}

cudaError_t BinaryForward(BinaryKind kind, const float* a,
                          const int64_t* a_shape, int a_rank, const float* b,
                          const int64_t* b_shape, int b_rank, float* c,
                          const int64_t* c_shape, int c_rank,
                          cudaStream_t stream) {
  if (a_rank > kMaxRank || b_rank > kMaxRank || c_rank > kMaxRank)
    return cudaErrorInvalidValue;
  const int64_t* shapes[2] = {a_shape, b_shape};
  const int ranks[2] = {a_rank, b_rank};
  const BroadcastIndexer ix = MakeIndexer(shapes, ranks, 2, c_shape, c_rank);
  const int64_t n = Product(c_shape, c_rank);
  return WithBinaryOp(kind, [&](auto op) {
    using Op = decltype(op);
    return LaunchElementwise(BinaryForwardFn<Op>{op, ix, a, b, c}, n, stream);
  });
}

cudaError_t BinaryGradFull(BinaryKind kind, int operand, const float* a,
                           const int64_t* a_shape, int a_rank, const float* b,
                           const int64_t* b_shape, int b_rank, const float* dc,
                           float* full, const int64_t* c_shape, int c_rank,
                           cudaStream_t stream) {
  if (a_rank > kMaxRank || b_rank > kMaxRank || c_rank > kMaxRank)
    return cudaErrorInvalidValue;
  const int64_t* shapes[2] = {a_shape, b_shape};
  const int ranks[2] = {a_rank, b_rank};
  const BroadcastIndexer ix = MakeIndexer(shapes, ranks, 2, c_shape, c_rank);
  const int64_t n = Product(c_shape, c_rank);
  return WithBinaryOp(kind, [&](auto op) {
    using Op = decltype(op);
    return LaunchElementwise(BinaryGradFn<Op>{op, ix, operand, a, b, dc, full},
                             n, stream);
  });
}

cudaError_t BroadcastTo(const float* in, const int64_t* in_shape, int in_rank,
                        float* out, const int64_t* out_shape, int out_rank,
                        float scale, cudaStream_t stream) {
  if (in_rank > kMaxRank || out_rank > kMaxRank) return cudaErrorInvalidValue;
  const int64_t* shapes[1] = {in_shape};
  const int ranks[1] = {in_rank};
  const BroadcastIndexer ix =
      MakeIndexer(shapes, ranks, 1, out_shape, out_rank);
  return LaunchElementwise(BroadcastToFn{ix, in, out, scale},
                           Product(out_shape, out_rank), stream);
}

cudaError_t Sum(const float* a, const float* b, float* c, int64_t n,
                cudaStream_t stream) {
  return LaunchElementwise(SumFn{a, b, c}, n, stream);
}

cudaError_t Fill(float* y, float value, int64_t n, cudaStream_t stream) {
  return LaunchElementwise(FillFn{y, value}, n, stream);
}

cudaError_t ChannelAffine(const float* x, const float* a, const float* b,
                          int64_t channels, int64_t inner, float* y, int64_t n,
                          cudaStream_t stream) {
  if (channels <= 0 || inner <= 0) return cudaSuccess;
  return LaunchElementwise(ChannelAffineFn{x, a, b, channels, inner, y}, n,
                           stream);
}

cudaError_t ScatterWords(uint32_t* dst, const int64_t* idx,
                         const uint32_t* values, int64_t n,
                         cudaStream_t stream) {
  return LaunchElementwise(ScatterWordsFn{dst, idx, values}, n, stream);
}

}  // namespace onnx_crypt::cuda
