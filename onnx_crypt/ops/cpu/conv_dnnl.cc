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
#include <cstring>
#include <map>
#include <memory>
#include <unordered_map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "oneapi/dnnl/dnnl.hpp"
#include "onnx_crypt/ops/cpu/layout_dnnl.h"
#include "onnx_crypt/ops/cpu/parallel.h"
#include "onnx_crypt/ops/cpu/threads_dnnl.h"

namespace onnx_crypt::cpu {

namespace {

using dnnl::memory;
using Dims = memory::dims;
using Tag = memory::format_tag;

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
  // Fused forward only (DnnlConvEpilogue): the per-channel operands of the
  // binary post-ops, read in place (plain 1 x C x 1 ... descs).
  std::vector<std::pair<int, memory::desc>> channel_args;
  // A sum post-op: the addend is placed in the destination before the
  // primitive runs (reordered into its layout where that differs).
  bool sum = false;
  dnnl::reorder addend_in;
  // Pooling after the primitive (DnnlPool): read from its destination in
  // place when that is plain NCHW or NHWC, else reordered to NCHW first.
  DnnlPool pool = DnnlPool::kNone;
  enum class DstLayout { kNchw, kNhwc, kOther } dst_layout = DstLayout::kOther;
  dnnl::reorder dst_to_nchw;
  memory::desc nchw_dst;     // what dst_to_nchw writes
  bool pooled_nhwc = false;  // the pooled values are written NHWC
  // Whether the fused primitive has the implementation and layouts of the
  // plain one (false: not used).
  bool matches_plain = true;
};

// The epilogue's shape, which decides the primitive (the operands' values
// do not).
struct EpilogueKind {
  bool scale_shift = false;
  bool addend = false;
  bool relu = false;
  float relu_alpha = 0.0f;
  DnnlPool pool = DnnlPool::kNone;
  // The user layouts (DnnlConvEpilogue); not steps of the epilogue.
  bool src_nhwc = false, dst_nhwc = false;
  bool any() const {
    return scale_shift || addend || relu || pool != DnnlPool::kNone;
  }
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

// The extra operands of a fused forward: one pointer per p.channel_args, and
// the addend of a sum post-op (Y's plain layout).
struct EpilogueData {
  std::vector<const void*> channel;
  const void* addend = nullptr;
  float* pooled = nullptr;  // with a pool: where its output goes
};

// Runs `p` with one pointer per argument (in p.args order). Argument
// `prearranged` (if any) already has the primitive's layout.
void Execute(const Prepared& p, const std::vector<const void*>& pointers,
             int prearranged = -1, const EpilogueData* epilogue = nullptr) {
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
    const bool addend_here = a.output && p.sum && epilogue != nullptr;
    if (a.output && p.pool != DnnlPool::kNone) {
      // The convolution's values go to a buffer of this thread (in the
      // primitive's layout), the pooled ones to `pooled`.
      memory m(a.prim, e, ThreadBuffer(i, a.prim.get_size()));
      if (addend_here) {
        memory from(a.user, e, const_cast<void*>(epilogue->addend));
        if (a.reordered) {
          p.addend_in.execute(stream,
                              {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, m}});
        } else {
          std::memcpy(m.get_data_handle(), epilogue->addend, a.user.get_size());
        }
      }
      exec_args.emplace(a.id, m);
      continue;
    }
    if (!a.reordered) {
      if (addend_here && pointers[i] != epilogue->addend) {
        std::memcpy(const_cast<void*>(pointers[i]), epilogue->addend,
                    a.user.get_size());
      }
      exec_args.emplace(a.id, user[i]);
      continue;
    }
    memory m(a.prim, e, ThreadBuffer(i, a.prim.get_size()));
    if (!a.output) {
      a.reorder.execute(stream, {{DNNL_ARG_FROM, user[i]}, {DNNL_ARG_TO, m}});
    } else if (addend_here) {
      memory from(a.user, e, const_cast<void*>(epilogue->addend));
      p.addend_in.execute(stream, {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, m}});
    }
    exec_args.emplace(a.id, m);
  }
  if (epilogue != nullptr) {
    for (size_t k = 0; k < p.channel_args.size(); ++k) {
      exec_args.emplace(p.channel_args[k].first,
                        memory(p.channel_args[k].second, e,
                               const_cast<void*>(epilogue->channel[k])));
    }
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
    if (a.output && p.pool != DnnlPool::kNone) {
      const memory& v = exec_args.at(a.id);
      const float* values = static_cast<const float*>(v.get_data_handle());
      bool nhwc = p.dst_layout == Prepared::DstLayout::kNhwc;
      if (p.dst_layout == Prepared::DstLayout::kOther) {
        memory plain(p.nchw_dst, e,
                     ThreadBuffer(p.args.size() + 1, p.nchw_dst.get_size()));
        p.dst_to_nchw.execute(stream,
                              {{DNNL_ARG_FROM, v}, {DNNL_ARG_TO, plain}});
        stream.wait();
        values = static_cast<const float*>(plain.get_data_handle());
        nhwc = false;
      } else {
        stream.wait();
      }
      const memory::dims d = a.user.dims();
      PoolConvOutput(values, nhwc, d[0], d[1], d[2], d[3], p.pool,
                     p.pooled_nhwc, p.args.size() + 2, epilogue->pooled);
      continue;
    }
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

// 1 x C x 1 ...: a per-channel operand of a binary post-op.
memory::desc ChannelDesc(const Geometry& r) {
  Dims d(r.dst.size(), 1);
  d[1] = r.dst[1];
  return Plain(d, r.dst.size() == 5 ? Tag::abcde : Tag::abcd);
}

// The post-ops of DnnlConvEpilogue, in its order.
dnnl::primitive_attr EpilogueAttr(const Geometry& r, const EpilogueKind& k) {
  dnnl::primitive_attr attr = UserScratchpad();
  dnnl::post_ops po;
  if (k.scale_shift) {
    po.append_binary(dnnl::algorithm::binary_mul, ChannelDesc(r));
    po.append_binary(dnnl::algorithm::binary_add, ChannelDesc(r));
  }
  if (k.addend) po.append_sum(1.0f);
  if (k.relu) {
    po.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, k.relu_alpha, 0.0f);
  }
  attr.set_post_ops(po);
  return attr;
}

