// The fused Conv chains of the CPU engine (ops/cpu/conv_fused.h), which Run
// uses where no value is kept: Conv+BatchNormalization+LeakyRelu,
// Conv+Add+Relu (a residual block), Conv+Relu and Conv+BN+Add+Relu, each
// also followed by a 2 x 2 MaxPool or AveragePool or by the GlobalAveragePool
// (even and odd sizes; without a 2 x 2 pool the graph's GlobalAveragePool
// follows the activation and ends the chain). Their
// outputs must equal, bit for bit, the unfused steps (RunAndKeep keeps every
// value, so it runs each step alone), at 1 and 2 threads and on batches that
// the oneDNN forward splits into chunks with a remainder; agree with the
// reference kernels (im2col + BLAS, plain loops) within float32
// reassociation; and see an initializer edit made after the fused primitives
// were cached (weights, BN scale, bias).
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

using cpu::FastKernelsAvailable;
using cpu::FusedConvChainCount;
using cpu::SetFastKernelsEnabled;

Node ConvNode(const std::string& x, const std::string& w, const std::string& b,
              const std::string& y) {
  std::vector<std::string> in = {x, w};
  if (!b.empty()) in.push_back(b);
  Node n = Op("Conv", in, {y});
  SetAttr(n, "pads", std::vector<int64_t>{1, 1, 1, 1});
  return n;
}

enum class Chain { kBnLeakyRelu, kResidualRelu, kRelu, kBnResidualRelu };

// x[N, C, size, size] -> Conv(3x3, pad 1, C -> C) -> chain [-> pool 2x2]
// -> GlobalAveragePool -> Flatten -> Gemm -> logits [N, 10]. The residual
// chains add x itself.
Graph ChainGraph(Chain chain, int64_t channels, const std::string& pool = "") {
  Graph g;
  g.opsets[""] = 13;
  const int64_t c = channels;
  g.initializers["w"] = RandomFloat({c, c, 3, 3}, 1, -0.3, 0.3);
  g.initializers["b"] = RandomFloat({c}, 2);
  g.initializers["scale"] = RandomFloat({c}, 3, 0.5, 1.5);
  g.initializers["shift"] = RandomFloat({c}, 4);
  g.initializers["mean"] = RandomFloat({c}, 5);
  g.initializers["var"] = RandomFloat({c}, 6, 0.2, 2.0);
  g.initializers["fc_w"] = RandomFloat({10, c}, 7);
  g.initializers["fc_b"] = RandomFloat({10}, 8);
  g.initializer_order = {"w",    "b",   "scale", "shift",
                         "mean", "var", "fc_w",  "fc_b"};
  ValueInfo x;
  x.name = "x";
  x.dtype = DType::kFloat32;
  g.inputs.push_back(x);
  const bool bn =
      chain == Chain::kBnLeakyRelu || chain == Chain::kBnResidualRelu;
  g.nodes.push_back(ConvNode("x", "w", bn ? "" : "b", "conv"));
  std::string v = "conv";
  if (bn) {
    g.nodes.push_back(
        Op("BatchNormalization", {v, "scale", "shift", "mean", "var"}, {"bn"}));
    v = "bn";
  }
  if (chain == Chain::kResidualRelu || chain == Chain::kBnResidualRelu) {
    // The skip operand first in one, second in the other.
    g.nodes.push_back(chain == Chain::kResidualRelu
                          ? Op("Add", {"x", v}, {"sum"})
                          : Op("Add", {v, "x"}, {"sum"}));
    v = "sum";
  }
  if (chain == Chain::kBnLeakyRelu) {
    Node act = Op("LeakyRelu", {v}, {"act"});
    SetAttr(act, "alpha", 0.1f);
    g.nodes.push_back(act);
  } else {
    g.nodes.push_back(Op("Relu", {v}, {"act"}));
  }
  if (!pool.empty() && pool != "GlobalAveragePool") {
    Node p = Op(pool, {"act"}, {"pooled"});
    SetAttr(p, "kernel_shape", std::vector<int64_t>{2, 2});
    SetAttr(p, "strides", std::vector<int64_t>{2, 2});
    g.nodes.push_back(p);
  }
  // With pool "GlobalAveragePool" this one ends the chain.
  g.nodes.push_back(
      Op("GlobalAveragePool",
         {pool.empty() || pool == "GlobalAveragePool" ? "act" : "pooled"},
         {"pool"}));
  g.nodes.push_back(Op("Flatten", {"pool"}, {"flat"}));
  AddLogitsGemm(g, {"flat", "fc_w", "fc_b"});
  return g;
}

struct Outputs {
  Tensor fused, unfused, reference;
};

// The fused Run, the unfused RunAndKeep and the reference kernels' Run.
Outputs RunAll(CpuEngine& engine, const Feeds& feeds) {
  Outputs o;
  const int64_t before = FusedConvChainCount();
  absl::StatusOr<std::vector<Tensor>> run = engine.Run(feeds);
  EXPECT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(FusedConvChainCount(), before + 1) << "the chain did not fuse";
  absl::StatusOr<std::vector<Tensor>> kept = engine.RunAndKeep(feeds);
  EXPECT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(FusedConvChainCount(), before + 1) << "RunAndKeep fused";
  SetFastKernelsEnabled(false);
  absl::StatusOr<std::vector<Tensor>> ref = engine.Run(feeds);
  SetFastKernelsEnabled(true);
  EXPECT_TRUE(ref.ok()) << ref.status();
  if (run.ok() && kept.ok() && ref.ok()) {
    o = {(*run)[0], (*kept)[0], (*ref)[0]};
  }
  return o;
}

