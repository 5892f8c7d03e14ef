// Ranking: which values the lock considers next. Lock policy, above the
// engine: the engine supplies gradients, this module scores them.
//
// The "range gain" of value w (gradient g) of parameter p is the first-order
// loss increase of moving w to the end of its tensor's original range along g:
//   score = |g| * (g > 0 ? hi[p] - w : w - lo[p])
// computed in float32 (the CUDA kernel, cuda/rank.cu, computes it the same
// way, so both rank identically). Positions already locked, positions left
// out for a per-customer variant (PositionExcluded, cuda/position_hash.h), zero
// gradients and non-positive or infinite scores are never returned.
// Ties break by parameter order, then flat index: the ranking is a total
// order, so every backend returns the same list.
#ifndef ONNX_CRYPT_LOCK_RANKING_H_
#define ONNX_CRYPT_LOCK_RANKING_H_

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "onnx_crypt/engine/engine.h"

namespace onnx_crypt {

// The k best of a stream of items under `better`, a strict total order (ties
// already broken), best first. Shared by the lock's ranking, the hardened
// lock's candidate pools and the attacks' saliency ranking, so all of them
// select the same way.
template <typename T, typename Better>
class TopK {
 public:
  TopK(size_t k, Better better) : k_(k), better_(better) {}

  void Offer(const T& item) {
    if (k_ == 0) return;
    if (heap_.size() < k_) {
      heap_.push_back(item);
      std::push_heap(heap_.begin(), heap_.end(), better_);
    } else if (better_(item, heap_.front())) {
      std::pop_heap(heap_.begin(), heap_.end(), better_);
      heap_.back() = item;
      std::push_heap(heap_.begin(), heap_.end(), better_);
    }
  }
  size_t size() const { return heap_.size(); }
  // The kept items, best first; the selector is empty afterwards.
  std::vector<T> TakeSorted() {
    std::vector<T> out = std::move(heap_);
    heap_.clear();
    std::sort(out.begin(), out.end(), better_);
    return out;
  }

 private:
  size_t k_;
  Better better_;
  std::vector<T> heap_;  // a min-heap under better_: the worst kept on top
};

// The k best of `items` under `better`, best first (items is consumed).
template <typename T, typename Better>
std::vector<T> SelectTopK(std::vector<T> items, size_t k, Better better) {
  k = std::min(k, items.size());
  std::partial_sort(items.begin(), items.begin() + static_cast<ptrdiff_t>(k),
                    items.end(), better);
  items.resize(k);
  return items;
}

struct RankRequest {
  std::vector<float> lo, hi;  // per parameter: the ends of its original range
  // Per parameter: flat indices never ranked (already locked), ascending.
  std::vector<std::vector<int64_t>> excluded;
  // Also leave out every position for which PositionExcluded(seed, p, i)
  // holds: per-customer variants.
  bool diversify = false;
  uint64_t diversify_seed = 0;
  int64_t k = 16;  // how many to return
  // Also the best `k_per_param` of each parameter (so that a small tensor,
  // such as a first convolution, is always represented). The union is
  // returned, without duplicates.
  int64_t k_per_param = 0;
  // Keep the gradient pass's forward values in this slot of the engine, for
  // trials (Engine::RunTrials) on the same samples (kNoSlot: don't).
  int keep_slot = Engine::kNoSlot;
  // The most gradient bytes the host ranking holds at once: parameters whose
  // gradients together exceed it are ranked in groups (in parameter order),
  // one gradient pass per group, so that a model of several GB does not need
  // a second model's worth of memory for its gradients (issue #12). Every
  // group's gradients are the same numbers one pass would give, and the
  // ranking is a total order, so the result does not depend on the grouping.
  int64_t gradient_budget_bytes = int64_t{512} << 20;
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
  std::vector<RankedValue> top;  // best first (RankedBetter)
};

// Higher score first, then earlier parameter, then smaller index.
bool RankedBetter(const RankedValue& a, const RankedValue& b);

// The loss and gradients of float32 `params` on (feeds, labels), then the
// values RankRequest asks for, best first. Only positive finite scores are
// returned, so `top` may be shorter than k. On a CUDA engine the gradients
// stay on the device, are scored and selected there, and only the results
// come back to the host.
absl::StatusOr<RankResult> RankByRangeGain(
    Engine& engine, const Feeds& feeds, absl::Span<const int64_t> labels,
    const std::vector<std::string>& params, const RankRequest& request);

// The host ranking of given weights and gradients (one Tensor each per
// parameter, float32): what RankByRangeGain does after the gradients.
absl::StatusOr<std::vector<RankedValue>> RankOnHost(
    const std::vector<Tensor>& weights, const std::vector<Tensor>& grads,
    const std::vector<std::string>& params, const RankRequest& request);

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_LOCK_RANKING_H_
