// Known-value checks for the ops of part "ops-elem" (issue #12) that ONNX's
// node tests (libonnx-testdata, ONNX 1.12, opsets <= 17) cannot reach or do
// not pin down: Gelu-20 against erf / tanh formulas evaluated in long double,
// Cast-19/21 and CastLike-19/21 conversions with hand-derived results
// (rounding ties of float16 / bfloat16, saturation, wrap-around, bool),
// Equal-19, the integer paths that shape computations rely on (int64 beyond
// 2^53), the tie rule of Max/Min's backward and Cast's backward.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "onnx_crypt/engine/cpu_engine.h"
#include "onnx_crypt/ir/half.h"
#include "onnx_crypt/ops/registry.h"
#include "tests/support/op_check.h"

namespace onnx_crypt::testing {
namespace {

absl::StatusOr<std::vector<Tensor>> Forward(const Node& node,
                                            const std::vector<Tensor>& in) {
  absl::StatusOr<const OpDef*> def = FindOp(node);
  if (!def.ok()) return def.status();
  TensorRefs refs;
  for (const Tensor& t : in) refs.push_back(&t);
  std::vector<Tensor> out(node.outputs.size());
  std::unique_ptr<OpContext> ctx;
  absl::Status s = (*def)->forward(node, refs, out, &ctx);
  if (!s.ok()) return s;
  return out;
}

// Backward with every input needing a gradient.
absl::StatusOr<std::vector<Tensor>> Backward(const Node& node,
                                             const std::vector<Tensor>& in,
                                             const std::vector<Tensor>& out,
                                             const Tensor& dout) {
  absl::StatusOr<const OpDef*> def = FindOp(node);
  if (!def.ok()) return def.status();
  TensorRefs ir, orf, gr;
  for (const Tensor& t : in) ir.push_back(&t);
  for (const Tensor& t : out) orf.push_back(&t);
  gr.push_back(&dout);
  std::vector<Tensor> grads(in.size());
  absl::Status s = (*def)->backward(node, ir, orf, gr, nullptr,
                                    std::vector<bool>(in.size(), true), grads);
  if (!s.ok()) return s;
  return grads;
}

Tensor Bools(const Shape& shape, const std::vector<int>& v) {
  Tensor t(DType::kBool, shape);
  for (size_t i = 0; i < v.size(); ++i) t.mutable_data<bool>()[i] = v[i] != 0;
  return t;
}

Tensor Halves(DType dtype, const std::vector<uint16_t>& bits) {
  Tensor t(dtype, {static_cast<int64_t>(bits.size())});
  std::memcpy(t.mutable_raw(), bits.data(), bits.size() * 2);
  return t;
}

std::vector<uint16_t> Bits16(const Tensor& t) {
  std::vector<uint16_t> v(static_cast<size_t>(t.numel()));
  std::memcpy(v.data(), t.raw(), v.size() * 2);
  return v;
}

Node CastNode(int opset, int64_t to) {
  Node n = MakeNode("Cast", opset, 1, 1);
  SetAttr(n, "to", to);
  return n;
}

// Casts `x` with Cast-`opset` (to = `to`) and with CastLike (opset
// `like_opset`, a 1-element target of type `to`); both must agree.
Tensor CastBoth(const Tensor& x, int opset, DType to) {
  auto a = Forward(CastNode(opset, static_cast<int64_t>(to)), {x});
  EXPECT_TRUE(a.ok()) << a.status();
  const int like_opset = opset >= 21 ? 21 : (opset >= 19 ? 19 : 15);
  auto b =
      Forward(MakeNode("CastLike", like_opset, 2, 1), {x, Tensor(to, {1})});
  EXPECT_TRUE(b.ok()) << b.status();
  if (!a.ok() || !b.ok()) return Tensor();
  EXPECT_EQ((*a)[0].dtype(), to);
  EXPECT_EQ((*b)[0].dtype(), to);
  EXPECT_EQ((*a)[0].nbytes(), (*b)[0].nbytes());
  EXPECT_EQ(std::memcmp((*a)[0].raw(), (*b)[0].raw(), (*a)[0].nbytes()), 0);
  return (*a)[0];
}

TEST(ElemOpsTest, GeluMatchesErfAndTanhFormulas) {
  std::vector<double> xs;
  for (double x = -8.0; x <= 8.0; x += 0.125) xs.push_back(x);
  const Tensor x =
      Tensor::FromVector<double>({static_cast<int64_t>(xs.size())}, xs);
  for (const char* mode : {"none", "tanh"}) {
    Node n = MakeNode("Gelu", 20, 1, 1);
    SetAttr(n, "approximate", std::string(mode));
    auto out = Forward(n, {x});
    ASSERT_TRUE(out.ok()) << out.status();
    auto out32 = Forward(n, {x.CastTo(DType::kFloat32)});
    ASSERT_TRUE(out32.ok()) << out32.status();
    ASSERT_EQ((*out32)[0].dtype(), DType::kFloat32);
    for (size_t i = 0; i < xs.size(); ++i) {
      const long double v = xs[i];
      long double want;
      if (std::string(mode) == "tanh") {
        const long double k = std::sqrt(2.0L / 3.14159265358979323846264L);
        want = 0.5L * v * (1.0L + std::tanh(k * (v + 0.044715L * v * v * v)));
      } else {
        want = 0.5L * v * (1.0L + std::erf(v / std::sqrt(2.0L)));
      }
      const double got = (*out)[0].data<double>()[i];
      EXPECT_NEAR(got, static_cast<double>(want),
                  1e-15 + 4e-16 * std::fabs(static_cast<double>(want)))
          << mode << " x=" << xs[i];
      EXPECT_NEAR((*out32)[0].data<float>()[i], static_cast<double>(want),
                  1e-6 + 1e-6 * std::fabs(static_cast<double>(want)))
          << mode << " float32 x=" << xs[i];
    }
  }
  Node bad = MakeNode("Gelu", 20, 1, 1);
  SetAttr(bad, "approximate", std::string("fast"));
  auto r = Forward(bad, {x});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("Gelu"), std::string::npos);
  // Gelu does not exist before opset 20.
  EXPECT_FALSE(FindOp(MakeNode("Gelu", 19, 1, 1)).ok());
}

TEST(ElemOpsTest, CastToFloat16AndBFloat16RoundsOnce) {
  const double p11 = std::ldexp(1.0, -11), p40 = std::ldexp(1.0, -40);
  for (int opset : {13, 19, 21}) {
    // 1 + 2^-11 is the tie between float16 1.0 and 1 + 2^-10: even (1.0).
    // 1 + 2^-11 + 2^-40 is above the tie (a float32 intermediate rounded to
    // nearest would make it the tie again and give 1.0).
    const Tensor d = Tensor::FromVector<double>(
        {8},
        {1.0 + p11, 1.0 + p11 + p40, 65504.0, 65519.0, 65520.0, -0.0,
         std::ldexp(1.0, -25), std::ldexp(1.0, -25) + std::ldexp(1.0, -60)});
    EXPECT_EQ(Bits16(CastBoth(d, opset, DType::kFloat16)),
              (std::vector<uint16_t>{0x3C00, 0x3C01, 0x7BFF, 0x7BFF, 0x7C00,
                                     0x8000, 0x0000, 0x0001}))
        << "opset " << opset;
    const double p8 = std::ldexp(1.0, -8);
    const Tensor b =
        Tensor::FromVector<double>({3}, {1.0 + p8, 1.0 + p8 + p40, -2.0});
    EXPECT_EQ(Bits16(CastBoth(b, opset, DType::kBFloat16)),
              (std::vector<uint16_t>{0x3F80, 0x3F81, 0xC000}));
    // Two inputs of ONNX 1.12's test_cast_FLOAT_to_BFLOAT16 (excluded there:
    // its expected values truncate): bits 0x3EF535B8 and 0x3EF5EEB0 have low
    // halves below and above 0x8000, so nearest gives 0x3EF5 and 0x3EF6.
    const Tensor t = Tensor::FromVector<float>({2}, {0.47892547f, 0.48033667f});
    EXPECT_EQ(Bits16(CastBoth(t, opset, DType::kBFloat16)),
              (std::vector<uint16_t>{0x3EF5, 0x3EF6}));
    // int64 2049 is the tie between float16 2048 and 2050: even (2048).
    const Tensor i = Int64Tensor({3}, {2049, 2051, -3});
    EXPECT_EQ(Bits16(CastBoth(i, opset, DType::kFloat16)),
              (std::vector<uint16_t>{0x6800, 0x6802, 0xC200}));
    // float16 -> float32 / int64 / bfloat16.
    const Tensor h = Halves(DType::kFloat16, {0x3E00, 0xC500, 0x7C00});
    const Tensor f = CastBoth(h, opset, DType::kFloat32);
    EXPECT_EQ(f.ToDoubleVector(),
              (std::vector<double>{1.5, -5.0,
                                   std::numeric_limits<double>::infinity()}));
    EXPECT_EQ(
        CastBoth(h, opset, DType::kInt64).ToInt64Vector(),
        (std::vector<int64_t>{1, -5, std::numeric_limits<int64_t>::max()}));
    EXPECT_EQ(Bits16(CastBoth(h, opset, DType::kBFloat16)),
              (std::vector<uint16_t>{0x3FC0, 0xC0A0, 0x7F80}));
  }
}

TEST(ElemOpsTest, CastIntegerFloatAndBoolConversions) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (int opset : {6, 9, 13, 19, 21}) {
    const Tensor f = Tensor::FromVector<float>(
        {7},
        {2.9f, -2.9f, static_cast<float>(nan), 1e10f, -1e10f, 0.0f, -0.5f});
    EXPECT_EQ(CastBoth(f, opset, DType::kInt32).ToInt64Vector(),
              (std::vector<int64_t>{2, -2, 0, INT32_MAX, INT32_MIN, 0, 0}))
        << "opset " << opset;
    const Tensor u = Tensor::FromVector<float>({3}, {-1.5f, 300.0f, 7.99f});
    EXPECT_EQ(CastBoth(u, opset, DType::kUint8).ToInt64Vector(),
              (std::vector<int64_t>{0, 255, 7}));
    // int64 -> int32 wraps modulo 2^32; int64 -> uint8 modulo 2^8.
    const Tensor big = Int64Tensor({2}, {(int64_t{1} << 32) + 5, -1});
    EXPECT_EQ(CastBoth(big, opset, DType::kInt32).ToInt64Vector(),
              (std::vector<int64_t>{5, -1}));
    EXPECT_EQ(CastBoth(big, opset, DType::kUint8).ToInt64Vector(),
              (std::vector<int64_t>{5, 255}));
    // to bool: != 0 (NaN is true); from bool: 0 / 1.
    const Tensor z = Tensor::FromVector<double>({4}, {0.0, -0.0, 0.5, nan});
    EXPECT_EQ(CastBoth(z, opset, DType::kBool).ToInt64Vector(),
              (std::vector<int64_t>{0, 0, 1, 1}));
    EXPECT_EQ(
        CastBoth(Bools({2}, {1, 0}), opset, DType::kFloat64).ToDoubleVector(),
        (std::vector<double>{1.0, 0.0}));
    EXPECT_EQ(CastBoth(Int64Tensor({3}, {0, 7, -2}), opset, DType::kBool)
                  .ToInt64Vector(),
              (std::vector<int64_t>{0, 1, 1}));
    // int64 -> float64 / float32 round to nearest even.
    const Tensor l = Int64Tensor({2}, {(int64_t{1} << 53) + 1, 16777217});
    EXPECT_EQ(CastBoth(l, opset, DType::kFloat64).ToDoubleVector(),
              (std::vector<double>{std::ldexp(1.0, 53), 16777217.0}));
    EXPECT_EQ(CastBoth(l, opset, DType::kFloat32).data<float>()[1],
              16777216.0f);
    // int64 -> int64 is exact (a copy), also beyond 2^53.
    EXPECT_EQ(CastBoth(l, opset, DType::kInt64).ToInt64Vector(),
              l.ToInt64Vector());
  }
}

