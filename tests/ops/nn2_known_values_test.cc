// Known values and cross-checks of the ops-nn kernels (issue #12) where ONNX's
// node tests (libonnx-testdata 1.12, opsets <= 17) do not reach:
//  - Reduce* at opset 18+ (axes as an input, noop_with_empty_axes) against
//    values computed by hand and against the same op at opset 13 (axes as an
//    attribute, which the node tests cover);
//  - reductions over empty groups, int64 data, LogSumExp stability;
//  - the tie rule of ReduceMax/ReduceMin's gradient and of ArgMax/ArgMin;
//  - GroupNormalization 18 (per-group scale) vs 21 (per-channel scale), and
//    its equivalences with InstanceNormalization (G = C) and
//    LayerNormalization (G = 1), plus a value worked out by hand.
#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "onnx_crypt/ops/registry.h"
#include "tests/support/op_check.h"

namespace onnx_crypt::testing {
namespace {

using Ints = std::vector<int64_t>;

std::vector<Tensor> RunOp(const Node& node, const std::vector<Tensor>& inputs) {
  absl::StatusOr<const OpDef*> def = FindOp(node);
  EXPECT_TRUE(def.ok()) << def.status();
  if (!def.ok()) return {};
  TensorRefs refs;
  for (const Tensor& t : inputs) refs.push_back(&t);
  std::vector<Tensor> outs(node.outputs.size());
  std::unique_ptr<OpContext> ctx;
  const absl::Status s = (*def)->forward(node, refs, outs, &ctx);
  EXPECT_TRUE(s.ok()) << s;
  return outs;
}

absl::Status RunStatus(const Node& node, const std::vector<Tensor>& inputs) {
  absl::StatusOr<const OpDef*> def = FindOp(node);
  if (!def.ok()) return def.status();
  TensorRefs refs;
  for (const Tensor& t : inputs) refs.push_back(&t);
  std::vector<Tensor> outs(node.outputs.size());
  std::unique_ptr<OpContext> ctx;
  return (*def)->forward(node, refs, outs, &ctx);
}

// dL/dx for upstream gradient dy.
Tensor Grad(const Node& node, const std::vector<Tensor>& inputs,
            const Tensor& dy) {
  const OpDef* def = *FindOp(node);
  TensorRefs refs;
  for (const Tensor& t : inputs) refs.push_back(&t);
  std::vector<Tensor> outs(node.outputs.size());
  std::unique_ptr<OpContext> ctx;
  EXPECT_TRUE(def->forward(node, refs, outs, &ctx).ok());
  TensorRefs out_refs{&outs[0]}, grad_refs{&dy};
  std::vector<bool> need(inputs.size(), false);
  need[0] = true;
  std::vector<Tensor> grads(inputs.size());
  const absl::Status s =
      def->backward(node, refs, out_refs, grad_refs, ctx.get(), need, grads);
  EXPECT_TRUE(s.ok()) << s;
  return grads[0];
}

Tensor D(const Shape& shape, const std::vector<double>& v) {
  return Tensor::FromVector<double>(shape, v);
}

void ExpectValues(const Tensor& t, const Shape& shape,
                  const std::vector<double>& want, double tol = 1e-12) {
  ASSERT_EQ(t.shape(), shape) << t.DebugString();
  const std::vector<double> got = t.ToDoubleVector();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    if (std::isnan(want[i])) {
      EXPECT_TRUE(std::isnan(got[i])) << i;
    } else if (std::isinf(want[i])) {
      EXPECT_EQ(got[i], want[i]) << i;
    } else {
      EXPECT_NEAR(got[i], want[i], tol * std::max(1.0, std::abs(want[i])))
          << "element " << i;
    }
  }
}

// Reduce-18 (or ReduceSum-13) with an axes input.
Node Reduce18(const std::string& op, bool keepdims, bool noop = false) {
  Node n = MakeNode(op, op == "ReduceSum" ? 13 : 18, 2, 1);
  SetAttr(n, "keepdims", int64_t{keepdims ? 1 : 0});
  if (noop) SetAttr(n, "noop_with_empty_axes", int64_t{1});
  return n;
}

TEST(ReduceKnownValues, AxesInputHandValues) {
  const Tensor x = D({2, 3}, {1, 2, 3, 4, 5, 6});
  const Tensor ax1 = Int64Tensor({1}, {1});
  const Tensor ax0 = Int64Tensor({1}, {0});
  const Tensor axm1 = Int64Tensor({1}, {-1});
  ExpectValues(RunOp(Reduce18("ReduceSum", false), {x, ax1})[0], {2}, {6, 15});
  ExpectValues(RunOp(Reduce18("ReduceMean", true), {x, ax0})[0], {1, 3},
               {2.5, 3.5, 4.5});
  ExpectValues(RunOp(Reduce18("ReduceMax", true), {x, Tensor()})[0], {1, 1},
               {6});
  ExpectValues(RunOp(Reduce18("ReduceMin", true), {x, axm1})[0], {2, 1},
               {1, 4});
  ExpectValues(RunOp(Reduce18("ReduceProd", false), {x, ax1})[0], {2},
               {6, 120});
  const Tensor signed_x = D({2, 3}, {-1, 2, -3, 4, -5, 6});
  ExpectValues(RunOp(Reduce18("ReduceL1", false), {signed_x, ax1})[0], {2},
               {6, 15});
  ExpectValues(
      RunOp(Reduce18("ReduceL2", false), {D({2, 2}, {3, -4, 0, 0}), ax1})[0],
      {2}, {5, 0});
  ExpectValues(RunOp(Reduce18("ReduceSumSquare", false), {x, ax1})[0], {2},
               {14, 77});
  ExpectValues(RunOp(Reduce18("ReduceLogSum", false), {x, ax1})[0], {2},
               {std::log(6.0), std::log(15.0)});
  ExpectValues(RunOp(Reduce18("ReduceLogSumExp", false), {x, ax1})[0], {2},
               {std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)),
                std::log(std::exp(4.0) + std::exp(5.0) + std::exp(6.0))});
  // Stable where exp overflows: 1000 + log 2.
  ExpectValues(RunOp(Reduce18("ReduceLogSumExp", false),
                     {D({2}, {1000, 1000}), Tensor()})[0],
               {}, {1000 + std::log(2.0)});
  // Empty axes: identity with noop_with_empty_axes, all axes without.
  ExpectValues(
      RunOp(Reduce18("ReduceMean", false, true), {x, Int64Tensor({0}, {})})[0],
      {2, 3}, {1, 2, 3, 4, 5, 6});
  ExpectValues(
      RunOp(Reduce18("ReduceMean", false), {x, Int64Tensor({0}, {})})[0], {},
      {3.5});
}

