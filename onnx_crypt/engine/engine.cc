#include "onnx_crypt/engine/engine.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/lock/position_hash.h"

namespace onnx_crypt {

absl::StatusOr<RankResult> Engine::LossAndRank(
    const Feeds& feeds, absl::Span<const int64_t> labels,
    const std::vector<std::string>& params, const RankRequest& request) {
  if (request.lo.size() != params.size() ||
      request.hi.size() != params.size() ||
      request.excluded.size() != params.size()) {
    return absl::InvalidArgumentError(
        "RankRequest needs lo, hi and excluded per parameter");
  }
  OC_ASSIGN_OR_RETURN(LossResult lr, LossAndGradients(feeds, labels, params));
  RankResult result;
  result.loss = lr.loss;
  // "better": higher score, then earlier parameter, then smaller index.
  auto better = [](const RankedValue& a, const RankedValue& b) {
    if (a.score != b.score) return a.score > b.score;
    if (a.param != b.param) return a.param < b.param;
    return a.index < b.index;
  };
  // Min-heaps of the k best overall and of the k_per_param best of each
  // parameter.
  auto push = [&better](std::vector<RankedValue>& heap, size_t cap,
                        const RankedValue& c) {
    if (cap == 0) return;
    if (heap.size() < cap) {
      heap.push_back(c);
      std::push_heap(heap.begin(), heap.end(), better);
    } else if (better(c, heap.front())) {
      std::pop_heap(heap.begin(), heap.end(), better);
      heap.back() = c;
      std::push_heap(heap.begin(), heap.end(), better);
    }
  };
  const size_t k = static_cast<size_t>(std::max<int64_t>(0, request.k));
  const size_t k_param =
      static_cast<size_t>(std::max<int64_t>(0, request.k_per_param));
  std::vector<RankedValue> global;
  for (size_t p = 0; p < params.size(); ++p) {
    OC_ASSIGN_OR_RETURN(Tensor w, GetInitializer(params[p]));
    const Tensor& g = lr.grads.at(params[p]);
    if (w.dtype() != DType::kFloat32 || g.dtype() != DType::kFloat32) {
      return absl::InvalidArgumentError(
          absl::StrCat("ranking needs float32 parameters; '", params[p],
                       "' is ", w.DebugString()));
    }
    const float* wv = w.data<float>();
    const float* gv = g.data<float>();
    const std::vector<int64_t>& excluded = request.excluded[p];
    size_t next_excluded = 0;
    std::vector<RankedValue> local;
    for (int64_t i = 0; i < w.numel(); ++i) {
      while (next_excluded < excluded.size() && excluded[next_excluded] < i)
        ++next_excluded;
      if (next_excluded < excluded.size() && excluded[next_excluded] == i)
        continue;
      const float gi = gv[i];
      if (gi == 0.0f) continue;
      if (request.diversify && PositionExcluded(request.diversify_seed, p, i))
        continue;
      // float arithmetic, as the CUDA kernel computes it, so both rank
      // identically.
      const float room =
          gi > 0.0f ? request.hi[p] - wv[i] : wv[i] - request.lo[p];
      const float score = std::fabs(gi) * room;
      if (!(score > 0.0f) || std::isinf(score)) continue;
      const RankedValue c{static_cast<int>(p), i, score, wv[i], gi};
      push(global, k, c);
      push(local, k_param, c);
    }
    for (const RankedValue& c : local) result.top.push_back(c);
  }
  for (const RankedValue& c : global) {
    bool seen = false;
    for (const RankedValue& t : result.top)
      seen |= t.param == c.param && t.index == c.index;
    if (!seen) result.top.push_back(c);
  }
  std::vector<RankedValue>& heap = result.top;
  std::sort(heap.begin(), heap.end(), better);
  return result;
}

}  // namespace onnx_crypt
