// The normalization core shared by LayerNormalization, InstanceNormalization
// and GroupNormalization (CPU reference).
//
// The input is viewed as `groups` contiguous groups of n elements each. Per
// group g, with statistics in double:
//   mean_g = (1/n) sum_i x_i,  var_g = (1/n) sum_i (x_i - mean_g)^2,
//   inv_g = 1 / sqrt(var_g + epsilon),  xh_i = (x_i - mean_g) * inv_g
//   y_i = xh_i * scale[a(g, i)] + bias[b(g, i)]
// where a and b map an element to its affine parameter (AffineMap). Backward,
// with dy and optional gradients dmean_g, dinv_g of the statistics outputs:
//   dxh_i = dy_i * scale[a(g, i)]
//   dx_i = inv_g (dxh_i - mean_j dxh_j - xh_i mean_j (dxh_j xh_j))
//          + dmean_g / n - dinv_g inv_g^2 xh_i / n
//   dscale[a] += dy_i xh_i,  dbias[b] += dy_i
// Header-only templates; callers check shapes first.
#ifndef ONNX_CRYPT_OPS_CPU_NORM_UTIL_H_
#define ONNX_CRYPT_OPS_CPU_NORM_UTIL_H_

#include <cmath>
#include <cstdint>
#include <vector>

namespace onnx_crypt::cpu {

// Which affine parameter element i of group g uses.
struct AffineMap {
  enum class Mode {
    kPerPosition,  // pos[i]: the same for every group (LayerNormalization)
    kPerGroup,     // g % per_sample: one per group (GroupNormalization-18)
    kPerChannel,   // (g % per_sample) * channels_per_group + i / spatial
  };
  Mode mode = Mode::kPerPosition;
  std::vector<int64_t> pos;
  int64_t per_sample = 1;  // groups per sample (N x per_sample = groups)
  int64_t channels_per_group = 1;
  int64_t spatial = 1;

  int64_t Index(int64_t g, int64_t i) const {
    switch (mode) {
      case Mode::kPerPosition:
        return pos[i];
      case Mode::kPerGroup:
        return g % per_sample;
      case Mode::kPerChannel:
        return (g % per_sample) * channels_per_group + i / spatial;
    }
    return 0;
  }
};

struct NormPlan {
  int64_t groups = 0;
  int64_t n = 0;  // elements per group
  double epsilon = 1e-5;
  AffineMap scale_map, bias_map;
};

// bias may be null (no bias). mean and inv (groups entries) receive the
// statistics.
template <typename T>
void NormForward(const NormPlan& p, const T* x, const T* scale, const T* bias,
                 T* y, std::vector<double>* mean, std::vector<double>* inv) {
  mean->assign(static_cast<size_t>(p.groups), 0.0);
  inv->assign(static_cast<size_t>(p.groups), 0.0);
  for (int64_t g = 0; g < p.groups; ++g) {
    const T* xg = x + g * p.n;
    T* yg = y + g * p.n;
    double sum = 0.0;
    for (int64_t i = 0; i < p.n; ++i) sum += static_cast<double>(xg[i]);
    const double m = p.n > 0 ? sum / static_cast<double>(p.n) : 0.0;
    double sq = 0.0;
    for (int64_t i = 0; i < p.n; ++i) {
      const double d = static_cast<double>(xg[i]) - m;
      sq += d * d;
    }
    const double var = p.n > 0 ? sq / static_cast<double>(p.n) : 0.0;
    const double is = 1.0 / std::sqrt(var + p.epsilon);
    (*mean)[g] = m;
    (*inv)[g] = is;
    for (int64_t i = 0; i < p.n; ++i) {
      double v = (static_cast<double>(xg[i]) - m) * is *
                 static_cast<double>(scale[p.scale_map.Index(g, i)]);
      if (bias != nullptr)
        v += static_cast<double>(bias[p.bias_map.Index(g, i)]);
      yg[i] = static_cast<T>(v);
    }
  }
}

// dy, dmean, dinv may be null (no gradient); dx, dscale, dbias may be null
// (not needed). dscale and dbias are accumulated (sized by the caller).
template <typename T>
void NormBackward(const NormPlan& p, const T* x, const T* scale, const T* dy,
                  const T* dmean, const T* dinv, T* dx,
                  std::vector<double>* dscale, std::vector<double>* dbias) {
  std::vector<double> xh(static_cast<size_t>(p.n));
  std::vector<double> dxh(static_cast<size_t>(p.n));
  for (int64_t g = 0; g < p.groups; ++g) {
    const T* xg = x + g * p.n;
    double sum = 0.0;
    for (int64_t i = 0; i < p.n; ++i) sum += static_cast<double>(xg[i]);
    const double m = p.n > 0 ? sum / static_cast<double>(p.n) : 0.0;
    double sq = 0.0;
    for (int64_t i = 0; i < p.n; ++i) {
      const double d = static_cast<double>(xg[i]) - m;
      sq += d * d;
    }
    const double var = p.n > 0 ? sq / static_cast<double>(p.n) : 0.0;
    const double is = 1.0 / std::sqrt(var + p.epsilon);
    double mean_dxh = 0.0, mean_dxh_xh = 0.0;
    for (int64_t i = 0; i < p.n; ++i) {
      xh[i] = (static_cast<double>(xg[i]) - m) * is;
      const double gy =
          dy != nullptr ? static_cast<double>(dy[g * p.n + i]) : 0;
      dxh[i] = gy * static_cast<double>(scale[p.scale_map.Index(g, i)]);
      mean_dxh += dxh[i];
      mean_dxh_xh += dxh[i] * xh[i];
      if (dscale != nullptr) (*dscale)[p.scale_map.Index(g, i)] += gy * xh[i];
      if (dbias != nullptr) (*dbias)[p.bias_map.Index(g, i)] += gy;
    }
    if (dx == nullptr || p.n == 0) continue;
    const double inv_n = 1.0 / static_cast<double>(p.n);
    mean_dxh *= inv_n;
    mean_dxh_xh *= inv_n;
    const double gm = dmean != nullptr ? static_cast<double>(dmean[g]) : 0.0;
    const double gi = dinv != nullptr ? static_cast<double>(dinv[g]) : 0.0;
    for (int64_t i = 0; i < p.n; ++i) {
      const double d = is * (dxh[i] - mean_dxh - xh[i] * mean_dxh_xh) +
                       gm * inv_n - gi * is * is * xh[i] * inv_n;
      dx[g * p.n + i] = static_cast<T>(d);
    }
  }
}

}  // namespace onnx_crypt::cpu

#endif  // ONNX_CRYPT_OPS_CPU_NORM_UTIL_H_