TEST(ReduceKnownValues, AxesInputMatchesAxesAttribute) {
  const char* ops[] = {"ReduceSum",      "ReduceMean",      "ReduceMax",
                       "ReduceMin",      "ReduceProd",      "ReduceL1",
                       "ReduceL2",       "ReduceSumSquare", "ReduceLogSum",
                       "ReduceLogSumExp"};
  const std::vector<Ints> axes_sets = {{0}, {1, 2}, {-1, 0}, {2}};
  uint64_t seed = 1;
  for (const char* op : ops) {
    for (const Ints& axes : axes_sets) {
      for (int keep = 0; keep < 2; ++keep) {
        const Tensor x = RandomTensor({3, 4, 2}, ++seed, 0.25, 2.0);
        Node attr = MakeNode(op, 13, 1, 1);
        if (std::string(op) == "ReduceSum") attr.opset = 11;
        SetAttr(attr, "axes", axes);
        SetAttr(attr, "keepdims", int64_t{keep});
        const Tensor want = RunOp(attr, {x})[0];
        for (int opset : {18, 21}) {
          Node in = Reduce18(op, keep != 0);
          in.opset = std::string(op) == "ReduceSum" && opset == 18 ? 13 : opset;
          const Tensor a =
              Int64Tensor({static_cast<int64_t>(axes.size())}, axes);
          const Tensor got = RunOp(in, {x, a})[0];
          ASSERT_EQ(got.shape(), want.shape()) << op;
          const std::vector<double> g = got.ToDoubleVector();
          const std::vector<double> w = want.ToDoubleVector();
          for (size_t i = 0; i < w.size(); ++i)
            EXPECT_EQ(g[i], w[i]) << op << " opset " << in.opset;
        }
      }
    }
  }
}

