// Conv forward, backward-data and backward-weights through oneDNN primitives
// (math in conv.cc's header). Why a library: oneDNN's JIT kernels work on
// channel-blocked layouts with register-blocked micro-kernels, 2-5x faster than
// im2col + GEMM on the small images of our models, and already tested.
//
// Each configuration is created once (primitive creation costs about a
// millisecond; the lock loop runs the same shapes thousands of times). The
// primitive picks its layouts (format_tag::any); our plain tensors are
// reordered into per-thread buffers before it and back after it.
// Determinism: oneDNN's CPU kernels split work statically over the OpenMP team,
// so a fixed thread count gives fixed summation orders (checked in
// tests/ops/conv_fast_test.cc, backward-weights included).
#include "onnx_crypt/ops/cpu/conv_dnnl.h"

#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <memory>
#include <unordered_map>
#include <vector>

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace onnx_crypt::cpu {

namespace {

using dnnl::memory;
using Dims = memory::dims;
using Tag = memory::format_tag;

dnnl::engine& CpuDnnlEngine() {
  static dnnl::engine* engine = new dnnl::engine(dnnl::engine::kind::cpu, 0);
  return *engine;
}

// One argument of a primitive: the layout our tensor has, the layout the
// primitive wants, and the reorder between them when they differ.
struct Arg {
  int id = 0;  // DNNL_ARG_*
  bool output = false;
  memory::desc user;
  memory::desc prim;
  bool reordered = false;
  dnnl::reorder reorder;  // user -> prim for inputs, prim -> user for outputs
};

struct Prepared {
  dnnl::primitive primitive;
  std::vector<Arg> args;
  memory::desc scratchpad;
};

Arg MakeArg(int id, bool output, const memory::desc& user,
            const memory::desc& prim) {
  Arg a;
  a.id = id;
  a.output = output;
  a.user = user;
  a.prim = prim;
  a.reordered = !(user == prim);
  if (a.reordered) {
    dnnl::engine& e = CpuDnnlEngine();
    a.reorder =
        output ? dnnl::reorder(dnnl::reorder::primitive_desc(e, prim, e, user))
               : dnnl::reorder(dnnl::reorder::primitive_desc(e, user, e, prim));
  }
  return a;
}

// 64-byte aligned, growing buffers of the calling thread, one per slot.
void* ThreadBuffer(size_t slot, size_t bytes) {
  struct Free {
    void operator()(void* p) const { std::free(p); }
  };
  struct Buffer {
    std::unique_ptr<void, Free> data;
    size_t size = 0;
  };
  thread_local std::vector<Buffer> buffers;
  if (buffers.size() <= slot) buffers.resize(slot + 1);
  Buffer& b = buffers[slot];
  if (b.size < bytes) {
    b.size = (bytes + 63) / 64 * 64;
    b.data.reset(std::aligned_alloc(64, b.size));
  }
  return b.data.get();
}

// The OpenMP workers do not inherit the caller's denormal mode (CallScope in
// engine/cpu_engine.cc sets FTZ/DAZ on the calling thread): give it to them for
// one call and restore theirs after.
class WorkerDenormalScope {
 public:
  WorkerDenormalScope() {
#if defined(__SSE__)
    const unsigned int mode = _mm_getcsr() & kBits;
    saved_.assign(static_cast<size_t>(omp_get_max_threads()), 0);
#pragma omp parallel
    {
      const int t = omp_get_thread_num();
      const unsigned int csr = _mm_getcsr();
      if (t < static_cast<int>(saved_.size())) saved_[t] = csr;
      _mm_setcsr((csr & ~kBits) | mode);
    }
#endif
  }
  ~WorkerDenormalScope() {
#if defined(__SSE__)
#pragma omp parallel
    {
      const int t = omp_get_thread_num();
      if (t < static_cast<int>(saved_.size())) _mm_setcsr(saved_[t]);
    }
#endif
  }
  WorkerDenormalScope(const WorkerDenormalScope&) = delete;
  WorkerDenormalScope& operator=(const WorkerDenormalScope&) = delete;

 private:
  static constexpr unsigned int kBits = 0x8040;  // FTZ | DAZ
  std::vector<unsigned int> saved_;
};

// Runs `p` with one pointer per argument (in p.args order). Argument
// `prearranged` (if any) already has the primitive's layout.
void Execute(const Prepared& p, const std::vector<const void*>& pointers,
             int prearranged = -1) {
  dnnl::engine& e = CpuDnnlEngine();
  dnnl::stream stream(e);
  std::vector<memory> user(p.args.size());
  std::unordered_map<int, memory> exec_args;
  for (size_t i = 0; i < p.args.size(); ++i) {
    const Arg& a = p.args[i];
    if (static_cast<int>(i) == prearranged) {
      exec_args.emplace(a.id,
                        memory(a.prim, e, const_cast<void*>(pointers[i])));
      continue;
    }
    user[i] = memory(a.user, e, const_cast<void*>(pointers[i]));
    if (!a.reordered) {
      exec_args.emplace(a.id, user[i]);
      continue;
    }
    memory m(a.prim, e, ThreadBuffer(i, a.prim.get_size()));
    if (!a.output) {
      a.reorder.execute(stream, {{DNNL_ARG_FROM, user[i]}, {DNNL_ARG_TO, m}});
    }
    exec_args.emplace(a.id, m);
  }
  if (p.scratchpad.get_size() > 0) {
    exec_args.emplace(
        DNNL_ARG_SCRATCHPAD,
        memory(p.scratchpad, e,
               ThreadBuffer(p.args.size(), p.scratchpad.get_size())));
  }
  p.primitive.execute(stream, exec_args);
  for (size_t i = 0; i < p.args.size(); ++i) {
    const Arg& a = p.args[i];
    if (a.reordered && a.output) {
      a.reorder.execute(stream, {{DNNL_ARG_FROM, exec_args.at(a.id)},
                                 {DNNL_ARG_TO, user[i]}});
    }
  }
  stream.wait();
}

struct Geometry {
  Dims src, weights, bias, dst, strides, dilates, pad_l, pad_r;
  Tag act_tag, weights_tag;
};

Geometry MakeGeometry(const DnnlConvShape& s) {
  const WindowGeometry& g = s.geom;
  const int nd = g.spatial_rank == 3 ? 3 : 2;  // 1-D runs as 2-D with H = 1
  Geometry r;
  r.src = {g.batch, g.channels};
  r.dst = {g.batch, s.out_channels};
  if (s.group > 1) {
    r.weights = {s.group, s.out_channels / s.group, g.channels / s.group};
  } else {
    r.weights = {s.out_channels, g.channels};
  }
  for (int i = kMaxSpatialRank - nd; i < kMaxSpatialRank; ++i) {
    r.src.push_back(g.in[i]);
    r.dst.push_back(g.out[i]);
    r.weights.push_back(g.kernel[i]);
    r.strides.push_back(g.stride[i]);
    r.dilates.push_back(g.dilation[i] - 1);  // oneDNN counts the gaps
    r.pad_l.push_back(g.pad_begin[i]);
    r.pad_r.push_back(g.pad_end[i]);
  }
  r.bias = {s.out_channels};
  r.act_tag = nd == 3 ? Tag::ncdhw : Tag::nchw;
  r.weights_tag = nd == 3 ? (s.group > 1 ? Tag::goidhw : Tag::oidhw)
                          : (s.group > 1 ? Tag::goihw : Tag::oihw);
  return r;
}

memory::desc Plain(const Dims& d, Tag tag) {
  return memory::desc(d, memory::data_type::f32, tag);
}
memory::desc Any(const Dims& d) {
  return memory::desc(d, memory::data_type::f32, Tag::any);
}

dnnl::primitive_attr UserScratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

dnnl::convolution_forward::primitive_desc ForwardDesc(const Geometry& r,
                                                      bool bias,
                                                      dnnl::prop_kind kind) {
  using Fwd = dnnl::convolution_forward;
  const auto algo = dnnl::algorithm::convolution_direct;
  Fwd::desc d =
      bias ? Fwd::desc(kind, algo, Any(r.src), Any(r.weights),
                       Plain(r.bias, Tag::a), Any(r.dst), r.strides, r.dilates,
                       r.pad_l, r.pad_r)
           : Fwd::desc(kind, algo, Any(r.src), Any(r.weights), Any(r.dst),
                       r.strides, r.dilates, r.pad_l, r.pad_r);
  return Fwd::primitive_desc(d, UserScratchpad(), CpuDnnlEngine());
}

constexpr int64_t kChunkBytes = int64_t{1} << 20;
constexpr size_t kWeightsSlot = 7;  // ThreadBuffer slot past every argument's

enum Kind : int64_t { kForward = 1, kBackwardData = 2, kBackwardWeights = 3 };

std::unique_ptr<Prepared> Create(Kind kind, const DnnlConvShape& s, bool bias) {
  const Geometry r = MakeGeometry(s);
  auto p = std::make_unique<Prepared>();
  const memory::desc src = Plain(r.src, r.act_tag);
  const memory::desc dst = Plain(r.dst, r.act_tag);
  const memory::desc wei = Plain(r.weights, r.weights_tag);
  const memory::desc b = Plain(r.bias, Tag::a);
  if (kind == kForward) {
    auto pd = ForwardDesc(r, bias, dnnl::prop_kind::forward_inference);
    p->primitive = dnnl::convolution_forward(pd);
    p->args.push_back(MakeArg(DNNL_ARG_SRC, false, src, pd.src_desc()));
    p->args.push_back(MakeArg(DNNL_ARG_WEIGHTS, false, wei, pd.weights_desc()));
    if (bias) p->args.push_back(MakeArg(DNNL_ARG_BIAS, false, b, b));
    p->args.push_back(MakeArg(DNNL_ARG_DST, true, dst, pd.dst_desc()));
    p->scratchpad = pd.scratchpad_desc();
    return p;
  }
  const auto hint = ForwardDesc(r, bias, dnnl::prop_kind::forward_training);
  const auto algo = dnnl::algorithm::convolution_direct;
  if (kind == kBackwardData) {
    using Bwd = dnnl::convolution_backward_data;
    Bwd::desc d(algo, Any(r.src), Any(r.weights), Any(r.dst), r.strides,
                r.dilates, r.pad_l, r.pad_r);
    Bwd::primitive_desc pd(d, UserScratchpad(), CpuDnnlEngine(), hint);
    p->primitive = Bwd(pd);
    p->args.push_back(
        MakeArg(DNNL_ARG_DIFF_DST, false, dst, pd.diff_dst_desc()));
    p->args.push_back(MakeArg(DNNL_ARG_WEIGHTS, false, wei, pd.weights_desc()));
    p->args.push_back(
        MakeArg(DNNL_ARG_DIFF_SRC, true, src, pd.diff_src_desc()));
    p->scratchpad = pd.scratchpad_desc();
    return p;
  }
  using Bwd = dnnl::convolution_backward_weights;
  Bwd::desc d = bias
                    ? Bwd::desc(algo, Any(r.src), Any(r.weights), b, Any(r.dst),
                                r.strides, r.dilates, r.pad_l, r.pad_r)
                    : Bwd::desc(algo, Any(r.src), Any(r.weights), Any(r.dst),
                                r.strides, r.dilates, r.pad_l, r.pad_r);
  Bwd::primitive_desc pd(d, UserScratchpad(), CpuDnnlEngine(), hint);
  p->primitive = Bwd(pd);
  p->args.push_back(MakeArg(DNNL_ARG_SRC, false, src, pd.src_desc()));
  p->args.push_back(MakeArg(DNNL_ARG_DIFF_DST, false, dst, pd.diff_dst_desc()));
  p->args.push_back(
      MakeArg(DNNL_ARG_DIFF_WEIGHTS, true, wei, pd.diff_weights_desc()));
  if (bias) {
    p->args.push_back(
        MakeArg(DNNL_ARG_DIFF_BIAS, true, b, pd.diff_bias_desc()));
  }
  p->scratchpad = pd.scratchpad_desc();
  return p;
}

// The cached primitive of one configuration; created on first use. Entries
// live as long as the process (their addresses stay valid).
const Prepared& Get(Kind kind, const DnnlConvShape& s, bool bias) {
  static absl::Mutex mu(absl::kConstInit);
  static auto* cache =
      new std::map<std::vector<int64_t>, std::unique_ptr<Prepared>>();
  const WindowGeometry& g = s.geom;
  std::vector<int64_t> key = {
      kind,    omp_get_max_threads(), bias, g.spatial_rank, g.batch, g.channels,
      s.group, s.out_channels};
  for (const auto* a :
       {&g.in, &g.kernel, &g.stride, &g.dilation, &g.pad_begin, &g.pad_end}) {
    key.insert(key.end(), a->begin(), a->end());
  }
  absl::MutexLock lock(&mu);
  std::unique_ptr<Prepared>& slot = (*cache)[key];
  if (slot == nullptr) slot = Create(kind, s, bias);
  return *slot;
}

absl::Status FromDnnl(const dnnl::error& e, const char* what) {
  return absl::InternalError(absl::StrCat("oneDNN ", what, ": ", e.what(),
                                          " (status ",
                                          static_cast<int>(e.status), ")"));
}

// Images per forward call: src and dst of one call, and the reordered copies
// of both, stay within about kChunkBytes (near L2) instead of streaming the
// whole batch through memory three times (5% faster on resnet_small and
// bn_cnn at batch 256 than one call per batch; 256 KB was slower again).
int64_t ForwardChunk(const DnnlConvShape& s) {
  const WindowGeometry& g = s.geom;
  const int64_t per_image =
      static_cast<int64_t>(sizeof(float)) * 2 *
      (g.channels * g.InSize() + s.out_channels * g.OutSize());
  return std::clamp<int64_t>(kChunkBytes / std::max<int64_t>(1, per_image), 1,
                             std::max<int64_t>(1, g.batch));
}

}  // namespace

absl::Status DnnlConvForward(const DnnlConvShape& s, const float* x,
                             const float* w, const float* b, float* y) {
  try {
    const bool bias = b != nullptr;
    const int64_t chunk = ForwardChunk(s);
    WorkerDenormalScope denormals;
    if (chunk >= s.geom.batch) {
      const Prepared& p = Get(kForward, s, bias);
      if (bias) {
        Execute(p, {x, w, b, y});
      } else {
        Execute(p, {x, w, y});
      }
      return absl::OkStatus();
    }
    DnnlConvShape part = s;
    part.geom.batch = chunk;
    const Prepared& full = Get(kForward, part, bias);
    // The weights are reordered once for all chunks.
    const Arg& wa = full.args[1];
    const void* wp = w;
    if (wa.reordered) {
      dnnl::engine& e = CpuDnnlEngine();
      dnnl::stream stream(e);
      memory from(wa.user, e, const_cast<float*>(w));
      memory to(wa.prim, e, ThreadBuffer(kWeightsSlot, wa.prim.get_size()));
      wa.reorder.execute(stream, {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}});
      stream.wait();
      wp = to.get_data_handle();
    }
    const WindowGeometry& g = s.geom;
    for (int64_t n0 = 0; n0 < g.batch; n0 += chunk) {
      const int64_t count = std::min(chunk, g.batch - n0);
      const Prepared* p = &full;
      if (count != chunk) {
        part.geom.batch = count;
        p = &Get(kForward, part, bias);
      }
      const float* xn = x + n0 * g.channels * g.InSize();
      float* yn = y + n0 * s.out_channels * g.OutSize();
      const bool ready = wa.reordered && p->args[1].prim == wa.prim;
      const void* wn = ready ? wp : w;
      if (bias) {
        Execute(*p, {xn, wn, b, yn}, ready ? 1 : -1);
      } else {
        Execute(*p, {xn, wn, yn}, ready ? 1 : -1);
      }
    }
  } catch (const dnnl::error& e) {
    return FromDnnl(e, "convolution forward");
  }
  return absl::OkStatus();
}

