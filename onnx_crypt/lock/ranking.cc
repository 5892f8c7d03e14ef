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

absl::StatusOr<std::vector<RankedValue>> RankOnHost(
    const std::vector<Tensor>& weights, const std::vector<Tensor>& grads,
    const std::vector<std::string>& params, const RankRequest& request) {
  OC_RETURN_IF_ERROR(CheckRequest(params, request));
  const size_t k = static_cast<size_t>(std::max<int64_t>(0, request.k));
  const size_t k_param =
      static_cast<size_t>(std::max<int64_t>(0, request.k_per_param));
  TopK<RankedValue, decltype(&RankedBetter)> global(k, &RankedBetter);
  std::vector<RankedValue> top;
  for (size_t p = 0; p < params.size(); ++p) {
    const Tensor& w = weights[p];
    const Tensor& g = grads[p];
    if (w.dtype() != DType::kFloat32 || g.dtype() != DType::kFloat32) {
      return absl::InvalidArgumentError(
          absl::StrCat("ranking needs float32 parameters; '", params[p],
                       "' is ", w.DebugString()));
    }
    const float* wv = w.data<float>();
    const float* gv = g.data<float>();
    const std::vector<int64_t>& excluded = request.excluded[p];
    size_t next_excluded = 0;
    TopK<RankedValue, decltype(&RankedBetter)> local(k_param, &RankedBetter);
    for (int64_t i = 0; i < w.numel(); ++i) {
      while (next_excluded < excluded.size() && excluded[next_excluded] < i)
        ++next_excluded;
      if (next_excluded < excluded.size() && excluded[next_excluded] == i)
        continue;
      const float gi = gv[i];
      if (gi == 0.0f) continue;
      if (request.diversify && PositionExcluded(request.diversify_seed, p, i))
        continue;
      // float arithmetic, as the CUDA kernel computes it.
      const float room =
          gi > 0.0f ? request.hi[p] - wv[i] : wv[i] - request.lo[p];
      const float score = std::fabs(gi) * room;
      if (!(score > 0.0f) || std::isinf(score)) continue;
      const RankedValue c{static_cast<int>(p), i, score, wv[i], gi};
      global.Offer(c);
      local.Offer(c);
    }
    for (const RankedValue& c : local.TakeSorted()) top.push_back(c);
  }
  for (const RankedValue& c : global.TakeSorted()) {
    bool seen = false;
    for (const RankedValue& t : top)
      seen |= t.param == c.param && t.index == c.index;
    if (!seen) top.push_back(c);
  }
  std::sort(top.begin(), top.end(), RankedBetter);
  return top;
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
  OC_ASSIGN_OR_RETURN(
      LossResult lr,
      engine.LossAndGradients(feeds, labels, params, request.keep_slot));
  std::vector<Tensor> weights, grads;
  for (const std::string& p : params) {
    OC_ASSIGN_OR_RETURN(Tensor w, engine.GetInitializer(p));
    weights.push_back(std::move(w));
    grads.push_back(std::move(lr.grads.at(p)));
  }
  RankResult result;
  result.loss = lr.loss;
  OC_ASSIGN_OR_RETURN(result.top, RankOnHost(weights, grads, params, request));
  return result;
}

}  // namespace onnx_crypt
