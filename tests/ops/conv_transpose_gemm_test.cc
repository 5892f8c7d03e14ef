// ConvTranspose's registered kernel (GEMM + col2im) against its direct
// implementation (scatter loops, ops/cpu/conv_transpose.h): Y, dX, dW and dB
// agree in float64 (1e-12 relative) and float32 (1e-5) on strides, pads,
// dilations, groups, output_padding, output_shape, auto_pad, 1-D/2-D/3-D and
// batch 1 and > 1.
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "onnx_crypt/ops/cpu/conv_transpose.h"
#include "onnx_crypt/ops/registry.h"
#include "tests/support/op_check.h"

namespace onnx_crypt::testing {
namespace {

using Ints = std::vector<int64_t>;

struct Config {
  std::string label;
  Shape x, w;
  bool bias = true;
  int64_t group = 1;
  Ints strides, pads, dilations, output_padding, output_shape;
  std::string auto_pad;
};

std::vector<Config> Configs() {
  return {
      {"2d_k4_s2_p1",
       {2, 5, 6, 6},
       {5, 3, 4, 4},
       true,
       1,
       {2, 2},
       {1, 1, 1, 1}},
      {"2d_groups_dilation_outpad",
       {1, 6, 5, 4},
       {6, 2, 3, 2},
       false,
       3,
       {2, 3},
       {0, 1, 1, 0},
       {2, 1},
       {1, 2}},
      {"2d_same_lower",
       {3, 2, 4, 5},
       {2, 4, 3, 3},
       true,
       1,
       {2, 2},
       {},
       {},
       {},
       {},
       "SAME_LOWER"},
      {"2d_output_shape",
       {1, 1, 3, 3},
       {1, 2, 3, 3},
       true,
       1,
       {3, 2},
       {},
       {},
       {},
       {10, 8}},
      {"1d_depthwise", {2, 4, 9}, {4, 1, 3}, true, 4, {3}, {1, 0}},
      {"3d",
       {2, 2, 3, 2, 3},
       {2, 3, 3, 3, 3},
       true,
       1,
       {2, 2, 2},
       {1, 1, 1, 1, 1, 1},
       {},
       {1, 0, 1}},
      {"1x1_stride1", {2, 8, 5, 5}, {8, 4, 1, 1}, true, 1},
  };
}

Node MakeCt(const Config& c) {
  Node n = MakeNode("ConvTranspose", 11, c.bias ? 3 : 2, 1);
  SetAttr(n, "group", c.group);
  if (!c.strides.empty()) SetAttr(n, "strides", c.strides);
  if (!c.pads.empty()) SetAttr(n, "pads", c.pads);
  if (!c.dilations.empty()) SetAttr(n, "dilations", c.dilations);
  if (!c.output_padding.empty()) SetAttr(n, "output_padding", c.output_padding);
  if (!c.output_shape.empty()) SetAttr(n, "output_shape", c.output_shape);
  if (!c.auto_pad.empty()) SetAttr(n, "auto_pad", c.auto_pad);
  return n;
}

void ExpectClose(const Tensor& a, const Tensor& b, double rtol,
                 const std::string& what) {
  ASSERT_TRUE(a.defined() && b.defined()) << what;
  ASSERT_EQ(a.shape(), b.shape()) << what;
  const std::vector<double> x = a.ToDoubleVector(), y = b.ToDoubleVector();
  double scale = 0.0;
  for (double v : y) scale = std::max(scale, std::abs(v));
  for (size_t i = 0; i < x.size(); ++i) {
    ASSERT_NEAR(x[i], y[i], rtol * std::max(1.0, scale))
        << what << "[" << i << "]";
  }
}

TEST(ConvTransposeGemmTest, MatchesDirectLoops) {
  uint64_t seed = 1;
  for (const Config& c : Configs()) {
    for (DType dtype : {DType::kFloat64, DType::kFloat32}) {
      const double rtol = dtype == DType::kFloat64 ? 1e-12 : 1e-5;
      SCOPED_TRACE(c.label + (dtype == DType::kFloat64 ? " f64" : " f32"));
      const Node node = MakeCt(c);
      std::vector<Tensor> inputs = {RandomTensor(c.x, ++seed).CastTo(dtype),
                                    RandomTensor(c.w, ++seed).CastTo(dtype)};
      if (c.bias) {
        inputs.push_back(
            RandomTensor({c.w[1] * c.group}, ++seed).CastTo(dtype));
      }
      TensorRefs refs;
      for (const Tensor& t : inputs) refs.push_back(&t);
      const OpDef* def = *FindOp(node);
      std::vector<Tensor> fast(1), direct(1);
      std::unique_ptr<OpContext> ctx;
      ASSERT_TRUE(def->forward(node, refs, fast, &ctx).ok());
      ASSERT_TRUE(cpu::ConvTransposeDirectForward(node, refs, direct).ok());
      ExpectClose(fast[0], direct[0], rtol, "Y");

      const Tensor dy = RandomTensor(direct[0].shape(), ++seed).CastTo(dtype);
      TensorRefs out_refs{&fast[0]}, grad_refs{&dy};
      const std::vector<bool> need(inputs.size(), true);
      std::vector<Tensor> g_fast(inputs.size()), g_direct(inputs.size());
      ASSERT_TRUE(def->backward(node, refs, out_refs, grad_refs, ctx.get(),
                                need, g_fast)
                      .ok());
      ASSERT_TRUE(cpu::ConvTransposeDirectBackward(node, refs, grad_refs, need,
                                                   g_direct)
                      .ok());
      ExpectClose(g_fast[0], g_direct[0], rtol, "dX");
      ExpectClose(g_fast[1], g_direct[1], rtol, "dW");
      if (c.bias) ExpectClose(g_fast[2], g_direct[2], rtol, "dB");
    }
  }
}

}  // namespace
}  // namespace onnx_crypt::testing