TEST(ElemOpsTest, CastRefusesStringAndFloat8NamingTheNode) {
  for (int opset : {13, 19, 21}) {
    const Tensor x = Tensor::FromVector<float>({1}, {1.0f});
    for (int64_t to : {8, 17, 19, 21}) {  // string, float8 x2, uint4
      auto r = Forward(CastNode(opset, to), {x});
      EXPECT_EQ(r.status().code(), absl::StatusCode::kUnimplemented) << to;
      EXPECT_NE(r.status().message().find("Cast"), std::string::npos)
          << r.status();
    }
    auto bad = Forward(CastNode(opset, 1000), {x});
    EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_FALSE(FindOp(MakeNode("CastLike", 14, 2, 1)).ok());
}

TEST(ElemOpsTest, CastBackward) {
  // float64 -> float32: the gradient comes back as float64.
  const Tensor x = Tensor::FromVector<double>({3}, {0.1, -2.0, 3.5});
  const Node to_float = CastNode(21, 1);
  auto y = Forward(to_float, {x});
  ASSERT_TRUE(y.ok()) << y.status();
  const Tensor dy = Tensor::FromVector<float>({3}, {0.25f, -1.5f, 1e-3f});
  auto g = Backward(to_float, {x}, *y, dy);
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_EQ((*g)[0].dtype(), DType::kFloat64);
  EXPECT_EQ((*g)[0].ToDoubleVector(), dy.ToDoubleVector());
  // float32 -> float16: dy (float16) widened back to float32.
  const Tensor x32 = Tensor::FromVector<float>({2}, {1.0f, 2.0f});
  const Node to_half = CastNode(19, 10);
  auto yh = Forward(to_half, {x32});
  ASSERT_TRUE(yh.ok()) << yh.status();
  auto gh = Backward(to_half, {x32}, *yh,
                     Halves(DType::kFloat16, {0x3800, 0xBC00}));  // .5, -1
  ASSERT_TRUE(gh.ok()) << gh.status();
  ASSERT_EQ((*gh)[0].dtype(), DType::kFloat32);
  EXPECT_EQ((*gh)[0].ToDoubleVector(), (std::vector<double>{0.5, -1.0}));
  // float32 -> int64: zero gradient; int64 -> float32: none.
  const Node to_int = CastNode(13, 7);
  auto yi = Forward(to_int, {x32});
  ASSERT_TRUE(yi.ok());
  auto gi = Backward(to_int, {x32}, *yi, Int64Tensor({2}, {5, 5}));
  ASSERT_TRUE(gi.ok()) << gi.status();
  EXPECT_EQ((*gi)[0].ToDoubleVector(), (std::vector<double>{0.0, 0.0}));
  const Tensor xi = Int64Tensor({2}, {1, 2});
  auto yf = Forward(to_float, {xi});
  ASSERT_TRUE(yf.ok());
  auto gf = Backward(to_float, {xi}, *yf, dy);
  ASSERT_TRUE(gf.ok()) << gf.status();
  EXPECT_FALSE((*gf)[0].defined());
}

TEST(ElemOpsTest, ComparisonsAreExactOnInt64) {
  const int64_t p53 = int64_t{1} << 53;
  // As doubles these are equal; as int64 they are not.
  const Tensor a = Int64Tensor({3}, {p53 + 1, -7, INT64_MAX});
  const Tensor b = Int64Tensor({3}, {p53, -7, INT64_MAX - 1});
  struct Want {
    const char* op;
    int opset;
    std::vector<int64_t> out;
  };
  for (const Want& w : std::vector<Want>{{"Equal", 19, {0, 1, 0}},
                                         {"Equal", 11, {0, 1, 0}},
                                         {"Greater", 13, {1, 0, 1}},
                                         {"Less", 13, {0, 0, 0}},
                                         {"GreaterOrEqual", 16, {1, 1, 1}},
                                         {"LessOrEqual", 16, {0, 1, 0}}}) {
    auto r = Forward(MakeNode(w.op, w.opset, 2, 1), {a, b});
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ((*r)[0].dtype(), DType::kBool);
    EXPECT_EQ((*r)[0].ToInt64Vector(), w.out) << w.op << "-" << w.opset;
  }
  // Equal-19 on bool with broadcasting, and a type mismatch is refused.
  auto e = Forward(MakeNode("Equal", 19, 2, 1),
                   {Bools({2, 2}, {1, 0, 0, 1}), Bools({2}, {1, 0})});
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ((*e)[0].ToInt64Vector(), (std::vector<int64_t>{1, 1, 0, 0}));
  auto mismatch = Forward(MakeNode("Equal", 19, 2, 1),
                          {a, Tensor::FromVector<float>({3}, {1, 2, 3})});
  EXPECT_EQ(mismatch.status().code(), absl::StatusCode::kInvalidArgument);
  // float16 compares after exact widening.
  auto h = Forward(MakeNode("Less", 13, 2, 1),
                   {Halves(DType::kFloat16, {0x3C00, 0x3C01}),
                    Halves(DType::kFloat16, {0x3C01, 0x3C01})});
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ((*h)[0].ToInt64Vector(), (std::vector<int64_t>{1, 0}));
}

TEST(ElemOpsTest, WhereAndPowKeepInt64Exact) {
  const int64_t big = (int64_t{1} << 62) + 3;
  auto w = Forward(MakeNode("Where", 16, 3, 1),
                   {Bools({2, 1}, {1, 0}), Int64Tensor({2}, {big, -big}),
                    Int64Tensor({}, {big - 1})});
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ((*w)[0].shape(), (Shape{2, 2}));
  EXPECT_EQ((*w)[0].ToInt64Vector(),
            (std::vector<int64_t>{big, -big, big - 1, big - 1}));
  // 3^39 = 4052555153018976267 (not representable in double).
  auto p = Forward(MakeNode("Pow", 15, 2, 1),
                   {Int64Tensor({5}, {3, 2, -1, 1, 5}),
                    Int64Tensor({5}, {39, -1, -3, -9, 0})});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ((*p)[0].ToInt64Vector(),
            (std::vector<int64_t>{4052555153018976267LL, 0, -1, 1, 1}));
  // int32 base, float exponent: truncated.
  auto pf = Forward(MakeNode("Pow", 15, 2, 1),
                    {Tensor::FromVector<int32_t>({2}, {2, 9}),
                     Tensor::FromVector<float>({2}, {0.5f, 0.5f})});
  ASSERT_TRUE(pf.ok()) << pf.status();
  EXPECT_EQ((*pf)[0].dtype(), DType::kInt32);
  EXPECT_EQ((*pf)[0].ToInt64Vector(), (std::vector<int64_t>{1, 3}));
}

TEST(ElemOpsTest, MaxMinTiesSendTheGradientToTheFirstInput) {
  const Tensor a = Tensor::FromVector<double>({3}, {1.0, 2.0, 2.0});
  const Tensor b = Tensor::FromVector<double>({3}, {2.0, 2.0, 1.0});
  const Tensor c = Tensor::FromVector<double>({3}, {2.0, 0.0, 2.0});
  const Tensor dout = Tensor::FromVector<double>({3}, {1.0, 10.0, 100.0});
  const Node max = MakeNode("Max", 13, 3, 1);
  auto out = Forward(max, {a, b, c});
  ASSERT_TRUE(out.ok());
  EXPECT_EQ((*out)[0].ToDoubleVector(), (std::vector<double>{2, 2, 2}));
  auto g = Backward(max, {a, b, c}, *out, dout);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ((*g)[0].ToDoubleVector(), (std::vector<double>{0, 10, 100}));
  EXPECT_EQ((*g)[1].ToDoubleVector(), (std::vector<double>{1, 0, 0}));
  EXPECT_EQ((*g)[2].ToDoubleVector(), (std::vector<double>{0, 0, 0}));
  const Node min = MakeNode("Min", 13, 2, 1);
  auto mo = Forward(min, {b, a});
  ASSERT_TRUE(mo.ok());
  auto mg = Backward(min, {b, a}, *mo, dout);
  ASSERT_TRUE(mg.ok()) << mg.status();
  EXPECT_EQ((*mg)[0].ToDoubleVector(), (std::vector<double>{0, 10, 100}));
  EXPECT_EQ((*mg)[1].ToDoubleVector(), (std::vector<double>{1, 0, 0}));
  // Integer Max (opset 12+) in the inputs' own type.
  auto im = Forward(
      MakeNode("Max", 12, 2, 1),
      {Int64Tensor({2}, {INT64_MAX, -5}), Int64Tensor({1}, {INT64_MAX - 1})});
  ASSERT_TRUE(im.ok()) << im.status();
  EXPECT_EQ((*im)[0].ToInt64Vector(),
            (std::vector<int64_t>{INT64_MAX, INT64_MAX - 1}));
}

TEST(ElemOpsTest, RoundHalvesToEvenAndSign) {
  const Tensor x = Tensor::FromVector<double>(
      {9}, {-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 2.4999, -0.4, 1e300});
  auto r = Forward(MakeNode("Round", 11, 1, 1), {x});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)[0].ToDoubleVector(),
            (std::vector<double>{-2, -2, -0.0, 0, 2, 2, 2, -0.0, 1e300}));
  EXPECT_TRUE(std::signbit((*r)[0].data<double>()[7]));
  auto s = Forward(MakeNode("Sign", 13, 1, 1),
                   {Tensor::FromVector<uint8_t>({3}, {0, 1, 255})});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ((*s)[0].ToInt64Vector(), (std::vector<int64_t>{0, 1, 1}));
  auto si = Forward(MakeNode("Sign", 13, 1, 1),
                    {Int64Tensor({3}, {INT64_MIN, 0, 9})});
  ASSERT_TRUE(si.ok()) << si.status();
  EXPECT_EQ((*si)[0].ToInt64Vector(), (std::vector<int64_t>{-1, 0, 1}));
}

