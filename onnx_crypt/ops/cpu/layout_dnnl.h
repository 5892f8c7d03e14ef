// oneDNN's CPU engine, shared by every primitive of the fast kernels, and the
// layout change between N x C x H x W and channels-last that the Conv chains
// hand over (conv_fused.h ChainLayouts). Declared only where
// ONNX_CRYPT_HAVE_DNNL is defined. Thread safety: the functions may be called
// concurrently (the reorder cache is locked).
#ifndef ONNX_CRYPT_OPS_CPU_LAYOUT_DNNL_H_
#define ONNX_CRYPT_OPS_CPU_LAYOUT_DNNL_H_

#include <cstdint>

#include "absl/status/status.h"
#include "oneapi/dnnl/dnnl.hpp"

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

}  // namespace onnx_crypt::cpu

#endif  // ONNX_CRYPT_OPS_CPU_LAYOUT_DNNL_H_
