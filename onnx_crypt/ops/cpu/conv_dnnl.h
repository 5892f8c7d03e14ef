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

// Whichever of dx, dw, db is non-null is overwritten with the gradient of the
// loss given dy (the gradient at Y).
absl::Status DnnlConvBackward(const DnnlConvShape& s, const float* x,
                              const float* w, const float* dy, float* dx,
                              float* dw, float* db);

}  // namespace onnx_crypt::cpu

#endif  // ONNX_CRYPT_OPS_CPU_CONV_DNNL_H_
