// Conv followed by the element-wise steps that read only its output, run as
// one pass in a forward that keeps no intermediate values (the executor's
// Keep::kLastUse, which eval and the lock's plain runs use). The chains:
//   Conv [BatchNormalization] [Add] [Relu | LeakyRelu]
//        [MaxPool | AveragePool | GlobalAveragePool]
// (at least one step after Conv; Add's other operand has the Conv output's
// shape; the pool, on a 2-D Conv only, 2 x 2 with stride 2 and whole windows,
// the fast path of pool_two_by_two.h, or global). The math
// is the ops' own, in the same order, each float32 operation rounded as the
// separate kernel rounds it:
//   v = conv(X, W)[n, c, ...] + B[c]
//   v = a[c] * v + b[c]          (BatchNormalization, a and b as
//                                 batch_normalization.cc computes them)
//   v = v + other[n, c, ...]     (Add; float addition is commutative)
//   v = max(v, 0)  or  v >= 0 ? v : alpha * v
//   y = MaxOfFour / MeanOfFour of each window of v (pool_two_by_two.h), or
//   y[n, c] = (sum over positions of v[n, c, ...], in order) / positions
// so the result equals the unfused steps bit for bit; this holds because the
// fused oneDNN primitive is used only when it has the same implementation and
// layouts as the plain Conv's (conv_dnnl.h). One known exception, in the sign
// of a zero only: where LeakyRelu's alpha * v underflows to -0 (|v| below
// about 1.2e-38 / alpha, flushed), oneDNN gives -0 and leakyrelu.cc's
// max(v, 0) + alpha * min(v, 0) gives +0; a zero's sign changes no sum that
// has a non-zero term. tests/engine/conv_chain_test.cc and the lock
// fingerprints (tools/refactor/lock_fingerprints.sh) check the bits. Fused only
// for float32 with the fast kernels on; otherwise the functions report "not
// fused" and the caller runs the steps one by one. Thread safety: as the
// kernels'.
#ifndef ONNX_CRYPT_OPS_CPU_CONV_FUSED_H_
#define ONNX_CRYPT_OPS_CPU_CONV_FUSED_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "onnx_crypt/ir/graph.h"
#include "onnx_crypt/ops/op.h"

namespace onnx_crypt::cpu {

// How many of `nodes` (consecutive steps, nodes[0] first) form a chain by op
// type and attributes alone: 1 when nodes[0] is no Conv or nothing follows
// that can be fused. The caller checks that each intermediate output is read
// only by the next node, as its data input.
size_t ConvChainLength(const std::vector<const Node*>& nodes);

// Channels-last activations between chains. oneDNN's convolutions want N x H x
// W x C; a chain whose output is read only by other chains (as a Conv's X or
// an Add's other operand) can hand it over in that order and save the two
// reorders of every Conv in between (ChainLayouts in engine/cpu_engine.h
// decides where). The tensors keep their N x C x H x W shapes; only the order
// of the data differs, so no value changes.
struct ChainLayouts {
  bool x_nhwc = false;       // the Conv's X is channels-last
  bool addend_nhwc = false;  // the Add's other operand is
  bool y_nhwc = false;       // the output is wanted channels-last
};

// Runs the chain `nodes` (a prefix ConvChainLength accepted, or a lone Conv,
// which only changes the layouts); inputs[i] are node i's inputs, with null
// for the previous node's output. Sets *y to the last node's output and
// *y_nhwc to whether it is channels-last (as `layouts` asked, for a 2-D Conv
// whose output has H x W; a global pool's N x C x 1 x 1 is reported plain),
// and returns true; or returns false and does nothing when this chain cannot
// be fused for these inputs (types, shapes, oneDNN's choice of kernel). An
// addend in the other layout than the output's is converted first.
absl::StatusOr<bool> ForwardConvChain(const std::vector<const Node*>& nodes,
                                      const std::vector<TensorRefs>& inputs,
                                      const ChainLayouts& layouts, Tensor* y,
                                      bool* y_nhwc);

// How many chains of two or more steps ForwardConvChain has run fused in this
// process, and how many of its runs read or wrote a channels-last tensor
// (for tests and benchmarks: a fused path that silently never runs would pass
// any comparison).
int64_t FusedConvChainCount();
int64_t ChannelsLastChainCount();

// x (float32, N x C x H x W) with its data reordered to channels-last
// (`to_nhwc`) or back to N x C x H x W; same shape, same values.
absl::StatusOr<Tensor> ChangeChannelsLayout(const Tensor& x, bool to_nhwc);

// The per-channel coefficients of BatchNormalization's float32 forward
// (batch_normalization.cc): Y = a[c] * X + b[c]. Errors as its forward's.
absl::Status BatchNormFloatCoefficients(const Node& node,
                                        const TensorRefs& inputs,
                                        std::vector<float>* a,
                                        std::vector<float>* b);

// Conv's float32 forward with the oneDNN epilogue of conv_dnnl.h (defined in
// conv.cc): false when oneDNN is not built in, the fast kernels are off, the
// types are not float32 or the fused primitive does not match the plain one.
struct ConvEpilogue {
  std::vector<float> scale, shift;  // empty, or one per output channel
  const Tensor* addend = nullptr;   // Y's shape and layout
  bool relu = false;
  float relu_alpha = 0.0f;
  const Node* pool = nullptr;  // a MaxPool or AveragePool node, or null
  // 2-D Conv only: X's data, and Y's (with the addend's), in channels-last
  // order (ChainLayouts); the tensors' shapes stay N x C x H x W.
  bool x_nhwc = false;
  bool y_nhwc = false;
};
absl::StatusOr<bool> ConvForwardFused(const Node& node,
                                      const TensorRefs& inputs,
                                      const ConvEpilogue& epilogue, Tensor* y);

}  // namespace onnx_crypt::cpu

#endif  // ONNX_CRYPT_OPS_CPU_CONV_FUSED_H_
