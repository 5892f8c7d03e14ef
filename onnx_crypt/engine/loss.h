// Mean cross-entropy of a classifier output and its gradient with respect to
// that output. For N samples, C classes and labels y_n:
//
//   kLogits (z):
//     L = 1/N sum_n [log sum_c exp(z_nc) - z_n,y_n]
//     dL/dz = (softmax(z) - onehot(y)) / N
//   kProbabilities (p, the output of a Softmax):
//     L = -1/N sum_n log(max(p_n,y_n, kProbFloor))
//     dL/dp_n,y = -1 / (N p_n,y) where p_n,y > kProbFloor, and 0 where the
//     floor is active (the clamped loss is flat there)
//   kLogProbabilities (l, the output of a LogSoftmax):
//     L = -1/N sum_n l_n,y_n
//     dL/dl_n,y = -1/N
//
// Sums run in float64 whatever the output dtype; the gradient has the output's
// dtype and shape.
#ifndef ONNX_CRYPT_ENGINE_LOSS_H_
#define ONNX_CRYPT_ENGINE_LOSS_H_

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "onnx_crypt/engine/engine.h"

namespace onnx_crypt {

inline constexpr double kProbFloor = 1e-12;

struct LossAndGrad {
  double loss = 0.0;
  Tensor grad;  // dL/d output
};

// InvalidArgument naming the first label outside [0, classes) and its sample.
absl::Status CheckLabels(absl::Span<const int64_t> labels, int64_t classes);

// `output` is [N, C] float32/float64; labels has N entries in [0, C).
absl::StatusOr<LossAndGrad> CrossEntropy(const Tensor& output,
                                         absl::Span<const int64_t> labels,
                                         OutputKind kind);

// Index of the largest entry of each row of an [N, C] output (first on ties).
std::vector<int64_t> ArgmaxRows(const Tensor& output);

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_ENGINE_LOSS_H_
