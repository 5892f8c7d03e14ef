#include "onnx_crypt/ops/matmul_shape.h"

#include "absl/strings/str_cat.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/ops/cpu/util.h"

namespace onnx_crypt {

absl::StatusOr<MatMulShape> PlanMatMul(const Node& node, const Shape& a,
                                       const Shape& b) {
  if (a.empty() || b.empty()) {
    return cpu::NodeError(
        node, absl::StrCat("A ", ShapeToString(a), " and B ", ShapeToString(b),
                           " must have rank >= 1"));
  }
  Shape as = a, bs = b;
  if (as.size() == 1) as.insert(as.begin(), 1);
  if (bs.size() == 1) bs.push_back(1);
  MatMulShape p;
  p.m = as[as.size() - 2];
  p.k = as.back();
  p.n = bs.back();
  if (bs[bs.size() - 2] != p.k) {
    return cpu::NodeError(
        node, absl::StrCat("inner dimensions of A ", ShapeToString(a),
                           " and B ", ShapeToString(b), " differ"));
  }
  const Shape a_batch(as.begin(), as.end() - 2),
      b_batch(bs.begin(), bs.end() - 2);
  OC_ASSIGN_OR_RETURN(p.batch, cpu::BroadcastShapes(a_batch, b_batch, node));
  p.a_strides = cpu::BroadcastStrides(a_batch, p.batch);
  p.b_strides = cpu::BroadcastStrides(b_batch, p.batch);
  p.a_count = NumElements(a_batch);
  p.b_count = NumElements(b_batch);
  p.fold = p.b_count == 1 && p.a_count == NumElements(p.batch);
  p.y_shape = p.batch;
  if (a.size() > 1) p.y_shape.push_back(p.m);
  if (b.size() > 1) p.y_shape.push_back(p.n);
  return p;
}

}  // namespace onnx_crypt
