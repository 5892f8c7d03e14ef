// Whole-graph gradients of the CPU engine against central finite differences of
// its own loss (float64 graphs), on graphs with fan-out (a residual Add),
// broadcasting and a Softmax ending.
#include "onnx_crypt/engine/cpu_engine.h"

#include <cmath>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/graphs.h"
#include "tests/support/op_check.h"

namespace onnx_crypt {
namespace {

using testing::RandomTensor;

Node N(const std::string& op, std::vector<std::string> in,
       std::vector<std::string> out) {
  return testing::Op(op, std::move(in), std::move(out));
}

// x[4,6] -> MatMul W1[6,5] -> Add b1[5] -> Tanh = h -> Add(h, MatMul(h,
// W2[5,5])) = r
//        -> Gemm(r, W3[3,5]^T, c3[3]) = logits [-> Softmax = probs]
Graph MakeGraph(bool softmax) {
  Graph g;
  g.opsets[""] = 13;
  g.initializers["W1"] = RandomTensor({6, 5}, 11);
  g.initializers["b1"] = RandomTensor({5}, 12);
  g.initializers["W2"] = RandomTensor({5, 5}, 13, -0.5, 0.5);
  g.initializers["W3"] = RandomTensor({3, 5}, 14);
  g.initializers["c3"] = RandomTensor({3}, 15);
  g.initializer_order = {"W1", "b1", "W2", "W3", "c3"};
  ValueInfo x;
  x.name = "x";
  x.dtype = DType::kFloat64;
  g.inputs.push_back(x);
  g.nodes.push_back(N("MatMul", {"x", "W1"}, {"m1"}));
  g.nodes.push_back(N("Add", {"m1", "b1"}, {"a1"}));
  g.nodes.push_back(N("Tanh", {"a1"}, {"h"}));
  g.nodes.push_back(N("MatMul", {"h", "W2"}, {"m2"}));
  g.nodes.push_back(N("Add", {"h", "m2"}, {"r"}));
  Node gemm = N("Gemm", {"r", "W3", "c3"}, {"logits"});
  testing::SetAttr(gemm, "transB", int64_t{1});
  g.nodes.push_back(gemm);
  ValueInfo out;
  out.name = "logits";
  if (softmax) {
    Node sm = N("Softmax", {"logits"}, {"probs"});
    g.nodes.push_back(sm);
    out.name = "probs";
  }
  g.outputs.push_back(out);
  return g;
}

// Every gradient of `params` against central finite differences of the
// engine's own loss (float64 graphs).
void ExpectFiniteDifferenceGradients(CpuEngine& engine, const Feeds& feeds,
                                     const std::vector<int64_t>& labels,
                                     const std::vector<std::string>& params) {
  absl::StatusOr<LossResult> base =
      engine.LossAndGradients(feeds, labels, params);
  ASSERT_TRUE(base.ok()) << base.status();
  for (const std::string& p : params) {
    const Tensor original = *engine.GetInitializer(p);
    const Tensor& grad = base->grads.at(p);
    ASSERT_EQ(grad.shape(), original.shape()) << p;
    for (int64_t i = 0; i < original.numel(); ++i) {
      const double x0 = original.data<double>()[i];
      const double h = 1e-6;
      double loss[2];
      for (int side = 0; side < 2; ++side) {
        Tensor v =
            Tensor::FromVector<double>({1}, {side == 0 ? x0 + h : x0 - h});
        ASSERT_TRUE(engine.SetInitializerValues(p, {i}, v).ok());
        loss[side] = engine.LossAndGradients(feeds, labels, {})->loss;
      }
      ASSERT_TRUE(engine
                      .SetInitializerValues(
                          p, {i}, Tensor::FromVector<double>({1}, {x0}))
                      .ok());
      const double numeric = (loss[0] - loss[1]) / (2 * h);
      EXPECT_NEAR(grad.data<double>()[i], numeric,
                  1e-7 + 1e-5 * std::abs(numeric))
          << p << "[" << i << "]";
    }
  }
}

void CheckGraph(bool softmax) {
  const std::vector<std::string> params = {"W1", "b1", "W2", "W3", "c3"};
  absl::StatusOr<std::unique_ptr<CpuEngine>> engine =
      CpuEngine::Create(MakeGraph(softmax));
  ASSERT_TRUE(engine.ok()) << engine.status();
  EXPECT_EQ(DetectOutputKind((*engine)->graph()),
            softmax ? OutputKind::kProbabilities : OutputKind::kLogits);
  Feeds feeds;
  feeds["x"] = RandomTensor({4, 6}, 21);
  ExpectFiniteDifferenceGradients(**engine, feeds, {0, 2, 1, 2}, params);
}

// A variadic op with more inputs than the 32 bits of OpDef's differentiable
// mask: x[4,1] and 39 initializers c0..c38 [4,1] -> Concat(axis 1) [4,40] ->
// Gemm(W[3,40]^T) = logits. The gradient reaches c38, Concat's input 39
// (before IsDifferentiable, the mask was shifted by 39: undefined behaviour,
// which the sanitized build reports).
TEST(CpuEngineTest, GradientsReachEveryInputOfAWideConcat) {
  Graph g;
  g.opsets[""] = 13;
  std::vector<std::string> cat_inputs = {"x"};
  std::vector<std::string> params;
  for (int k = 0; k < 39; ++k) {
    const std::string name = "c" + std::to_string(k);
    g.initializers[name] = RandomTensor({4, 1}, 100 + k);
    g.initializer_order.push_back(name);
    cat_inputs.push_back(name);
  }
  g.initializers["W"] = RandomTensor({3, 40}, 99);
  g.initializer_order.push_back("W");
  ValueInfo x;
  x.name = "x";
  x.dtype = DType::kFloat64;
  g.inputs.push_back(x);
  Node cat = N("Concat", cat_inputs, {"cat"});
  testing::SetAttr(cat, "axis", int64_t{1});
  g.nodes.push_back(cat);
  testing::AddLogitsGemm(g, {"cat", "W"});
  absl::StatusOr<std::unique_ptr<CpuEngine>> engine =
      CpuEngine::Create(std::move(g));
  ASSERT_TRUE(engine.ok()) << engine.status();
  Feeds feeds;
  feeds["x"] = RandomTensor({4, 1}, 21);
  const std::vector<int64_t> labels = {0, 2, 1, 2};
  absl::StatusOr<LossResult> r =
      (*engine)->LossAndGradients(feeds, labels, {"c38"});
  ASSERT_TRUE(r.ok()) << r.status();
  double sum = 0;
  for (int64_t i = 0; i < 4; ++i)
    sum += std::abs(r->grads.at("c38").data<double>()[i]);
  EXPECT_GT(sum, 0.0) << "no gradient reached Concat's input 39";
  ExpectFiniteDifferenceGradients(**engine, feeds, labels,
                                  {"c0", "c31", "c38"});
}

TEST(CpuEngineTest, GradientsMatchFiniteDifferencesOnLogits) {
  CheckGraph(false);
}
TEST(CpuEngineTest, GradientsMatchFiniteDifferencesThroughSoftmax) {
  CheckGraph(true);
}

TEST(CpuEngineTest, RunMatchesLossPathOutput) {
  absl::StatusOr<std::unique_ptr<CpuEngine>> engine =
      CpuEngine::Create(MakeGraph(false));
  ASSERT_TRUE(engine.ok()) << engine.status();
  Feeds feeds;
  feeds["x"] = RandomTensor({4, 6}, 21);
  absl::StatusOr<std::vector<Tensor>> outs = (*engine)->Run(feeds);
  ASSERT_TRUE(outs.ok()) << outs.status();
  absl::StatusOr<LossResult> lr =
      (*engine)->LossAndGradients(feeds, {0, 1, 2, 0}, {"W1"});
  ASSERT_TRUE(lr.ok());
  ASSERT_EQ((*outs)[0].shape(), (Shape{4, 3}));
  for (int64_t i = 0; i < 12; ++i) {
    EXPECT_EQ((*outs)[0].data<double>()[i], lr->output.data<double>()[i]);
  }
}

TEST(CpuEngineTest, ErrorsNameTheProblem) {
  absl::StatusOr<std::unique_ptr<CpuEngine>> engine =
      CpuEngine::Create(MakeGraph(false));
  ASSERT_TRUE(engine.ok());
  Feeds none;
  absl::StatusOr<std::vector<Tensor>> r = (*engine)->Run(none);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("'x'"), std::string::npos) << r.status();
  EXPECT_FALSE((*engine)
                   ->LossAndGradients({{"x", RandomTensor({4, 6}, 1)}},
                                      {0, 0, 0, 0}, {"nope"})
                   .ok());
  Graph g = MakeGraph(false);
  g.nodes[2].op_type = "NoSuchOp";
  absl::StatusOr<std::unique_ptr<CpuEngine>> bad =
      CpuEngine::Create(std::move(g));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(bad.status().message().find("NoSuchOp-13"), std::string::npos)
      << bad.status();
  EXPECT_NE(bad.status().message().find("h_node"), std::string::npos)
      << bad.status();
}

}  // namespace
}  // namespace onnx_crypt