// The ops in one graph on the CPU engine, the way exporters chain them: an
// int64 shape path (Shape -> Gather -> Equal -> Cast) gating a float path
// (Less -> Where over PRelu and Pow), then Softplus. The engine's parameter
// gradients (slope W and exponent E, through Where, PRelu and Pow) match
// central differences of its own loss (float32 engine: h = 1e-2 relative).
Node GraphNode(const std::string& type, int opset,
               std::vector<std::string> inputs, std::string output) {
  Node n;
  n.op_type = type;
  n.opset = opset;
  n.name = output;
  n.inputs = std::move(inputs);
  n.outputs = {std::move(output)};
  return n;
}

TEST(ElemOpsTest, ShapeGatedGraphGradientsMatchFiniteDifferences) {
  Graph g;
  g.opsets[""] = 17;
  ValueInfo in;
  in.name = "x";
  in.dtype = DType::kFloat32;
  in.dims = {2, 3};
  in.has_shape = true;
  g.inputs.push_back(in);
  auto init = [&g](const std::string& name, Tensor t) {
    g.initializers[name] = std::move(t);
    g.initializer_order.push_back(name);
  };
  init("W", Tensor::FromVector<float>({3}, {0.3f, -0.7f, 1.2f}));
  init("E", Tensor::FromVector<float>({3}, {2.0f, 1.5f, 0.5f}));
  init("one", Int64Tensor({}, {1}));
  init("three", Int64Tensor({}, {3}));
  init("zero", Tensor::FromVector<float>({}, {0.0f}));
  g.nodes.push_back(GraphNode("Shape", 13, {"x"}, "s"));
  g.nodes.push_back(GraphNode("Gather", 13, {"s", "one"}, "d"));
  g.nodes.push_back(GraphNode("Equal", 13, {"d", "three"}, "e"));
  Node cast = GraphNode("Cast", 13, {"e"}, "ef");
  SetAttr(cast, "to", int64_t{1});
  g.nodes.push_back(cast);
  g.nodes.push_back(GraphNode("Less", 13, {"x", "zero"}, "m"));
  g.nodes.push_back(GraphNode("PRelu", 16, {"x", "W"}, "p"));
  g.nodes.push_back(GraphNode("Abs", 13, {"x"}, "ax"));
  g.nodes.push_back(GraphNode("Pow", 15, {"ax", "E"}, "pw"));
  g.nodes.push_back(GraphNode("Where", 16, {"m", "p", "pw"}, "w"));
  g.nodes.push_back(GraphNode("Mul", 14, {"w", "ef"}, "we"));
  g.nodes.push_back(GraphNode("Softplus", 1, {"we"}, "out"));
  ValueInfo out;
  out.name = "out";
  g.outputs.push_back(out);

  absl::StatusOr<std::unique_ptr<CpuEngine>> engine = CpuEngine::Create(g);
  ASSERT_TRUE(engine.ok()) << engine.status();
  const Feeds feeds = {
      {"x", Tensor::FromVector<float>({2, 3},
                                      {-0.8f, 0.6f, 1.3f, 0.9f, 1.1f, -0.4f})}};
  const std::vector<int64_t> labels = {0, 2};
  const std::vector<std::string> params = {"W", "E"};
  absl::StatusOr<LossResult> base =
      (*engine)->LossAndGradients(feeds, labels, params);
  ASSERT_TRUE(base.ok()) << base.status();
  for (const std::string& name : params) {
    const Tensor& grad = base->grads.at(name);
    ASSERT_EQ(grad.dtype(), DType::kFloat32);
    const std::vector<double> v0 = g.initializers.at(name).ToDoubleVector();
    for (int64_t i = 0; i < 3; ++i) {
      const double h = 1e-2 * std::max(1.0, std::fabs(v0[i]));
      double loss[2];
      for (int side = 0; side < 2; ++side) {
        const float v = static_cast<float>(v0[i] + (side == 0 ? h : -h));
        ASSERT_TRUE((*engine)
                        ->SetInitializerValues(
                            name, {i}, Tensor::FromVector<float>({1}, {v}))
                        .ok());
        absl::StatusOr<LossResult> r =
            (*engine)->LossAndGradients(feeds, labels, {});
        ASSERT_TRUE(r.ok()) << r.status();
        loss[side] = r->loss;
      }
      ASSERT_TRUE(
          (*engine)
              ->SetInitializerValues(
                  name, {i},
                  Tensor::FromVector<float>({1}, {static_cast<float>(v0[i])}))
              .ok());
      const double numeric = (loss[0] - loss[1]) / (2 * h);
      const double analytic = grad.ToDoubleVector()[i];
      EXPECT_NEAR(analytic, numeric, 3e-3 * std::fabs(numeric) + 3e-4)
          << name << "[" << i << "]";
    }
  }
  // Column 1 of x is positive (0.6, 1.1): Where sends it to Pow only, so its
  // slope W[1] gets exactly no gradient and its exponent E[1] does.
  EXPECT_NE(base->grads.at("W").ToDoubleVector()[0], 0.0);
  EXPECT_EQ(base->grads.at("W").ToDoubleVector()[1], 0.0);
  EXPECT_NE(base->grads.at("E").ToDoubleVector()[1], 0.0);
}

