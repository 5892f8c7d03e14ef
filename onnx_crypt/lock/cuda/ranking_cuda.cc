// Device ranking: see ranking_cuda.h.
#include "onnx_crypt/lock/cuda/ranking_cuda.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "cuda/rank.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/engine/cuda/cuda_status.h"

namespace onnx_crypt {

using cuda::DValue;

absl::StatusOr<RankResult> RankOnCuda(CudaEngine& engine, const Feeds& feeds,
                                      absl::Span<const int64_t> labels,
                                      const std::vector<std::string>& params,
                                      const RankRequest& request) {
  std::vector<DValue> grads;
  OC_ASSIGN_OR_RETURN(LossResult lr,
                      engine.LossAndDeviceGradients(feeds, labels, params,
                                                    &grads, request.keep_slot));
  cuda::CudaContext& cx = engine.context();
  std::vector<const DValue*> weights;
  for (const std::string& p : params) {
    OC_ASSIGN_OR_RETURN(const DValue* w, engine.DeviceInitializer(p));
    if (!w->on_device()) {
      return absl::InvalidArgumentError(
          absl::StrCat("ranking needs float32 parameters; '", p, "' is ",
                       DTypeName(w->dtype)));
    }
    weights.push_back(w);
  }
  RankResult result;
  result.loss = lr.loss;
  // Scores of all parameters end to end (model order), so the flat index of the
  // sort breaks ties by parameter, then index.
  std::vector<int64_t> offsets(params.size() + 1, 0);
  for (size_t p = 0; p < params.size(); ++p) {
    offsets[p + 1] = offsets[p] + weights[p]->numel();
  }
  const int64_t total = offsets.back();
  const int64_t k = std::min<int64_t>(std::max<int64_t>(request.k, 0), total);
  if (k == 0) return result;
  OC_ASSIGN_OR_RETURN(std::shared_ptr<cuda::DeviceBuffer> scores,
                      cx.NewBytes(sizeof(float) * total));
  for (size_t p = 0; p < params.size(); ++p) {
    const DValue& w = *weights[p];
    const int64_t n = w.numel();
    float* dst = scores->as<float>() + offsets[p];
    if (!grads[p].defined()) {
      OC_CUDA_RETURN_IF_ERROR(
          cudaMemsetAsync(dst, 0, sizeof(float) * n, cx.stream()),
          "clearing scores");
      continue;
    }
    // The excluded positions as a byte mask (only the few locked positions are
    // set; uploaded, never downloaded).
    std::shared_ptr<cuda::DeviceBuffer> mask;
    if (!request.excluded[p].empty()) {
      std::vector<uint8_t> host(static_cast<size_t>(n), 0);
      for (int64_t i : request.excluded[p]) {
        if (i >= 0 && i < n) host[static_cast<size_t>(i)] = 1;
      }
      OC_ASSIGN_OR_RETURN(mask, cx.NewBytes(host.size()));
      OC_CUDA_RETURN_IF_ERROR(
          cudaMemcpyAsync(mask->data(), host.data(), host.size(),
                          cudaMemcpyHostToDevice, cx.stream()),
          "uploading the locked positions");
      OC_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(cx.stream()),
                              "uploading the locked positions");
    }
    OC_CUDA_RETURN_IF_ERROR(
        cuda::RangeGainScores(
            w.data(), grads[p].data(), mask ? mask->as<uint8_t>() : nullptr,
            request.lo[p], request.hi[p], n, request.diversify,
            request.diversify_seed, static_cast<uint64_t>(p), dst, cx.stream()),
        "ranking '", params[p], "'");
  }
  OC_ASSIGN_OR_RETURN(std::shared_ptr<cuda::DeviceBuffer> workspace,
                      cx.NewBytes(cuda::TopKWorkspaceBytes(total)));
  const int64_t k_param = std::max<int64_t>(request.k_per_param, 0);
  const int64_t k_max = std::max(k, k_param);
  OC_ASSIGN_OR_RETURN(std::shared_ptr<cuda::DeviceBuffer> top_index,
                      cx.NewBytes(sizeof(int64_t) * k_max));
  OC_ASSIGN_OR_RETURN(std::shared_ptr<cuda::DeviceBuffer> top_score,
                      cx.NewBytes(sizeof(float) * k_max));
  // The kk best of scores[base, base + n): (flat index, score) pairs, positive
  // scores only.
  auto best_of = [&](int64_t base, int64_t n, int64_t kk)
      -> absl::StatusOr<std::vector<std::pair<int64_t, float>>> {
    std::vector<std::pair<int64_t, float>> out;
    kk = std::min(kk, n);
    if (kk <= 0) return out;
    OC_CUDA_RETURN_IF_ERROR(
        cuda::TopK(scores->as<float>() + base, n, kk, workspace->data(),
                   cuda::TopKWorkspaceBytes(total), top_index->as<int64_t>(),
                   top_score->as<float>(), cx.stream()),
        "top-k");
    std::vector<int64_t> idx(static_cast<size_t>(kk));
    std::vector<float> sc(static_cast<size_t>(kk));
    OC_CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(idx.data(), top_index->data(), sizeof(int64_t) * kk,
                        cudaMemcpyDeviceToHost, cx.stream()),
        "downloading the top-k");
    OC_CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(sc.data(), top_score->data(), sizeof(float) * kk,
                        cudaMemcpyDeviceToHost, cx.stream()),
        "downloading the top-k");
    OC_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(cx.stream()), "top-k");
    for (int64_t j = 0; j < kk && sc[j] > 0.0f; ++j) {
      out.push_back({base + idx[j], sc[j]});
    }
    return out;
  };
  std::vector<std::pair<int64_t, float>> picked;
  for (size_t p = 0; p < params.size() && k_param > 0; ++p) {
    OC_ASSIGN_OR_RETURN(
        auto local, best_of(offsets[p], offsets[p + 1] - offsets[p], k_param));
    picked.insert(picked.end(), local.begin(), local.end());
  }
  OC_ASSIGN_OR_RETURN(auto global, best_of(0, total, k));
  for (const auto& g : global) {
    bool seen = false;
    for (const auto& q : picked) seen |= q.first == g.first;
    if (!seen) picked.push_back(g);
  }
  // Best first; ties by flat index = parameter order, then index.
  std::sort(picked.begin(), picked.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  for (const auto& [flat, score] : picked) {
    const size_t p = static_cast<size_t>(
        std::upper_bound(offsets.begin(), offsets.end(), flat) -
        offsets.begin() - 1);
    RankedValue v;
    v.param = static_cast<int>(p);
    v.index = flat - offsets[p];
    v.score = score;
    // Two floats per candidate: the weight and its gradient.
    const DValue& w = *weights[p];
    OC_CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(&v.weight, w.data() + v.index, sizeof(float),
                        cudaMemcpyDeviceToHost, cx.stream()),
        "downloading a candidate");
    OC_CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(&v.grad, grads[p].data() + v.index, sizeof(float),
                        cudaMemcpyDeviceToHost, cx.stream()),
        "downloading a candidate");
    result.top.push_back(v);
  }
  OC_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(cx.stream()), "top-k");
  return result;
}

}  // namespace onnx_crypt
