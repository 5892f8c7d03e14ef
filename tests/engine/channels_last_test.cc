// Channels-last hand-over between the CPU engine's Conv chains
// (ops/cpu/conv_fused.h ChainLayouts; executor.h's native layout): a chain
// whose output only other chains read leaves it N x H x W x C, and the next
// chain's Conv reads it (or its Add adds it) without a reorder. The outputs
// must equal, bit for bit, the unfused steps (RunAndKeep runs every step alone,
// all plain), at 1 and 2 threads, on a batch that the oneDNN forward splits
// into chunks with a remainder; agree with the reference kernels within
// float32 reassociation; and every chain of the graph below must actually
// have run channels-last (a hand-over that silently never happens would pass
// any comparison). The graph has each case once: a chain output read by a
// chain's Conv and by another chain's Add; a lone Conv (a projection) in and
// out channels-last; a 2 x 2 MaxPool written channels-last; a chain output
// also read by a plain op (so it stays plain); a plain addend under a
// channels-last output (converted first); and a chain output that is a graph
// output (plain when returned).
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "onnx_crypt/engine/cpu_engine.h"
#include "onnx_crypt/ops/cpu/conv_fused.h"
#include "onnx_crypt/ops/cpu/fast_kernels.h"
#include "tests/support/graphs.h"
#include "tests/support/op_check.h"

