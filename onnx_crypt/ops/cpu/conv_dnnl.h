// Conv through oneDNN (float32, 1-D, 2-D and 3-D, any strides, pads,
// dilations and groups): the fast path of ops/cpu/conv.cc. Same math as the
// reference (conv.cc's header); sums are reassociated, so results differ from
// the reference by float32 rounding, and are bit-identical run to run for a
// fixed thread count.
//
// Primitives are created once per configuration (geometry, group, which
// outputs, thread count) and cached for the process; plain NCHW/OIHW tensors
// are reordered to and from the layouts the primitive prefers around each call.
// Errors from oneDNN become Internal statuses. Thread safety: the functions may
// be called concurrently (the cache is locked; buffers are per thread).
// Declared only where ONNX_CRYPT_HAVE_DNNL is defined.
#ifndef ONNX_CRYPT_OPS_CPU_CONV_DNNL_H_
#define ONNX_CRYPT_OPS_CPU_CONV_DNNL_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "onnx_crypt/ops/cpu/pool_util.h"

namespace onnx_crypt::cpu {

// The convolution of conv.cc: X is g.batch x g.channels x in..., W is
// out_channels x g.channels/group x kernel..., Y is g.batch x out_channels x
// out...; all packed row-major.
struct DnnlConvShape {
  WindowGeometry geom;
  int64_t group = 1;
  int64_t out_channels = 0;
};

// y = conv(x, w) + b; b may be null.
absl::Status DnnlConvForward(const DnnlConvShape& s, const float* x,
                             const float* w, const float* b, float* y);

// What follows the convolution in DnnlConvForwardFused, applied in this order
// to each element v = conv(x, w)[n, c, ...] + b[c] (each float32 operation
// rounded, as the separate ops round it):
//   v = v * scale[c] + shift[c]   when scale (and shift) are given
//   v = v + addend[n, c, ...]     when addend is given (Y's shape and layout)
//   v = v > 0 ? v : relu_alpha * v  when relu (alpha 0: max(v, 0))
// and then, with `pool`, y is the 2 x 2, stride 2 pooling of v without pads
// (pool_two_by_two.h's MaxOfFour / MeanOfFour; y is batch x out_channels x
// out[1] / 2 x out[2] / 2, rounded down), or the global average pooling of
// v (y is batch x out_channels x 1 x 1; each plane summed in order from zero,
// then divided by its size, as global_average_pool.cc does): v itself is
// never written out.
enum class DnnlPool { kNone, kMax, kAverage, kGlobalAverage };
struct DnnlConvEpilogue {
  const float* scale = nullptr;  // out_channels elements
  const float* shift = nullptr;  // out_channels elements
  const float* addend = nullptr;
  bool relu = false;
  float relu_alpha = 0.0f;
  DnnlPool pool = DnnlPool::kNone;  // 2-D convolutions only
  // 2-D convolutions only: X, and Y with the addend (and with a pool its
  // pooled values), laid out channels-last (N x H x W x C, the layout the
  // primitive itself prefers) instead of N x C x H x W, so that no reorder
  // runs before or after the primitive. The layouts change no value.
  bool src_nhwc = false;
  bool dst_nhwc = false;
};

// The convolution and its epilogue in one pass (oneDNN post-ops). Runs only
// when oneDNN picks the same implementation and layouts for the fused
// primitive as for DnnlConvForward's, so that the sums are the same bit for
// bit; returns false, writing nothing, when it does not (the caller then runs
// the steps one by one).
absl::StatusOr<bool> DnnlConvForwardFused(const DnnlConvShape& s,
                                          const float* x, const float* w,
                                          const float* b,
                                          const DnnlConvEpilogue& epilogue,
                                          float* y);

// Whichever of dx, dw, db is non-null is overwritten with the gradient of the
// loss given dy (the gradient at Y).
absl::Status DnnlConvBackward(const DnnlConvShape& s, const float* x,
                              const float* w, const float* dy, float* dx,
                              float* dw, float* db);

}  // namespace onnx_crypt::cpu

#endif  // ONNX_CRYPT_OPS_CPU_CONV_DNNL_H_