dnnl::convolution_forward::primitive_desc ForwardDesc(
    const Geometry& r, bool bias, dnnl::prop_kind kind,
    const dnnl::primitive_attr& attr = UserScratchpad()) {
  using Fwd = dnnl::convolution_forward;
  const auto algo = dnnl::algorithm::convolution_direct;
  Fwd::desc d =
      bias ? Fwd::desc(kind, algo, Any(r.src), Any(r.weights),
                       Plain(r.bias, Tag::a), Any(r.dst), r.strides, r.dilates,
                       r.pad_l, r.pad_r)
           : Fwd::desc(kind, algo, Any(r.src), Any(r.weights), Any(r.dst),
                       r.strides, r.dilates, r.pad_l, r.pad_r);
  return Fwd::primitive_desc(d, attr, CpuDnnlEngine());
}

constexpr int64_t kChunkBytes = int64_t{1} << 20;
constexpr int64_t kSpinningChunkBytes = int64_t{8} << 20;
constexpr int64_t kSleepingChunkBytes = int64_t{64} << 20;
constexpr size_t kWeightsSlot = 7;  // ThreadBuffer slot past every argument's

enum Kind : int64_t { kForward = 1, kBackwardData = 2, kBackwardWeights = 3 };

std::unique_ptr<Prepared> Create(Kind kind, const DnnlConvShape& s, bool bias,
                                 const EpilogueKind& epilogue) {
  const Geometry r = MakeGeometry(s);
  auto p = std::make_unique<Prepared>();
  // The user layouts: plain, or NHWC where the caller asks (forward only).
  const memory::desc src =
      Plain(r.src, epilogue.src_nhwc ? Tag::acdb : r.act_tag);
  const memory::desc dst =
      Plain(r.dst, epilogue.dst_nhwc ? Tag::acdb : r.act_tag);
  const memory::desc nchw_dst = Plain(r.dst, r.act_tag);
  const memory::desc wei = Plain(r.weights, r.weights_tag);
  const memory::desc b = Plain(r.bias, Tag::a);
  if (kind == kForward) {
    const auto inference = dnnl::prop_kind::forward_inference;
    auto pd = ForwardDesc(r, bias, inference, EpilogueAttr(r, epilogue));
    if (epilogue.pool != DnnlPool::kNone) {
      // Where the pooling reads the values (2-D only: the caller checks).
      p->pool = epilogue.pool;
      p->pooled_nhwc = epilogue.dst_nhwc;
      if (pd.dst_desc() == nchw_dst) {
        p->dst_layout = Prepared::DstLayout::kNchw;
      } else if (r.dst.size() == 4 &&
                 pd.dst_desc() == Plain(r.dst, Tag::acdb)) {
        p->dst_layout = Prepared::DstLayout::kNhwc;
      } else {
        dnnl::engine& e = CpuDnnlEngine();
        p->nchw_dst = nchw_dst;
        p->dst_to_nchw = dnnl::reorder(
            dnnl::reorder::primitive_desc(e, pd.dst_desc(), e, nchw_dst));
      }
    }
    if (epilogue.any()) {
      // The sums are the plain primitive's only if the implementation and
      // the layouts are (the post-ops then act on its accumulators).
      const auto plain = ForwardDesc(r, bias, inference);
      p->matches_plain = pd.impl_info_str() == plain.impl_info_str() &&
                         pd.src_desc() == plain.src_desc() &&
                         pd.weights_desc() == plain.weights_desc() &&
                         pd.dst_desc() == plain.dst_desc();
      if (!p->matches_plain) return p;
      if (epilogue.scale_shift) {
        for (int k = 0; k < 2; ++k) {
          p->channel_args.emplace_back(
              DNNL_ARG_ATTR_MULTIPLE_POST_OP(k) | DNNL_ARG_SRC_1,
              ChannelDesc(r));
        }
      }
      if (epilogue.addend) {
        p->sum = true;
        if (!(dst == pd.dst_desc())) {
          dnnl::engine& e = CpuDnnlEngine();
          p->addend_in = dnnl::reorder(
              dnnl::reorder::primitive_desc(e, dst, e, pd.dst_desc()));
        }
      }
    }
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
const Prepared& Get(Kind kind, const DnnlConvShape& s, bool bias,
                    const EpilogueKind& epilogue = EpilogueKind()) {
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
  if (epilogue.any()) {
    int32_t alpha_bits = 0;
    std::memcpy(&alpha_bits, &epilogue.relu_alpha, sizeof(alpha_bits));
    key.insert(key.end(), {epilogue.scale_shift, epilogue.addend, epilogue.relu,
                           alpha_bits, static_cast<int64_t>(epilogue.pool)});
  }
  if (epilogue.src_nhwc || epilogue.dst_nhwc) {
    key.insert(key.end(), {-1, epilogue.src_nhwc, epilogue.dst_nhwc});
  }
  absl::MutexLock lock(&mu);
  std::unique_ptr<Prepared>& slot = (*cache)[key];
  if (slot == nullptr) slot = Create(kind, s, bias, epilogue);
  return *slot;
}

// Images per forward call. At one thread: src and dst of one call and their
// reordered copies stay within about kChunkBytes (near L2): 5% faster on
// resnet_small and bn_cnn at batch 256 than one call per batch. With more
// threads each call is an OpenMP region. Sleeping workers (WorkersSleep) pay
// a wake-up per region: one call per batch (kSleepingChunkBytes) ran
// resnet_small 2.0x, bn_cnn 1.8x, lenet5 1.6x faster than 1 MB chunks. Spinning
// ones take kSpinningChunkBytes, whose output the fused pool reads from cache
// (2 threads, 7 Dec 2026, samples/s vs one call per batch: wide_10m 6,901 ->
// 7,798, bn_cnn 14,869 -> 16,222, lenet5 and resnet_small within noise).
// The chunk changes no value: chunked and whole-batch runs gave byte-identical
// outputs on every bundled model (eval --dump-outputs, 7 Dec 2026).
int64_t ForwardChunk(const DnnlConvShape& s) {
  const WindowGeometry& g = s.geom;
  const int64_t per_image =
      static_cast<int64_t>(sizeof(float)) * 2 *
      (g.channels * g.InSize() + s.out_channels * g.OutSize());
  const int64_t bytes = omp_get_max_threads() == 1 ? kChunkBytes
                        : WorkersSleep()           ? kSleepingChunkBytes
                                                   : kSpinningChunkBytes;
  return std::clamp<int64_t>(bytes / std::max<int64_t>(1, per_image), 1,
                             std::max<int64_t>(1, g.batch));
}

// Pooled values per image (DnnlPool).
int64_t PooledImage(const DnnlConvShape& s, DnnlPool pool) {
  if (pool == DnnlPool::kGlobalAverage) return s.out_channels;
  return s.out_channels * (s.geom.out[1] / 2) * (s.geom.out[2] / 2);
}

// The forward in chunks of ForwardChunk images (one primitive per chunk
// size), with the epilogue `kind` and its operands (`data`: null without one).
// The caller has checked that the fused primitives match the plain ones.
void RunForward(const DnnlConvShape& s, const float* x, const float* w,
                const float* b, const EpilogueKind& kind,
                const DnnlConvEpilogue& data, float* y) {
  const bool bias = b != nullptr;
  const int64_t chunk = ForwardChunk(s);
  EpilogueData extra;
  if (kind.scale_shift) extra.channel = {data.scale, data.shift};
  const EpilogueData* epilogue = kind.any() ? &extra : nullptr;
  auto pointers = [&](const float* xn, const void* wn, float* yn) {
    return bias ? std::vector<const void*>{xn, wn, b, yn}
                : std::vector<const void*>{xn, wn, yn};
  };
  WorkerDenormalScope denormals;
  if (chunk >= s.geom.batch) {
    extra.addend = data.addend;
    extra.pooled = y;
    Execute(Get(kForward, s, bias, kind), pointers(x, w, y), -1, epilogue);
    return;
  }
  DnnlConvShape part = s;
  part.geom.batch = chunk;
  const Prepared& full = Get(kForward, part, bias, kind);
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
      p = &Get(kForward, part, bias, kind);
    }
    const float* xn = x + n0 * g.channels * g.InSize();
    const int64_t y_offset = n0 * s.out_channels * g.OutSize();
    if (data.addend != nullptr) extra.addend = data.addend + y_offset;
    if (kind.pool != DnnlPool::kNone)
      extra.pooled = y + n0 * PooledImage(s, kind.pool);
    const bool ready = wa.reordered && p->args[1].prim == wa.prim;
    // With a pool, Y holds pooled values: the destination is a buffer.
    float* yn = kind.pool != DnnlPool::kNone ? extra.pooled : y + y_offset;
    Execute(*p, pointers(xn, ready ? wp : w, yn), ready ? 1 : -1, epilogue);
  }
}

