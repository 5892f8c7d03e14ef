#include "onnx_crypt/engine/loss.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "onnx_crypt/base/status.h"

namespace onnx_crypt {

namespace {

template <typename T>
LossAndGrad CrossEntropyImpl(const Tensor& output,
                             absl::Span<const int64_t> labels,
                             OutputKind kind) {
  const int64_t n = output.dim(0), c = output.dim(1);
  const T* out = output.data<T>();
  LossAndGrad result;
  result.grad = Tensor(output.dtype(), output.shape());
  T* g = result.grad.mutable_data<T>();
  const double inv_n = 1.0 / static_cast<double>(n);
  double total = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const T* row = out + i * c;
    T* grow = g + i * c;
    const int64_t y = labels[i];
    switch (kind) {
      case OutputKind::kLogits: {
        double mx = row[0];
        for (int64_t k = 1; k < c; ++k)
          mx = std::max(mx, static_cast<double>(row[k]));
        double sum = 0.0;
        for (int64_t k = 0; k < c; ++k) sum += std::exp(row[k] - mx);
        total += std::log(sum) + mx - row[y];
        for (int64_t k = 0; k < c; ++k) {
          const double p = std::exp(row[k] - mx) / sum;
          grow[k] = static_cast<T>((p - (k == y ? 1.0 : 0.0)) * inv_n);
        }
        break;
      }
      case OutputKind::kProbabilities: {
        const double p = row[y];
        if (p > kProbFloor) {
          total -= std::log(p);
          grow[y] = static_cast<T>(-inv_n / p);
        } else {
          total -= std::log(kProbFloor);
        }
        break;
      }
      case OutputKind::kLogProbabilities:
        total -= row[y];
        grow[y] = static_cast<T>(-inv_n);
        break;
    }
  }
  result.loss = total * inv_n;
  return result;
}

}  // namespace

absl::Status CheckLabels(absl::Span<const int64_t> labels, int64_t classes) {
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0 || labels[i] >= classes) {
      return absl::InvalidArgumentError(
          absl::StrCat("label ", labels[i], " of sample ", i,
                       " is outside [0, ", classes, ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<LossAndGrad> CrossEntropy(const Tensor& output,
                                         absl::Span<const int64_t> labels,
                                         OutputKind kind) {
  if (output.rank() != 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the loss needs a [N, C] first output, got ", output.DebugString()));
  }
  if (output.dim(0) != static_cast<int64_t>(labels.size())) {
    return absl::InvalidArgumentError(absl::StrCat("output has ", output.dim(0),
                                                   " rows but there are ",
                                                   labels.size(), " labels"));
  }
  OC_RETURN_IF_ERROR(CheckLabels(labels, output.dim(1)));
  if (output.dtype() == DType::kFloat32)
    return CrossEntropyImpl<float>(output, labels, kind);
  if (output.dtype() == DType::kFloat64)
    return CrossEntropyImpl<double>(output, labels, kind);
  return absl::InvalidArgumentError(absl::StrCat(
      "the loss needs a float output, got ", output.DebugString()));
}

std::vector<int64_t> ArgmaxRows(const Tensor& output) {
  const int64_t n = output.rank() > 0 ? output.dim(0) : 0;
  const int64_t c = n > 0 ? output.numel() / n : 0;
  const std::vector<double> v = output.ToDoubleVector();
  std::vector<int64_t> out(n, 0);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t k = 1; k < c; ++k) {
      if (v[i * c + k] > v[i * c + out[i]]) out[i] = k;
    }
  }
  return out;
}

}  // namespace onnx_crypt