TEST(ReduceKnownValues, EmptyGroupsGiveTheIdentity) {
  const Tensor x(DType::kFloat64, {0, 2});
  const Tensor ax0 = Int64Tensor({1}, {0});
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<std::pair<std::string, double>> want = {
      {"ReduceSum", 0},         {"ReduceProd", 1},      {"ReduceMax", -inf},
      {"ReduceMin", inf},       {"ReduceMean", nan},    {"ReduceL1", 0},
      {"ReduceL2", 0},          {"ReduceSumSquare", 0}, {"ReduceLogSum", -inf},
      {"ReduceLogSumExp", -inf}};
  for (const auto& [op, v] : want) {
    SCOPED_TRACE(op);
    ExpectValues(RunOp(Reduce18(op, false), {x, ax0})[0], {2}, {v, v});
  }
}

TEST(ReduceKnownValues, Int64ShapeArithmetic) {
  const Tensor x = Int64Tensor({2, 3}, {1, 2, 3, 4, 5, 6});
  Node prod = MakeNode("ReduceProd", 13, 1, 1);
  SetAttr(prod, "keepdims", int64_t{0});
  const Tensor p = RunOp(prod, {x})[0];
  ASSERT_EQ(p.dtype(), DType::kInt64);
  EXPECT_EQ(p.ToInt64Vector(), Ints{720});
  const Tensor s =
      RunOp(Reduce18("ReduceSum", false), {x, Int64Tensor({1}, {0})})[0];
  ASSERT_EQ(s.dtype(), DType::kInt64);
  EXPECT_EQ(s.ToInt64Vector(), (Ints{5, 7, 9}));
  const Tensor m =
      RunOp(Reduce18("ReduceMax", false), {x, Int64Tensor({1}, {1})})[0];
  EXPECT_EQ(m.ToInt64Vector(), (Ints{3, 6}));
  const Tensor mean =
      RunOp(Reduce18("ReduceMean", false), {x, Int64Tensor({1}, {1})})[0];
  EXPECT_EQ(mean.ToInt64Vector(), (Ints{2, 5}));
}

TEST(ReduceKnownValues, MaxMinGradientGoesToTheFirstTiedElement) {
  const Tensor x = D({2, 3}, {3, 1, 3, 0, 0, 2});
  const Tensor dy = D({2}, {10, 20});
  const Tensor ax = Int64Tensor({1}, {1});
  ExpectValues(Grad(Reduce18("ReduceMax", false), {x, ax}, dy), {2, 3},
               {10, 0, 0, 0, 0, 20});
  ExpectValues(Grad(Reduce18("ReduceMin", false), {x, ax}, dy), {2, 3},
               {0, 10, 0, 20, 0, 0});
}

TEST(ArgKnownValues, TiesFirstOrLastIndex) {
  const Tensor x = D({2, 3}, {3, 1, 3, 0, 0, 2});
  for (int last = 0; last < 2; ++last) {
    Node amax = MakeNode("ArgMax", 13, 1, 1);
    SetAttr(amax, "axis", int64_t{1});
    SetAttr(amax, "select_last_index", int64_t{last});
    EXPECT_EQ(RunOp(amax, {x})[0].ToInt64Vector(),
              (last ? Ints{2, 2} : Ints{0, 2}));
    Node amin = MakeNode("ArgMin", 13, 1, 1);
    SetAttr(amin, "axis", int64_t{1});
    SetAttr(amin, "keepdims", int64_t{0});
    SetAttr(amin, "select_last_index", int64_t{last});
    const Tensor r = RunOp(amin, {x})[0];
    EXPECT_EQ(r.shape(), Shape{2});
    EXPECT_EQ(r.ToInt64Vector(), (last ? Ints{1, 1} : Ints{1, 0}));
  }
}

