// Host ranking: one pass over every value of every parameter, offering each
// scored value to the global selector and to its parameter's own selector.
// On CUDA builds, engines that keep gradients on the device rank there
// (lock/cuda/ranking_cuda.h).
#include "onnx_crypt/lock/ranking.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "cuda/position_hash.h"
#include "onnx_crypt/base/status.h"

#if defined(ONNX_CRYPT_HAVE_CUDA)
#include "onnx_crypt/engine/cuda/cuda_engine.h"
#include "onnx_crypt/lock/cuda/ranking_cuda.h"
#endif

namespace onnx_crypt {

bool RankedBetter(const RankedValue& a, const RankedValue& b) {
  if (a.score != b.score) return a.score > b.score;
  if (a.param != b.param) return a.param < b.param;
  return a.index < b.index;
}

namespace {

absl::Status CheckRequest(const std::vector<std::string>& params,
                          const RankRequest& request) {
  if (request.lo.size() != params.size() ||
      request.hi.size() != params.size() ||
      request.excluded.size() != params.size()) {
    return absl::InvalidArgumentError(
        "RankRequest needs lo, hi and excluded per parameter");
  }
  return absl::OkStatus();
}

}  // namespace

namespace {

// The host ranking, one parameter at a time (in any order): each parameter's
// values go to the global selector and to the parameter's own.
class HostRanker {
 public:
  explicit HostRanker(const RankRequest& request)
      : request_(request),
        global_(static_cast<size_t>(std::max<int64_t>(0, request.k)),
                &RankedBetter) {}

  absl::Status Add(size_t p, const std::string& name, const Tensor& w,
                   const Tensor& g) {
    if (w.dtype() != DType::kFloat32 || g.dtype() != DType::kFloat32) {
      return absl::InvalidArgumentError(
          absl::StrCat("ranking needs float32 parameters; '", name, "' is ",
                       w.DebugString()));
    }
    const size_t k_param =
        static_cast<size_t>(std::max<int64_t>(0, request_.k_per_param));
    const float* wv = w.data<float>();
    const float* gv = g.data<float>();
    const std::vector<int64_t>& excluded = request_.excluded[p];
    size_t next_excluded = 0;
    TopK<RankedValue, decltype(&RankedBetter)> local(k_param, &RankedBetter);
    for (int64_t i = 0; i < w.numel(); ++i) {
      while (next_excluded < excluded.size() && excluded[next_excluded] < i)
        ++next_excluded;
      if (next_excluded < excluded.size() && excluded[next_excluded] == i)
        continue;
      const float gi = gv[i];
      if (gi == 0.0f) continue;
      if (request_.diversify && PositionExcluded(request_.diversify_seed, p, i))
        continue;
      // float arithmetic, as the CUDA kernel computes it.
      const float room =
          gi > 0.0f ? request_.hi[p] - wv[i] : wv[i] - request_.lo[p];
      const float score = std::fabs(gi) * room;
      if (!(score > 0.0f) || std::isinf(score)) continue;
      const RankedValue c{static_cast<int>(p), i, score, wv[i], gi};
      global_.Offer(c);
      local.Offer(c);
    }
    for (const RankedValue& c : local.TakeSorted()) top_.push_back(c);
    return absl::OkStatus();
  }

  // The union of every parameter's best and the global best, best first.
  std::vector<RankedValue> Finish() {
    std::vector<RankedValue> top = std::move(top_);
    for (const RankedValue& c : global_.TakeSorted()) {
      bool seen = false;
      for (const RankedValue& t : top)
        seen |= t.param == c.param && t.index == c.index;
      if (!seen) top.push_back(c);
    }
    std::sort(top.begin(), top.end(), RankedBetter);
    return top;
  }

 private:
  const RankRequest& request_;
  TopK<RankedValue, decltype(&RankedBetter)> global_;
  std::vector<RankedValue> top_;
};

}  // namespace

absl::StatusOr<std::vector<RankedValue>> RankOnHost(
    const std::vector<Tensor>& weights, const std::vector<Tensor>& grads,
    const std::vector<std::string>& params, const RankRequest& request) {
  OC_RETURN_IF_ERROR(CheckRequest(params, request));
  HostRanker ranker(request);
  for (size_t p = 0; p < params.size(); ++p) {
    OC_RETURN_IF_ERROR(ranker.Add(p, params[p], weights[p], grads[p]));
  }
  return ranker.Finish();
}

absl::StatusOr<RankResult> RankByRangeGain(
    Engine& engine, const Feeds& feeds, absl::Span<const int64_t> labels,
    const std::vector<std::string>& params, const RankRequest& request) {
  OC_RETURN_IF_ERROR(CheckRequest(params, request));
#if defined(ONNX_CRYPT_HAVE_CUDA)
  if (auto* cuda_engine = dynamic_cast<CudaEngine*>(&engine)) {
    return RankOnCuda(*cuda_engine, feeds, labels, params, request);
  }
#endif
  // The weights are read in place (the engine's host copy is current); the
  // gradients come in groups of at most gradient_budget_bytes.
  std::vector<const Tensor*> weights;
  for (const std::string& p : params) {
    auto it = engine.graph().initializers.find(p);
    if (it == engine.graph().initializers.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", p, "' is not an initializer"));
    }
    weights.push_back(&it->second);
  }
  std::vector<std::pair<size_t, size_t>> groups;  // [begin, end)
  int64_t bytes = 0;
  for (size_t p = 0; p < params.size(); ++p) {
    const int64_t b = static_cast<int64_t>(weights[p]->nbytes());
    if (groups.empty() || bytes + b > request.gradient_budget_bytes) {
      groups.push_back({p, p});
      bytes = 0;
    }
    groups.back().second = p + 1;
    bytes += b;
  }
  HostRanker ranker(request);
  RankResult result;
  for (size_t k = 0; k < groups.size(); ++k) {
    const auto [begin, end] = groups[k];
    const std::vector<std::string> group(params.begin() + begin,
                                         params.begin() + end);
    // The forward values are the same in every pass: keep the last.
    OC_ASSIGN_OR_RETURN(
        LossResult lr,
        engine.LossAndGradients(
            feeds, labels, group,
            k + 1 == groups.size() ? request.keep_slot : Engine::kNoSlot));
    if (k == 0) result.loss = lr.loss;
    for (size_t p = begin; p < end; ++p) {
      auto g = lr.grads.find(params[p]);
      if (g == lr.grads.end()) {
        return absl::InternalError(
            absl::StrCat("no gradient for '", params[p], "'"));
      }
      OC_RETURN_IF_ERROR(ranker.Add(p, params[p], *weights[p], g->second));
      g->second = Tensor();  // free it before the next parameter's
    }
  }
  result.top = ranker.Finish();
  return result;
}

}  // namespace onnx_crypt
