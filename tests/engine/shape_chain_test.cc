// The CPU engine on the shape arithmetic exported models carry (Shape ->
// Gather -> Concat -> Expand, Range, Slice/Split/Tile/GatherElements/Einsum on
// the data path): int64 shape values stay exact, and whole-graph gradients
// through these ops match central finite differences of the engine's own loss.
#include <cmath>

#include "gtest/gtest.h"
#include "onnx_crypt/engine/cpu_engine.h"
#include "onnx_crypt/ops/registry.h"
#include "tests/support/graphs.h"
#include "tests/support/op_check.h"

namespace onnx_crypt {
namespace {

using testing::Int64Tensor;
using testing::RandomTensor;

Node N(const std::string& op, std::vector<std::string> in,
       std::vector<std::string> out) {
  return testing::Op(op, std::move(in), std::move(out));
}

// x[4,6] -> MatMul W1[6,5] = h; the bias b1[1,5] expanded to Shape(h)[0] x 5
// through Shape/Gather/Concat; Tile [1,2] -> Slice columns 1..8 step 2 ->
// Split into halves, swapped by Concat -> GatherElements with indices from
// Range -> Einsum "bi,ij->bj" with W2[4,3] = logits[4,3].
Graph MakeGraph() {
  Graph g;
  g.opsets[""] = 13;
  auto init = [&g](const std::string& name, Tensor t) {
    g.initializers[name] = std::move(t);
    g.initializer_order.push_back(name);
  };
  init("W1", RandomTensor({6, 5}, 31));
  init("b1", RandomTensor({1, 5}, 32));
  init("W2", RandomTensor({4, 3}, 33));
  init("zero", Int64Tensor({1}, {0}));
  init("five", Int64Tensor({1}, {5}));
  init("reps", Int64Tensor({2}, {1, 2}));
  init("starts", Int64Tensor({1}, {1}));
  init("ends", Int64Tensor({1}, {9}));
  init("axis1", Int64Tensor({1}, {1}));
  init("step2", Int64Tensor({1}, {2}));
  init("r0", Tensor::Scalar<int64_t>(3));
  init("r1", Tensor::Scalar<int64_t>(-1));
  init("rstep", Tensor::Scalar<int64_t>(-1));
  ValueInfo x;
  x.name = "x";
  x.dtype = DType::kFloat64;
  g.inputs.push_back(x);
  g.nodes.push_back(N("MatMul", {"x", "W1"}, {"h"}));
  g.nodes.push_back(N("Shape", {"h"}, {"hs"}));
  g.nodes.push_back(N("Gather", {"hs", "zero"}, {"rows"}));
  Node cat = N("Concat", {"rows", "five"}, {"eshape"});
  testing::SetAttr(cat, "axis", int64_t{0});
  g.nodes.push_back(cat);
  g.nodes.push_back(N("Expand", {"b1", "eshape"}, {"bias"}));
  g.nodes.push_back(N("Add", {"h", "bias"}, {"t"}));
  g.nodes.push_back(N("Tile", {"t", "reps"}, {"tt"}));
  g.nodes.push_back(
      N("Slice", {"tt", "starts", "ends", "axis1", "step2"}, {"sl"}));
  Node split = N("Split", {"sl"}, {"p0", "p1"});
  testing::SetAttr(split, "axis", int64_t{1});
  g.nodes.push_back(split);
  Node swap = N("Concat", {"p1", "p0"}, {"sw"});
  testing::SetAttr(swap, "axis", int64_t{1});
  g.nodes.push_back(swap);
  // Range(3, -1, -1) = [3, 2, 1, 0]: every row reads its columns reversed.
  g.nodes.push_back(N("Range", {"r0", "r1", "rstep"}, {"cols"}));
  g.nodes.push_back(N("Unsqueeze", {"cols", "zero"}, {"cols2"}));
  g.nodes.push_back(N("Shape", {"sw"}, {"sws"}));
  g.nodes.push_back(N("Expand", {"cols2", "sws"}, {"idx"}));
  Node ge = N("GatherElements", {"sw", "idx"}, {"ge"});
  testing::SetAttr(ge, "axis", int64_t{1});
  g.nodes.push_back(ge);
  Node ein = N("Einsum", {"ge", "W2"}, {"logits"});
  testing::SetAttr(ein, "equation", std::string("bi,ij->bj"));
  g.nodes.push_back(ein);
  ValueInfo out;
  out.name = "logits";
  g.outputs.push_back(out);
  return g;
}

TEST(ShapeChainTest, GradientsThroughShapeArithmeticMatchFiniteDifferences) {
  const std::vector<std::string> params = {"W1", "b1", "W2"};
  absl::StatusOr<std::unique_ptr<CpuEngine>> engine =
      CpuEngine::Create(MakeGraph());
  ASSERT_TRUE(engine.ok()) << engine.status();
  Feeds feeds;
  feeds["x"] = RandomTensor({4, 6}, 34);
  const std::vector<int64_t> labels = {0, 2, 1, 2};
  absl::StatusOr<LossResult> base =
      (*engine)->LossAndGradients(feeds, labels, params);
  ASSERT_TRUE(base.ok()) << base.status();
  ASSERT_EQ(base->output.shape(), (Shape{4, 3}));
  for (const std::string& p : params) {
    const Tensor original = *(*engine)->GetInitializer(p);
    const Tensor& grad = base->grads.at(p);
    ASSERT_EQ(grad.shape(), original.shape()) << p;
    double largest = 0.0;
    for (int64_t i = 0; i < original.numel(); ++i) {
      const double x0 = original.data<double>()[i];
      const double h = 1e-6;
      double loss[2];
      for (int side = 0; side < 2; ++side) {
        Tensor v =
            Tensor::FromVector<double>({1}, {side == 0 ? x0 + h : x0 - h});
        ASSERT_TRUE((*engine)->SetInitializerValues(p, {i}, v).ok());
        loss[side] = (*engine)->LossAndGradients(feeds, labels, {})->loss;
      }
      ASSERT_TRUE((*engine)
                      ->SetInitializerValues(
                          p, {i}, Tensor::FromVector<double>({1}, {x0}))
                      .ok());
      const double numeric = (loss[0] - loss[1]) / (2 * h);
      largest = std::max(largest, std::abs(numeric));
      EXPECT_NEAR(grad.data<double>()[i], numeric,
                  1e-7 + 1e-5 * std::abs(numeric))
          << p << "[" << i << "]";
    }
    // Every parameter reaches the loss (the chain is not cut anywhere).
    EXPECT_GT(largest, 1e-6) << p;
  }
}

// Range, Slice and Expand on int64 values beyond 2^53 (where a detour
// through double would round): the results equal the int64 arithmetic.
TEST(ShapeChainTest, Int64ValuesStayExact) {
  const int64_t big = (int64_t{1} << 60) + 1;
  Graph g;
  g.opsets[""] = 13;
  g.initializers["a"] = Tensor::Scalar<int64_t>(big);
  g.initializers["b"] = Tensor::Scalar<int64_t>(big + 20);
  g.initializers["d"] = Tensor::Scalar<int64_t>(3);
  g.initializers["st"] = Int64Tensor({1}, {-1});
  g.initializers["en"] = Int64Tensor({1}, {INT64_MIN});
  g.initializers["ax"] = Int64Tensor({1}, {0});
  g.initializers["sp"] = Int64Tensor({1}, {-2});
  g.initializers["shape"] = Int64Tensor({2}, {2, 1});
  g.initializer_order = {"a", "b", "d", "st", "en", "ax", "sp", "shape"};
  g.nodes.push_back(N("Range", {"a", "b", "d"}, {"r"}));
  g.nodes.push_back(N("Slice", {"r", "st", "en", "ax", "sp"}, {"s"}));
  g.nodes.push_back(N("Expand", {"s", "shape"}, {"e"}));
  ValueInfo out;
  out.name = "e";
  g.outputs.push_back(out);
  absl::StatusOr<std::unique_ptr<CpuEngine>> engine =
      CpuEngine::Create(std::move(g));
  ASSERT_TRUE(engine.ok()) << engine.status();
  absl::StatusOr<std::vector<Tensor>> outs = (*engine)->Run({});
  ASSERT_TRUE(outs.ok()) << outs.status();
  const Tensor& e = (*outs)[0];
  // Range gives big + 3k for k < ceil(20 / 3) = 7; Slice takes k = 6, 4, 2, 0.
  ASSERT_EQ(e.dtype(), DType::kInt64);
  ASSERT_EQ(e.shape(), (Shape{2, 4}));
  for (int64_t row = 0; row < 2; ++row) {
    for (int64_t j = 0; j < 4; ++j) {
      EXPECT_EQ(e.data<int64_t>()[row * 4 + j], big + 3 * (6 - 2 * j))
          << row << "," << j;
    }
  }
}

}  // namespace
}  // namespace onnx_crypt