namespace onnx_crypt::testing {
namespace {

using cpu::ChannelsLastChainCount;
using cpu::FastKernelsAvailable;
using cpu::FusedConvChainCount;
using cpu::SetFastKernelsEnabled;

Node Conv(const std::string& x, const std::string& w, const std::string& y,
          int64_t stride = 1, const std::string& b = "") {
  std::vector<std::string> in = {x, w};
  if (!b.empty()) in.push_back(b);
  Node n = Op("Conv", in, {y});
  SetAttr(n, "pads", std::vector<int64_t>{1, 1, 1, 1});
  SetAttr(n, "strides", std::vector<int64_t>{stride, stride});
  return n;
}

// x[N, 16, 16, 16]:
//   A: a  = Relu(Conv(x) + b)                 (read by B's Conv, C's Add)
//   B: bb = Relu(BN(Conv(a)))
//   C: c  = Relu(Conv(bb) + a)                (read by P and D's Conv)
//   P: p  = Conv1x1(c, stride 2), 16 -> 32    (a lone Conv; D's addend)
//   D: d  = MaxPool2x2(Relu(BN(Conv(c, stride 2)) + p))  32 x 4 x 4
//   E: e  = LeakyRelu(Conv(d))                (also read by Sigmoid: plain)
//      g  = Sigmoid(e)
//   F: f  = Relu(Conv(e) + g)                 (plain addend, output for G)
//   G: h  = GlobalAveragePool(Relu(Conv(f)))
// -> Flatten -> Gemm -> logits; with `c_output`, c is a graph output too.
Graph HandOverGraph(bool c_output) {
  Graph g;
  g.opsets[""] = 13;
  auto init = [&g](const std::string& name, const Shape& shape, uint64_t seed,
                   double lo, double hi) {
    g.initializers[name] = RandomFloat(shape, seed, lo, hi);
    g.initializer_order.push_back(name);
  };
  init("wa", {16, 16, 3, 3}, 1, -0.2, 0.2);
  init("ba", {16}, 2, -0.5, 0.5);
  init("wb", {16, 16, 3, 3}, 3, -0.2, 0.2);
  init("wc", {16, 16, 3, 3}, 4, -0.2, 0.2);
  init("wp", {32, 16, 1, 1}, 5, -0.4, 0.4);
  init("wd", {32, 16, 3, 3}, 6, -0.2, 0.2);
  init("we", {32, 32, 3, 3}, 7, -0.15, 0.15);
  init("wf", {32, 32, 3, 3}, 8, -0.15, 0.15);
  init("wg", {32, 32, 3, 3}, 9, -0.15, 0.15);
  for (const char* bn : {"b1", "d1"}) {
    const int64_t c = bn[0] == 'b' ? 16 : 32;
    const std::string p = bn;
    init(p + "_scale", {c}, 10, 0.5, 1.5);
    init(p + "_shift", {c}, 11, -0.5, 0.5);
    init(p + "_mean", {c}, 12, -0.5, 0.5);
    init(p + "_var", {c}, 13, 0.2, 2.0);
  }
  init("fc_w", {10, 32}, 14, -1.0, 1.0);
  init("fc_b", {10}, 15, -1.0, 1.0);
  ValueInfo x;
  x.name = "x";
  x.dtype = DType::kFloat32;
  g.inputs.push_back(x);
  auto bn = [](const std::string& v, const std::string& p,
               const std::string& y) {
    return Op("BatchNormalization",
              {v, p + "_scale", p + "_shift", p + "_mean", p + "_var"}, {y});
  };
  std::vector<Node>& n = g.nodes;
  n.push_back(Conv("x", "wa", "ca", 1, "ba"));
  n.push_back(Op("Relu", {"ca"}, {"a"}));
  n.push_back(Conv("a", "wb", "cb"));
  n.push_back(bn("cb", "b1", "nb"));
  n.push_back(Op("Relu", {"nb"}, {"bb"}));
  n.push_back(Conv("bb", "wc", "cc"));
  n.push_back(Op("Add", {"cc", "a"}, {"sc"}));
  n.push_back(Op("Relu", {"sc"}, {"c"}));
  Node proj = Op("Conv", {"c", "wp"}, {"p"});
  SetAttr(proj, "strides", std::vector<int64_t>{2, 2});
  n.push_back(proj);
  n.push_back(Conv("c", "wd", "cd", 2));
  n.push_back(bn("cd", "d1", "nd"));
  n.push_back(Op("Add", {"p", "nd"}, {"sd"}));
  n.push_back(Op("Relu", {"sd"}, {"rd"}));
  Node pool = Op("MaxPool", {"rd"}, {"d"});
  SetAttr(pool, "kernel_shape", std::vector<int64_t>{2, 2});
  SetAttr(pool, "strides", std::vector<int64_t>{2, 2});
  n.push_back(pool);
  n.push_back(Conv("d", "we", "ce"));
  Node leaky = Op("LeakyRelu", {"ce"}, {"e"});
  SetAttr(leaky, "alpha", 0.1f);
  n.push_back(leaky);
  n.push_back(Op("Sigmoid", {"e"}, {"gs"}));
  n.push_back(Conv("e", "wf", "cf"));
  n.push_back(Op("Add", {"cf", "gs"}, {"sf"}));
  n.push_back(Op("Relu", {"sf"}, {"f"}));
  n.push_back(Conv("f", "wg", "cg"));
  n.push_back(Op("Relu", {"cg"}, {"rg"}));
  n.push_back(Op("GlobalAveragePool", {"rg"}, {"h"}));
  n.push_back(Op("Flatten", {"h"}, {"flat"}));
  AddLogitsGemm(g, {"flat", "fc_w", "fc_b"});
  if (c_output) {
    ValueInfo c;
    c.name = "c";
    g.outputs.push_back(c);
  }
  return g;
}

void Check(int threads, int64_t batch, bool c_output) {
  if (!FastKernelsAvailable()) GTEST_SKIP() << "oneDNN is not built in";
  SCOPED_TRACE(::testing::Message() << "threads " << threads << ", batch "
                                    << batch << ", c_output " << c_output);
  absl::StatusOr<std::unique_ptr<CpuEngine>> engine =
      CpuEngine::Create(HandOverGraph(c_output), threads);
  ASSERT_TRUE(engine.ok()) << engine.status();
  SetFastKernelsEnabled(true);
  const Feeds feeds = {{"x", RandomFloat({batch, 16, 16, 16}, 20)}};
  const int64_t fused_before = FusedConvChainCount();
  const int64_t last_before = ChannelsLastChainCount();
  absl::StatusOr<std::vector<Tensor>> run = (*engine)->Run(feeds);
  ASSERT_TRUE(run.ok()) << run.status();
  // Seven chains of two or more steps; all eight (with P) touch a
  // channels-last tensor, as reader or writer.
  EXPECT_EQ(FusedConvChainCount(), fused_before + 7);
  EXPECT_EQ(ChannelsLastChainCount(), last_before + 8);
  absl::StatusOr<std::vector<Tensor>> kept = (*engine)->RunAndKeep(feeds);
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(ChannelsLastChainCount(), last_before + 8) << "RunAndKeep chained";
  SetFastKernelsEnabled(false);
  absl::StatusOr<std::vector<Tensor>> ref = (*engine)->Run(feeds);
  SetFastKernelsEnabled(true);
  ASSERT_TRUE(ref.ok()) << ref.status();
  ASSERT_EQ(run->size(), c_output ? 2u : 1u);
  for (size_t k = 0; k < run->size(); ++k) {
    SCOPED_TRACE(::testing::Message() << "output " << k);
    EXPECT_TRUE(BitEqual((*run)[k], (*kept)[k]));
    EXPECT_LT(MaxAbsDiff((*run)[k], (*ref)[k]), 1e-3);
  }
  // An edit after the primitives were cached shows in the next run.
  ASSERT_TRUE((*engine)
                  ->SetInitializerValues("wc", {5},
                                         Tensor::FromVector<float>({1}, {3.0f}))
                  .ok());
  absl::StatusOr<std::vector<Tensor>> edited = (*engine)->Run(feeds);
  absl::StatusOr<std::vector<Tensor>> edited_kept =
      (*engine)->RunAndKeep(feeds);
  ASSERT_TRUE(edited.ok() && edited_kept.ok());
  EXPECT_FALSE(BitEqual((*edited)[0], (*run)[0])) << "the edit was not seen";
  EXPECT_TRUE(BitEqual((*edited)[0], (*edited_kept)[0]));
}

TEST(ChannelsLastTest, HandOverBetweenChains) {
  for (int threads : {1, 2}) Check(threads, 37, /*c_output=*/false);
  Check(1, 3, false);  // one oneDNN call per Conv, no chunks
}

// c is a graph output as well as read by chains: it stays plain (and the
// output equals the unfused one); the other hand-overs are unchanged.
TEST(ChannelsLastTest, GraphOutputStaysPlain) { Check(1, 37, true); }

}  // namespace
}  // namespace onnx_crypt::testing