absl::Status DnnlConvBackward(const DnnlConvShape& s, const float* x,
                              const float* w, const float* dy, float* dx,
                              float* dw, float* db) {
  try {
    WorkerDenormalScope denormals;
    if (dx != nullptr) {
      Execute(Get(kBackwardData, s, false), {dy, w, dx});
    }
    if (dw != nullptr) {
      const Prepared& p = Get(kBackwardWeights, s, db != nullptr);
      if (db != nullptr) {
        Execute(p, {x, dy, dw, db});
      } else {
        Execute(p, {x, dy, dw});
      }
    } else if (db != nullptr) {
      // Bias alone: dB[m] = sum over n and positions of dY[n, m, ...].
      const int64_t out_size = s.geom.OutSize();
      for (int64_t m = 0; m < s.out_channels; ++m) db[m] = 0.0f;
      for (int64_t n = 0; n < s.geom.batch; ++n) {
        for (int64_t m = 0; m < s.out_channels; ++m) {
          const float* row = dy + (n * s.out_channels + m) * out_size;
          float sum = 0.0f;
          for (int64_t o = 0; o < out_size; ++o) sum += row[o];
          db[m] += sum;
        }
      }
    }
  } catch (const dnnl::error& e) {
    return FromDnnl(e, "convolution backward");
  }
  return absl::OkStatus();
}

}  // namespace onnx_crypt::cpu
