// oneDNN's CPU engine, shared by every primitive of the fast kernels; the
// layout change between N x C x H x W and channels-last that the Conv chains
// hand over (conv_fused.h ChainLayouts); and the pool of a fused Conv read from
// its output in whichever of the two layouts the primitive wrote. Declared only
// where ONNX_CRYPT_HAVE_DNNL is defined. Thread safety: the functions may be
// called concurrently (the reorder cache is locked).
#ifndef ONNX_CRYPT_OPS_CPU_LAYOUT_DNNL_H_
#define ONNX_CRYPT_OPS_CPU_LAYOUT_DNNL_H_

#include <cstdint>

#include "absl/status/status.h"
#include "oneapi/dnnl/dnnl.hpp"
#include "onnx_crypt/ops/cpu/conv_dnnl.h"

namespace onnx_crypt::cpu {

// The process's oneDNN CPU engine (created on first use, never destroyed).
dnnl::engine& CpuDnnlEngine();

// A oneDNN error as an Internal status naming `what` failed.
absl::Status FromDnnl(const dnnl::error& e, const char* what);

// y = x with its n x c x h x w float32 layout changed from NCHW to NHWC
// (`to_nhwc`) or back, by a oneDNN reorder created once per shape and thread
// count; values are copied exactly. ChangeLayout throws dnnl::error;
// DnnlChangeLayout returns it as a status and gives the kernel threads the
// caller's denormal mode.
void ChangeLayout(int64_t n, int64_t c, int64_t h, int64_t w, bool to_nhwc,
                  const float* x, float* y);
absl::Status DnnlChangeLayout(int64_t n, int64_t c, int64_t h, int64_t w,
                              bool to_nhwc, const float* x, float* y);

// The pool `pool` (not kNone) of a fused Conv's output `values`, an n x c x h
// x w block laid out NCHW or NHWC (`nhwc`), into `pooled`: the global mean (N
// x C, either layout), or the 2 x 2 pool (layout_pools.h), written NHWC when
// `pooled_nhwc` (from NCHW values through this thread's buffer `slot` and a
// layout change), else NCHW. Throws dnnl::error.
void PoolConvOutput(const float* values, bool nhwc, int64_t n, int64_t c,
                    int64_t h, int64_t w, DnnlPool pool, bool pooled_nhwc,
                    size_t slot, float* pooled);

}  // namespace onnx_crypt::cpu

#endif  // ONNX_CRYPT_OPS_CPU_LAYOUT_DNNL_H_
