#include "onnx_crypt/engine/evaluate.h"

#include <chrono>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/engine/loss.h"
#include "onnx_crypt/engine/samples.h"

namespace onnx_crypt {

Tensor SliceRows(const Tensor& x, int64_t begin, int64_t end) {
  Shape shape = x.shape();
  const int64_t row =
      shape.empty() || shape[0] == 0 ? 0 : x.nbytes() / shape[0];
  shape[0] = end - begin;
  Tensor out(x.dtype(), shape);
  std::memcpy(out.mutable_raw(), x.raw() + begin * row, (end - begin) * row);
  return out;
}

absl::StatusOr<EvalStats> EvaluateDataset(
    Engine& engine, const Feeds& samples, const std::vector<int64_t>& labels,
    int64_t batch_size, const std::function<void(int64_t, int64_t)>& progress,
    bool keep_outputs, bool warm_up) {
  if (batch_size <= 0)
    return absl::InvalidArgumentError("batch size must be positive");
  const int64_t n = SampleCount(samples);
  if (n == 0) return absl::InvalidArgumentError("the data holds no samples");
  if (!labels.empty() && static_cast<int64_t>(labels.size()) != n) {
    return absl::InvalidArgumentError(absl::StrCat(
        "data has ", n, " samples but ", labels.size(), " labels"));
  }
  if (warm_up) {
    // Untimed: the first run of each shape creates the kernels' primitives
    // (oneDNN's JIT code), which the timed passes then reuse.
    OC_RETURN_IF_ERROR(
        engine.Run(SliceSamples(samples, 0, std::min(n, batch_size))).status());
  }
  EvalStats stats;
  stats.samples = n;
  stats.predictions.reserve(n);
  for (int64_t begin = 0; begin < n; begin += batch_size) {
    const int64_t end = std::min(n, begin + batch_size);
    const Feeds feeds = SliceSamples(samples, begin, end);
    const auto t0 = std::chrono::steady_clock::now();
    OC_ASSIGN_OR_RETURN(std::vector<Tensor> outs, engine.Run(feeds));
    stats.seconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
            .count();
    if (outs.empty() || outs[0].rank() != 2 || outs[0].dim(0) != end - begin) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the first model output must be [batch, classes], got ",
          outs.empty() ? std::string("nothing") : outs[0].DebugString()));
    }
    // The first batch tells the number of classes: a label outside them
    // would never match a prediction and silently count as an error.
    if (begin == 0) OC_RETURN_IF_ERROR(CheckLabels(labels, outs[0].dim(1)));
    for (int64_t p : ArgmaxRows(outs[0])) stats.predictions.push_back(p);
    if (keep_outputs) {
      if (!stats.outputs.defined()) {
        stats.outputs = Tensor(outs[0].dtype(), {n, outs[0].dim(1)});
      }
      const size_t row = outs[0].nbytes() / (end - begin);
      std::memcpy(stats.outputs.mutable_raw() + begin * row, outs[0].raw(),
                  outs[0].nbytes());
    }
    if (progress) progress(end, n);
  }
  if (!labels.empty()) {
    for (int64_t i = 0; i < n; ++i)
      stats.correct += stats.predictions[i] == labels[i];
  }
  return stats;
}

}  // namespace onnx_crypt
