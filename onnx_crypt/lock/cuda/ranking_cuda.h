// The lock's range-gain ranking (lock/ranking.h) on a CUDA engine: the
// gradients stay on the device, the scores of all parameters are laid end to
// end in model order, and CUB's stable top-k (cuda/rank.h) selects there;
// only the k results (index, score, weight, gradient) come back to the host.
// The same list as the host ranking, since scores are computed in the same
// float arithmetic and ties break by flat index (= parameter, then index).
#ifndef ONNX_CRYPT_LOCK_CUDA_RANKING_CUDA_H_
#define ONNX_CRYPT_LOCK_CUDA_RANKING_CUDA_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "onnx_crypt/engine/cuda/cuda_engine.h"
#include "onnx_crypt/lock/ranking.h"

namespace onnx_crypt {

// RankByRangeGain for a CUDA engine (the request is already checked).
absl::StatusOr<RankResult> RankOnCuda(CudaEngine& engine, const Feeds& feeds,
                                      absl::Span<const int64_t> labels,
                                      const std::vector<std::string>& params,
                                      const RankRequest& request);

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_LOCK_CUDA_RANKING_CUDA_H_
