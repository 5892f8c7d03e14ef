// layout_dnnl.h: the shared oneDNN engine and the cached layout reorders.
#include "onnx_crypt/ops/cpu/layout_dnnl.h"

#include <omp.h>

#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "onnx_crypt/ops/cpu/layout_pools.h"
#include "onnx_crypt/ops/cpu/pool_two_by_two.h"
#include "onnx_crypt/ops/cpu/threads_dnnl.h"

namespace onnx_crypt::cpu {

dnnl::engine& CpuDnnlEngine() {
  static dnnl::engine* engine = new dnnl::engine(dnnl::engine::kind::cpu, 0);
  return *engine;
}

absl::Status FromDnnl(const dnnl::error& e, const char* what) {
  return absl::InternalError(absl::StrCat("oneDNN ", what, ": ", e.what(),
                                          " (status ",
                                          static_cast<int>(e.status), ")"));
}

void ChangeLayout(int64_t n, int64_t c, int64_t h, int64_t w, bool to_nhwc,
                  const float* x, float* y) {
  using dnnl::memory;
  static absl::Mutex mu(absl::kConstInit);
  static auto* cache = new std::map<std::vector<int64_t>, dnnl::reorder>();
  const memory::dims d = {n, c, h, w};
  const memory::desc nchw(d, memory::data_type::f32, memory::format_tag::nchw);
  const memory::desc nhwc(d, memory::data_type::f32, memory::format_tag::nhwc);
  const memory::desc& from = to_nhwc ? nchw : nhwc;
  const memory::desc& to = to_nhwc ? nhwc : nchw;
  dnnl::engine& e = CpuDnnlEngine();
  const dnnl::reorder* r = nullptr;
  {
    absl::MutexLock lock(&mu);
    const std::vector<int64_t> key = {n, c,       h,
                                      w, to_nhwc, omp_get_max_threads()};
    auto it = cache->find(key);
    if (it == cache->end()) {
      it = cache
               ->emplace(key, dnnl::reorder(dnnl::reorder::primitive_desc(
                                  e, from, e, to)))
               .first;
    }
    r = &it->second;  // map entries do not move
  }
  dnnl::stream stream(e);
  memory src(from, e, const_cast<float*>(x));
  memory dst(to, e, y);
  r->execute(stream, {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}});
  stream.wait();
}

absl::Status DnnlChangeLayout(int64_t n, int64_t c, int64_t h, int64_t w,
                              bool to_nhwc, const float* x, float* y) {
  try {
    WorkerDenormalScope denormals;
    ChangeLayout(n, c, h, w, to_nhwc, x, y);
  } catch (const dnnl::error& e) {
    return FromDnnl(e, "layout change");
  }
  return absl::OkStatus();
}

void PoolConvOutput(const float* values, bool nhwc, int64_t n, int64_t c,
                    int64_t h, int64_t w, DnnlPool pool, bool pooled_nhwc,
                    size_t slot, float* pooled) {
  if (pool == DnnlPool::kGlobalAverage) {
    // N x C x 1 x 1: the same bytes in either layout.
    GlobalMean(values, nhwc, n, c, h * w, pooled);
    return;
  }
  // Pooled NHWC from NHWC values directly; from NCHW values (a primitive that
  // chose NCHW) through an NCHW buffer and a layout change.
  const bool nhwc_out = pooled_nhwc && nhwc;
  float* out = pooled_nhwc && !nhwc
                   ? static_cast<float*>(ThreadBuffer(
                         slot, sizeof(float) * n * c * (h / 2) * (w / 2)))
                   : pooled;
  if (pool == DnnlPool::kMax) {
    PoolTwoByTwo(values, nhwc, n, c, h, w, out, MaxOfFour(), nhwc_out);
  } else {
    PoolTwoByTwo(values, nhwc, n, c, h, w, out, MeanOfFour(), nhwc_out);
  }
  if (out != pooled) ChangeLayout(n, c, h / 2, w / 2, true, out, pooled);
}

}  // namespace onnx_crypt::cpu
