// MatMul's shape rules (numpy matmul), shared by every backend's kernel so the
// checks and their messages exist once:
//   A [..., m, k] x B [..., k, n] -> Y [batch..., m, n], with the batch
//   dimensions broadcast; a rank-1 A is [1, k] (m dropped from Y), a rank-1 B
//   is [k, 1] (n dropped from Y).
#ifndef ONNX_CRYPT_OPS_MATMUL_SHAPE_H_
#define ONNX_CRYPT_OPS_MATMUL_SHAPE_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "onnx_crypt/ir/graph.h"
#include "onnx_crypt/ir/tensor.h"

namespace onnx_crypt {

struct MatMulShape {
  int64_t m = 0, k = 0, n = 0;
  Shape batch;                                // broadcast batch shape
  std::vector<int64_t> a_strides, b_strides;  // in matrices, within `batch`
  int64_t a_count = 1, b_count = 1;           // matrices in A, in B
  // B is one matrix and A's batch is the whole batch: one [batch*m, k] GEMM.
  bool fold = false;
  Shape y_shape;
};

// InvalidArgument naming the node when a rank is 0, the inner dimensions
// differ or the batch dimensions do not broadcast.
absl::StatusOr<MatMulShape> PlanMatMul(const Node& node, const Shape& a,
                                       const Shape& b);

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_OPS_MATMUL_SHAPE_H_
