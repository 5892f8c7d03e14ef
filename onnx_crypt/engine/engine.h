// Engine: executes a Graph forward, and forward+backward with a cross-entropy
// loss.
//
// An engine owns its copy of the graph's initializers (uploaded once for device
// engines); SetInitializerValues edits them in place between calls. Not
// thread-safe: one caller at a time.
#ifndef ONNX_CRYPT_ENGINE_ENGINE_H_
#define ONNX_CRYPT_ENGINE_ENGINE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "onnx_crypt/ir/graph.h"
#include "onnx_crypt/ir/tensor.h"

namespace onnx_crypt {

using Feeds = std::map<std::string, Tensor>;

// What the graph's first output holds, which decides how the loss reads it.
enum class OutputKind {
  kLogits,            // unnormalized scores: loss = logsumexp(z) - z_y
  kProbabilities,     // ends in Softmax: loss = -log(max(p_y, kProbFloor))
  kLogProbabilities,  // ends in LogSoftmax: loss = -logp_y
};

struct LossResult {
  double loss = 0.0;                    // mean cross-entropy over the batch
  Tensor output;                        // the graph's first output (N x C)
  std::map<std::string, Tensor> grads;  // dL/dθ for each requested initializer
};

// What LossAndRank scores (the lock's first-order "range gain",
// lock/locker.cc):
//   score = |g| * (g > 0 ? hi[p] - w : w - lo[p])
// for every value w (gradient g) of every requested parameter p, 0 for excluded
// positions.
struct RankRequest {
  std::vector<float> lo, hi;  // per parameter: the ends of its original range
  // Per parameter: flat indices never ranked (already locked), ascending.
  std::vector<std::vector<int64_t>> excluded;
  // Also leave out every position for which PositionExcluded(seed, p, i) holds
  // (lock/position_hash.h): per-customer variants.
  bool diversify = false;
  uint64_t diversify_seed = 0;
  int64_t k = 16;  // how many to return
  // Also the best `k_per_param` of each parameter (so a small tensor, such as a
  // first convolution, is always represented); the union is returned, without
  // duplicates.
  int64_t k_per_param = 0;
};
struct RankedValue {
  int param = 0;  // index into the requested parameters
  int64_t index = 0;
  float score = 0;
  float weight = 0;  // current value
  float grad = 0;
};
struct RankResult {
  double loss = 0;
  std::vector<RankedValue>
      top;  // best first; ties: parameter order, then index
};

class Engine {
 public:
  virtual ~Engine() = default;

  virtual const Graph& graph() const = 0;

  // Runs the graph; returns its outputs in graph order.
  virtual absl::StatusOr<std::vector<Tensor>> Run(const Feeds& feeds) = 0;

  // Runs the graph, takes the mean cross-entropy of the first output (N x C)
  // against `labels` (N class indices), and returns dL/dθ for each initializer
  // named in `params` (float32/64).
  virtual absl::StatusOr<LossResult> LossAndGradients(
      const Feeds& feeds, absl::Span<const int64_t> labels,
      const std::vector<std::string>& params) = 0;

  // LossAndGradients for float32 `params`, then the k best values by the
  // range-gain score (RankRequest). Only positive finite scores are returned,
  // so `top` may be shorter than k. The default ranks on the host; device
  // engines rank where the gradients are and copy back only the k results.
  virtual absl::StatusOr<RankResult> LossAndRank(
      const Feeds& feeds, absl::Span<const int64_t> labels,
      const std::vector<std::string>& params, const RankRequest& request);

  // Overwrites elements of initializer `name`: element indices[i] becomes
  // values[i] (`values` has the initializer's dtype and indices.size()
  // elements). Bits are copied exactly.
  virtual absl::Status SetInitializerValues(const std::string& name,
                                            absl::Span<const int64_t> indices,
                                            const Tensor& values) = 0;

  // Current value of an initializer (host copy).
  virtual absl::StatusOr<Tensor> GetInitializer(
      const std::string& name) const = 0;
};

// How the first graph output is produced (Softmax / LogSoftmax / anything
// else).
OutputKind DetectOutputKind(const Graph& graph);

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_ENGINE_ENGINE_H_