// The declared opset ranges (the ONNX version history of each op): found at
// the first and last opset, refused just outside (1000 = no later version
// known).
TEST(ElemOpsTest, DeclaredOpsetRanges) {
  struct Range {
    const char* op;
    int inputs;
    int first, last;
  };
  const std::vector<Range> ranges = {
      {"Equal", 2, 7, 1000},
      {"Less", 2, 7, 1000},
      {"Greater", 2, 7, 1000},
      {"LessOrEqual", 2, 12, 1000},
      {"GreaterOrEqual", 2, 12, 1000},
      {"Not", 1, 1, 1000},
      {"And", 2, 7, 1000},
      {"Or", 2, 7, 1000},
      {"Xor", 2, 7, 1000},
      {"Where", 3, 9, 1000},
      {"Pow", 2, 7, 1000},
      {"Max", 2, 6, 1000},
      {"Min", 2, 6, 1000},
      {"Sum", 2, 6, 1000},
      {"Mean", 2, 6, 1000},
      {"Softplus", 1, 1, 21},
      {"Softsign", 1, 1, 21},
      {"Elu", 1, 6, 21},
      {"Selu", 1, 6, 21},
      {"Gelu", 1, 20, 1000},
      {"PRelu", 2, 7, 1000},
      {"Sign", 1, 9, 1000},
      {"Floor", 1, 6, 1000},
      {"Ceil", 1, 6, 1000},
      {"Round", 1, 11, 21},
      {"Cast", 1, 6, 22},
      {"CastLike", 2, 15, 22},
  };
  for (const Range& r : ranges) {
    for (int opset = r.first; opset <= std::min(r.last, 21); ++opset) {
      EXPECT_TRUE(FindOp(MakeNode(r.op, opset, r.inputs, 1)).ok())
          << r.op << "-" << opset;
    }
    if (r.first > 1) {
      EXPECT_FALSE(FindOp(MakeNode(r.op, r.first - 1, r.inputs, 1)).ok())
          << r.op << "-" << r.first - 1;
    }
    if (r.last < 1000) {
      EXPECT_FALSE(FindOp(MakeNode(r.op, r.last + 1, r.inputs, 1)).ok())
          << r.op << "-" << r.last + 1;
    }
  }
}

}  // namespace
}  // namespace onnx_crypt::testing
