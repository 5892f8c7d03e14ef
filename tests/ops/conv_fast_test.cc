// The fast Conv (oneDNN, ops/cpu/conv_dnnl.h) against the reference kernel
// (im2col + BLAS) in float32: forward, dX, dW and dB on strides, pads,
// dilations, groups, 1x1 and batch 1 and > 1, within a tolerance for float32
// reassociation; and bit-identical results run to run at 1 and 2 threads
// (the lock's keys depend on them).
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "onnx_crypt/ops/cpu/fast_kernels.h"
#include "onnx_crypt/ops/registry.h"
#include "tests/support/op_check.h"

namespace onnx_crypt::testing {
namespace {

using cpu::FastKernelsAvailable;
using cpu::FastKernelsEnabled;
using cpu::SetFastKernelsEnabled;
using cpu::SetKernelThreads;
using Ints = std::vector<int64_t>;

struct ConvConfig {
  std::string label;
  Ints x_shape;  // N, C, spatial...
  Ints w_shape;  // M, C / group, kernel...
  Ints strides, pads, dilations;
  int64_t group = 1;
  bool bias = true;
};

std::vector<ConvConfig> Configs() {
  return {
      {"3x3_pad1", {4, 3, 9, 9}, {8, 3, 3, 3}, {1, 1}, {1, 1, 1, 1}, {1, 1}},
      {"batch1_no_bias",
       {1, 5, 7, 6},
       {4, 5, 3, 3},
       {1, 1},
       {0, 0, 0, 0},
       {1, 1},
       1,
       false},
      {"stride2_asym_pads",
       {3, 4, 11, 10},
       {6, 4, 3, 2},
       {2, 1},
       {1, 0, 0, 2},
       {1, 1}},
      {"dilation2", {2, 3, 12, 12}, {5, 3, 3, 3}, {1, 1}, {2, 2, 2, 2}, {2, 2}},
      {"groups2", {2, 8, 8, 8}, {6, 4, 3, 3}, {1, 1}, {1, 1, 1, 1}, {1, 1}, 2},
      {"depthwise_stride2",
       {3, 8, 9, 9},
       {8, 1, 3, 3},
       {2, 2},
       {1, 1, 1, 1},
       {1, 1},
       8},
      {"1x1", {4, 16, 6, 6}, {32, 16, 1, 1}, {1, 1}, {0, 0, 0, 0}, {1, 1}},
      {"1x1_stride2",
       {4, 16, 8, 8},
       {32, 16, 1, 1},
       {2, 2},
       {0, 0, 0, 0},
       {1, 1}},
      {"one_input_channel_5x5",
       {8, 1, 28, 28},
       {6, 1, 5, 5},
       {1, 1},
       {2, 2, 2, 2},
       {1, 1}},
      {"wide_16_to_32",
       {16, 16, 14, 14},
       {32, 16, 3, 3},
       {1, 1},
       {1, 1, 1, 1},
       {1, 1}},
      {"1d", {3, 4, 10}, {5, 4, 3}, {2}, {1, 1}, {1}},
      // About 400 KB of X and Y per image: the forward runs in chunks of 2
      // images and a last one of 1 (conv_dnnl.cc, ForwardChunk).
      {"chunked_batch5",
       {5, 16, 40, 40},
       {16, 16, 3, 3},
       {1, 1},
       {1, 1, 1, 1},
       {1, 1}},
  };
}

Node ConvNode(const ConvConfig& c) {
  Node n = MakeNode("Conv", 11, c.bias ? 3 : 2, 1);
  SetAttr(n, "strides", c.strides);
  SetAttr(n, "pads", c.pads);
  SetAttr(n, "dilations", c.dilations);
  SetAttr(n, "group", c.group);
  return n;
}

struct Results {
  Tensor y, dx, dw, db;
};

// Forward, then backward with upstream gradient `dy_seed`, on the kernels
// selected by `fast`.
Results RunConv(const ConvConfig& c, bool fast) {
  SetFastKernelsEnabled(fast);
  const Node node = ConvNode(c);
  const absl::StatusOr<const OpDef*> def = FindOp(node);
  EXPECT_TRUE(def.ok()) << def.status();
  const Tensor x = RandomTensor(c.x_shape, 11).CastTo(DType::kFloat32);
  const Tensor w = RandomTensor(c.w_shape, 12).CastTo(DType::kFloat32);
  const Tensor b = RandomTensor({c.w_shape[0]}, 13).CastTo(DType::kFloat32);
  TensorRefs inputs = {&x, &w};
  if (c.bias) inputs.push_back(&b);
  std::vector<Tensor> outputs(1);
  std::unique_ptr<OpContext> ctx;
  absl::Status s = (*def)->forward(node, inputs, outputs, &ctx);
  EXPECT_TRUE(s.ok()) << s;
  Results r;
  r.y = outputs[0];
  const Tensor dy = RandomTensor(r.y.shape(), 14).CastTo(DType::kFloat32);
  std::vector<Tensor> grads(inputs.size());
  s = (*def)->backward(node, inputs, {&r.y}, {&dy}, ctx.get(),
                       std::vector<bool>(inputs.size(), true), grads);
  EXPECT_TRUE(s.ok()) << s;
  r.dx = grads[0];
  r.dw = grads[1];
  if (c.bias) r.db = grads[2];
  SetFastKernelsEnabled(true);
  return r;
}

// |fast - ref| <= 1e-4 * (|ref| + max |ref|): float32 sums in another order.
void ExpectClose(const Tensor& fast, const Tensor& ref,
                 const std::string& what) {
  ASSERT_TRUE(ref.defined()) << what;
  ASSERT_TRUE(fast.defined()) << what;
  ASSERT_EQ(fast.shape(), ref.shape()) << what;
  const float* f = fast.data<float>();
  const float* r = ref.data<float>();
  double scale = 0;
  for (int64_t i = 0; i < ref.numel(); ++i)
    scale = std::max(scale, std::fabs(double{r[i]}));
  int bad = 0;
  for (int64_t i = 0; i < ref.numel() && bad < 5; ++i) {
    const double tol = 1e-4 * (std::fabs(double{r[i]}) + scale);
    if (!(std::fabs(double{f[i]} - r[i]) <= tol)) {
      ADD_FAILURE() << what << "[" << i << "]: fast " << f[i] << ", reference "
                    << r[i];
      ++bad;
    }
  }
}

void ExpectBitIdentical(const Tensor& a, const Tensor& b,
                        const std::string& what) {
  ASSERT_EQ(a.defined(), b.defined()) << what;
  if (!a.defined()) return;
  ASSERT_EQ(a.shape(), b.shape()) << what;
  EXPECT_EQ(std::memcmp(a.data<float>(), b.data<float>(),
                        static_cast<size_t>(a.numel()) * sizeof(float)),
            0)
      << what << " differs between two identical runs";
}

TEST(ConvFastTest, MatchesReference) {
  if (!FastKernelsAvailable()) GTEST_SKIP() << "built without oneDNN";
  for (const ConvConfig& c : Configs()) {
    SCOPED_TRACE(c.label);
    const Results ref = RunConv(c, false);
    const Results fast = RunConv(c, true);
    ExpectClose(fast.y, ref.y, c.label + " Y");
    ExpectClose(fast.dx, ref.dx, c.label + " dX");
    ExpectClose(fast.dw, ref.dw, c.label + " dW");
    if (c.bias) ExpectClose(fast.db, ref.db, c.label + " dB");
  }
}

TEST(ConvFastTest, BitIdenticalRunToRun) {
  if (!FastKernelsAvailable()) GTEST_SKIP() << "built without oneDNN";
  for (int threads : {1, 2}) {
    SetKernelThreads(threads);
    for (const ConvConfig& c : Configs()) {
      const std::string what =
          c.label + " at " + std::to_string(threads) + " threads";
      const Results a = RunConv(c, true);
      const Results b = RunConv(c, true);
      ExpectBitIdentical(a.y, b.y, what + " Y");
      ExpectBitIdentical(a.dx, b.dx, what + " dX");
      ExpectBitIdentical(a.dw, b.dw, what + " dW");
      ExpectBitIdentical(a.db, b.db, what + " dB");
    }
  }
}

TEST(ConvFastTest, SwitchSelectsTheReference) {
  SetFastKernelsEnabled(false);
  EXPECT_FALSE(FastKernelsEnabled());
  SetFastKernelsEnabled(true);
  EXPECT_EQ(FastKernelsEnabled(), FastKernelsAvailable());
}

}  // namespace
}  // namespace onnx_crypt::testing
