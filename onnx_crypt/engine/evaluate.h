// Batched inference over a dataset: predictions, accuracy and throughput.
#ifndef ONNX_CRYPT_ENGINE_EVALUATE_H_
#define ONNX_CRYPT_ENGINE_EVALUATE_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "onnx_crypt/engine/engine.h"

namespace onnx_crypt {

struct EvalStats {
  int64_t samples = 0;
  int64_t correct = 0;               // only meaningful with labels
  double seconds = 0.0;              // wall time of the forward passes
  std::vector<int64_t> predictions;  // argmax of the first output per sample
  Tensor outputs;  // the first output for all samples, when requested
  double accuracy() const {
    return samples ? static_cast<double>(correct) / samples : 0.0;
  }
};

// Rows [begin, end) of a batch-first tensor.
Tensor SliceRows(const Tensor& x, int64_t begin, int64_t end);

// Runs `engine` over `samples` (engine/samples.h: one array per data input)
// in batches of `batch_size`; counts argmax hits against `labels` when
// non-empty. InvalidArgument when there are no samples or a label lies
// outside the output's classes [0, C). `progress(done, total)` is called
// after each batch. With `warm_up`, the first batch runs once more before the
// timed passes and is not counted (as ONNX Runtime is timed after a warm-up
// run in tools/bench/bench_forward.py): `seconds` then holds the forward
// passes alone, without the one-time creation of kernel primitives.
absl::StatusOr<EvalStats> EvaluateDataset(
    Engine& engine, const Feeds& samples, const std::vector<int64_t>& labels,
    int64_t batch_size,
    const std::function<void(int64_t, int64_t)>& progress = nullptr,
    bool keep_outputs = false, bool warm_up = false);

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_ENGINE_EVALUATE_H_