EpilogueKind KindOf(const DnnlConvEpilogue& e) {
  EpilogueKind k;
  k.scale_shift = e.scale != nullptr;
  k.addend = e.addend != nullptr;
  k.relu = e.relu;
  k.relu_alpha = e.relu ? e.relu_alpha : 0.0f;
  k.pool = e.pool;
  k.src_nhwc = e.src_nhwc;
  k.dst_nhwc = e.dst_nhwc;
  return k;
}

// Whether every primitive RunForward would use for `kind` matches the plain
// one (the full-batch one, or the chunk and the remainder).
bool FusedMatchesPlain(const DnnlConvShape& s, bool bias,
                       const EpilogueKind& kind) {
  const int64_t chunk = ForwardChunk(s);
  DnnlConvShape part = s;
  part.geom.batch = std::min(chunk, s.geom.batch);
  if (!Get(kForward, part, bias, kind).matches_plain) return false;
  const int64_t rest = s.geom.batch % chunk;
  if (chunk >= s.geom.batch || rest == 0) return true;
  part.geom.batch = rest;
  return Get(kForward, part, bias, kind).matches_plain;
}

}  // namespace

absl::Status DnnlConvForward(const DnnlConvShape& s, const float* x,
                             const float* w, const float* b, float* y) {
  try {
    RunForward(s, x, w, b, EpilogueKind(), DnnlConvEpilogue(), y);
  } catch (const dnnl::error& e) {
    return FromDnnl(e, "convolution forward");
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> DnnlConvForwardFused(const DnnlConvShape& s,
                                          const float* x, const float* w,
                                          const float* b,
                                          const DnnlConvEpilogue& epilogue,
                                          float* y) {
  try {
    const EpilogueKind kind = KindOf(epilogue);
    if (!FusedMatchesPlain(s, b != nullptr, kind)) return false;
    RunForward(s, x, w, b, kind, epilogue, y);
  } catch (const dnnl::error& e) {
    return FromDnnl(e, "fused convolution forward");
  }
  return true;
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