Node GroupNorm(int opset, int64_t groups) {
  Node n = MakeNode("GroupNormalization", opset, 3, 1);
  SetAttr(n, "num_groups", groups);
  SetAttr(n, "epsilon", 1e-5f);
  return n;
}

void ExpectSame(const Tensor& a, const Tensor& b, double tol = 1e-12) {
  ASSERT_EQ(a.shape(), b.shape());
  const std::vector<double> x = a.ToDoubleVector(), y = b.ToDoubleVector();
  for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(x[i], y[i], tol) << i;
}

TEST(GroupNormKnownValues, HandComputedOneGroup) {
  // One group over [1, 3, 5, 7]: mean 4, variance 5.
  const Tensor x = D({1, 2, 1, 2}, {1, 3, 5, 7});
  const double inv = 1.0 / std::sqrt(5.0 + 1e-5);
  const Tensor y18 =
      RunOp(GroupNorm(18, 1), {x, D({1}, {2.0}), D({1}, {0.5})})[0];
  ExpectValues(y18, {1, 2, 1, 2},
               {2 * -3 * inv + 0.5, 2 * -1 * inv + 0.5, 2 * 1 * inv + 0.5,
                2 * 3 * inv + 0.5},
               1e-6);
  const Tensor y21 =
      RunOp(GroupNorm(21, 1), {x, D({2}, {2.0, -1.0}), D({2}, {0.5, 1.0})})[0];
  ExpectValues(
      y21, {1, 2, 1, 2},
      {2 * -3 * inv + 0.5, 2 * -1 * inv + 0.5, -1 * inv + 1.0, -3 * inv + 1.0},
      1e-6);
}

TEST(GroupNormKnownValues, PerGroupAt18IsPerChannelRepeatedAt21) {
  const Tensor x = RandomTensor({2, 6, 3, 2}, 7);
  const Tensor s18 = RandomTensor({3}, 8), b18 = RandomTensor({3}, 9);
  std::vector<double> s21, b21;
  for (int c = 0; c < 6; ++c) {
    s21.push_back(s18.data<double>()[c / 2]);
    b21.push_back(b18.data<double>()[c / 2]);
  }
  ExpectSame(RunOp(GroupNorm(18, 3), {x, s18, b18})[0],
             RunOp(GroupNorm(21, 3), {x, D({6}, s21), D({6}, b21)})[0]);
  // The parameter sizes are not interchangeable between the versions.
  EXPECT_FALSE(RunStatus(GroupNorm(21, 3), {x, s18, b18}).ok());
  EXPECT_FALSE(RunStatus(GroupNorm(18, 3), {x, D({6}, s21), D({6}, b21)}).ok());
}

TEST(GroupNormKnownValues, MatchesInstanceAndLayerNormalization) {
  const Tensor x = RandomTensor({2, 4, 3, 2}, 10);
  const Tensor s = RandomTensor({4}, 11), b = RandomTensor({4}, 12);
  Node inst = MakeNode("InstanceNormalization", 6, 3, 1);
  SetAttr(inst, "epsilon", 1e-5f);
  ExpectSame(RunOp(GroupNorm(21, 4), {x, s, b})[0], RunOp(inst, {x, s, b})[0]);
  // One group = LayerNormalization over axes 1.. with per-channel parameters.
  Node ln = MakeNode("LayerNormalization", 17, 3, 1);
  SetAttr(ln, "axis", int64_t{1});
  SetAttr(ln, "epsilon", 1e-5f);
  Tensor s3 = s, b3 = b;
  s3.Reshape({4, 1, 1});
  b3.Reshape({4, 1, 1});
  ExpectSame(RunOp(GroupNorm(21, 1), {x, s, b})[0], RunOp(ln, {x, s3, b3})[0]);
}

}  // namespace
}  // namespace onnx_crypt::testing