void CheckChain(Chain chain, int threads, int64_t batch,
                const std::string& pool = "", int64_t size = 28) {
  if (!FastKernelsAvailable()) GTEST_SKIP() << "oneDNN is not built in";
  SCOPED_TRACE(::testing::Message()
               << "chain " << static_cast<int>(chain) << ", threads " << threads
               << ", batch " << batch << ", pool '" << pool << "', size "
               << size);
  // 16 channels of 28 x 28: 200 KB of X and Y per image, so the forward runs
  // in chunks of 5 images (conv_dnnl.cc), with a remainder for batch 37.
  absl::StatusOr<std::unique_ptr<CpuEngine>> engine =
      CpuEngine::Create(ChainGraph(chain, 16, pool), threads);
  ASSERT_TRUE(engine.ok()) << engine.status();
  SetFastKernelsEnabled(true);
  const Feeds feeds = {{"x", RandomFloat({batch, 16, size, size}, 9)}};
  Outputs first = RunAll(**engine, feeds);
  ASSERT_TRUE(first.fused.defined());
  EXPECT_TRUE(BitEqual(first.fused, first.unfused));
  EXPECT_LT(MaxAbsDiff(first.fused, first.reference), 1e-4);
  // A second Run reuses the cached primitives: the same bits.
  absl::StatusOr<std::vector<Tensor>> again = (*engine)->Run(feeds);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(BitEqual((*again)[0], first.fused));

  // Edits after caching, as the lock makes them: a weight, the BN scale (or
  // the bias) and one element each; the fused run must see them.
  const float w0 = 2.5f, s0 = -3.0f;
  ASSERT_TRUE(
      (*engine)
          ->SetInitializerValues("w", {7}, Tensor::FromVector<float>({1}, {w0}))
          .ok());
  const bool bn =
      chain == Chain::kBnLeakyRelu || chain == Chain::kBnResidualRelu;
  ASSERT_TRUE((*engine)
                  ->SetInitializerValues(bn ? "scale" : "b", {3},
                                         Tensor::FromVector<float>({1}, {s0}))
                  .ok());
  Outputs edited = RunAll(**engine, feeds);
  ASSERT_TRUE(edited.fused.defined());
  EXPECT_FALSE(BitEqual(edited.fused, first.fused)) << "the edit was not seen";
  EXPECT_TRUE(BitEqual(edited.fused, edited.unfused));
  EXPECT_LT(MaxAbsDiff(edited.fused, edited.reference), 1e-4);
}

TEST(ConvChainTest, BatchNormLeakyRelu) {
  for (int threads : {1, 2}) CheckChain(Chain::kBnLeakyRelu, threads, 37);
}

TEST(ConvChainTest, ResidualRelu) {
  for (int threads : {1, 2}) CheckChain(Chain::kResidualRelu, threads, 37);
}

TEST(ConvChainTest, Relu) {
  for (int threads : {1, 2}) CheckChain(Chain::kRelu, threads, 37);
  CheckChain(Chain::kRelu, 1, 3);  // one call, no chunks
}

TEST(ConvChainTest, BatchNormResidualRelu) {
  for (int threads : {1, 2}) CheckChain(Chain::kBnResidualRelu, threads, 40);
}

TEST(ConvChainTest, ThenMaxPool) {
  for (int threads : {1, 2}) {
    CheckChain(Chain::kRelu, threads, 37, "MaxPool");
    CheckChain(Chain::kResidualRelu, threads, 37, "MaxPool", 27);
  }
}

TEST(ConvChainTest, ThenAveragePool) {
  for (int threads : {1, 2}) {
    CheckChain(Chain::kBnLeakyRelu, threads, 37, "AveragePool");
    CheckChain(Chain::kBnResidualRelu, threads, 37, "AveragePool", 27);
  }
}

TEST(ConvChainTest, ThenGlobalAveragePool) {
  for (int threads : {1, 2}) {
    CheckChain(Chain::kBnLeakyRelu, threads, 37, "GlobalAveragePool");
    CheckChain(Chain::kResidualRelu, threads, 37, "GlobalAveragePool", 27);
  }
}

// An intermediate value that another step reads (here the Conv output is
// also a graph output) must not be fused away.
TEST(ConvChainTest, KeepsValuesReadElsewhere) {
  if (!FastKernelsAvailable()) GTEST_SKIP() << "oneDNN is not built in";
  Graph g = ChainGraph(Chain::kRelu, 16);
  ValueInfo conv;
  conv.name = "conv";
  g.outputs.push_back(conv);
  absl::StatusOr<std::unique_ptr<CpuEngine>> engine =
      CpuEngine::Create(std::move(g), 1);
  ASSERT_TRUE(engine.ok()) << engine.status();
  const int64_t before = FusedConvChainCount();
  absl::StatusOr<std::vector<Tensor>> run =
      (*engine)->Run({{"x", RandomFloat({2, 16, 28, 28}, 9)}});
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(FusedConvChainCount(), before);
  ASSERT_EQ(run->size(), 2u);
  EXPECT_EQ((*run)[1].shape(), (Shape{2, 16, 28, 28}));
}

}  // namespace
}  // namespace onnx_crypt::testing
