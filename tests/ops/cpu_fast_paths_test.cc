// The CPU fast paths that are exact (ops/cpu/parallel.h: the elementwise,
// normalization, pooling and softmax loops split over the kernel threads; the
// 2 x 2 pooling loops of max_pool.cc and average_pool.cc; MaxPool without the
// argmax) against the reference kernels (ONNX_CRYPT_REFERENCE_KERNELS: the
// serial loops): float32 outputs must be bit-identical, at 1 and at 2
// threads, on inputs with ties, signed zeros, NaN and denormals, and on sizes
// that do not split evenly. MaxPool's backward after the fast forward (no
// context: the argmax is recomputed) must equal the reference backward.
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "onnx_crypt/ops/cpu/fast_kernels.h"
#include "onnx_crypt/ops/cpu/parallel.h"
#include "onnx_crypt/ops/registry.h"
#include "tests/support/op_check.h"

namespace onnx_crypt::testing {
namespace {

using cpu::FastKernelsAvailable;
using cpu::SetFastKernelsEnabled;
using cpu::SetKernelThreads;
using Ints = std::vector<int64_t>;

struct FastCase {
  std::string label;
  Node node;
  std::vector<Tensor> inputs;  // float32
};

// Float32 values in [-1, 1) with every 7th a repeat of its neighbour (ties),
// and a few -0, +0, NaN and denormals spread through.
Tensor Awkward(const Shape& shape, uint64_t seed) {
  Tensor t = RandomTensor(shape, seed).CastTo(DType::kFloat32);
  float* p = t.mutable_data<float>();
  for (int64_t i = 1; i < t.numel(); ++i) {
    if (i % 7 == 0) p[i] = p[i - 1];
    if (i % 97 == 5) p[i] = -0.0f;
    if (i % 89 == 3) p[i] = 0.0f;
    if (i % 211 == 17) p[i] = std::numeric_limits<float>::quiet_NaN();
    if (i % 53 == 11) p[i] = 1e-40f * (i % 2 ? 1.0f : -1.0f);
  }
  return t;
}

Node Pool(const std::string& type, const Ints& kernel, const Ints& strides,
          const Ints& pads, int64_t count_include_pad = -1) {
  Node n = MakeNode(type, 11, 1, 1);
  SetAttr(n, "kernel_shape", kernel);
  SetAttr(n, "strides", strides);
  SetAttr(n, "pads", pads);
  if (count_include_pad >= 0)
    SetAttr(n, "count_include_pad", count_include_pad);
  return n;
}

std::vector<FastCase> Cases() {
  std::vector<FastCase> cases;
  // Large enough that ParallelFor splits them (parallel.h's grain).
  // Odd H: the last row of each plane is left out; 69600 elements, over the
  // 2 * 32768 where an elementwise loop starts to split.
  const Ints image = {10, 8, 29, 30};
  const Ints even = {4, 6, 28, 28};
  for (const Ints& shape : {image, even}) {
    const std::string size =
        std::to_string(shape[2]) + "x" + std::to_string(shape[3]);
    cases.push_back({"MaxPool_2x2_" + size,
                     Pool("MaxPool", {2, 2}, {2, 2}, {0, 0, 0, 0}),
                     {Awkward(shape, 1)}});
    cases.push_back({"AveragePool_2x2_" + size,
                     Pool("AveragePool", {2, 2}, {2, 2}, {0, 0, 0, 0}),
                     {Awkward(shape, 2)}});
    cases.push_back({"AveragePool_2x2_include_pad_" + size,
                     Pool("AveragePool", {2, 2}, {2, 2}, {0, 0, 0, 0}, 1),
                     {Awkward(shape, 3)}});
  }
  // Not 2 x 2: MaxPool's values-only loop over general windows.
  cases.push_back({"MaxPool_3x3_stride2_pad1",
                   Pool("MaxPool", {3, 3}, {2, 2}, {1, 1, 1, 1}),
                   {Awkward(image, 4)}});
  cases.push_back({"AveragePool_3x3_stride1_pad1",
                   Pool("AveragePool", {3, 3}, {1, 1}, {1, 1, 1, 1}),
                   {Awkward(image, 5)}});
  cases.push_back({"GlobalAveragePool",
                   MakeNode("GlobalAveragePool", 11, 1, 1),
                   {Awkward(image, 6)}});
  cases.push_back({"Relu", MakeNode("Relu", 14, 1, 1), {Awkward(image, 7)}});
  Node leaky = MakeNode("LeakyRelu", 16, 1, 1);
  SetAttr(leaky, "alpha", 0.1f);
  cases.push_back({"LeakyRelu", leaky, {Awkward(image, 8)}});
  cases.push_back({"Add_same_shape",
                   MakeNode("Add", 14, 2, 1),
                   {Awkward(image, 9), Awkward(image, 10)}});
  const int64_t c = image[1];
  cases.push_back({"BatchNormalization",
                   MakeNode("BatchNormalization", 15, 5, 1),
                   {Awkward(image, 11),
                    RandomTensor({c}, 12, 0.5, 2.0).CastTo(DType::kFloat32),
                    RandomTensor({c}, 13).CastTo(DType::kFloat32),
                    RandomTensor({c}, 14).CastTo(DType::kFloat32),
                    RandomTensor({c}, 15, 0.1, 3.0).CastTo(DType::kFloat32)}});
  Node softmax = MakeNode("Softmax", 13, 1, 1);
  SetAttr(softmax, "axis", int64_t{1});
  cases.push_back(
      {"Softmax_rows",
       softmax,
       {RandomTensor({1000, 37}, 16, -8, 8).CastTo(DType::kFloat32)}});
  return cases;
}

struct OpRun {
  Tensor y;
  Tensor dx;  // MaxPool only
};

OpRun Forward(const FastCase& c, bool fast, int threads) {
  SetFastKernelsEnabled(fast);
  SetKernelThreads(threads);
  const absl::StatusOr<const OpDef*> def = FindOp(c.node);
  EXPECT_TRUE(def.ok()) << def.status();
  TensorRefs inputs;
  for (const Tensor& t : c.inputs) inputs.push_back(&t);
  std::vector<Tensor> outputs(1);
  std::unique_ptr<OpContext> ctx;
  absl::Status s = (*def)->forward(c.node, inputs, outputs, &ctx);
  EXPECT_TRUE(s.ok()) << c.label << ": " << s;
  OpRun r;
  r.y = outputs[0];
  if (c.node.op_type == "MaxPool") {
    const Tensor dy = RandomTensor(r.y.shape(), 17).CastTo(DType::kFloat32);
    std::vector<Tensor> grads(1);
    s = (*def)->backward(c.node, inputs, {&r.y}, {&dy}, ctx.get(), {true},
                         grads);
    EXPECT_TRUE(s.ok()) << c.label << ": " << s;
    r.dx = grads[0];
  }
  SetFastKernelsEnabled(true);
  return r;
}

void ExpectSameBits(const Tensor& a, const Tensor& b, const std::string& what) {
  ASSERT_TRUE(a.defined() && b.defined()) << what;
  ASSERT_EQ(a.shape(), b.shape()) << what;
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  int bad = 0;
  for (int64_t i = 0; i < a.numel() && bad < 5; ++i) {
    if (std::memcmp(&pa[i], &pb[i], sizeof(float)) != 0) {
      ADD_FAILURE() << what << "[" << i << "]: fast " << pa[i] << ", reference "
                    << pb[i];
      ++bad;
    }
  }
}

TEST(CpuFastPathsTest, BitIdenticalToTheReferenceAtOneAndTwoThreads) {
  if (!FastKernelsAvailable()) GTEST_SKIP() << "built without oneDNN";
  for (const FastCase& c : Cases()) {
    const OpRun ref = Forward(c, /*fast=*/false, 1);
    for (int threads : {1, 2}) {
      const std::string what =
          c.label + " at " + std::to_string(threads) + " threads";
      const OpRun fast = Forward(c, /*fast=*/true, threads);
      ExpectSameBits(fast.y, ref.y, what + " Y");
      if (ref.dx.defined()) ExpectSameBits(fast.dx, ref.dx, what + " dX");
    }
  }
  SetKernelThreads(1);
}

// The cases do exercise what they claim: the inputs hold NaN, signed zeros and
// denormals, and the pooled outputs keep some of them.
TEST(CpuFastPathsTest, InputsHoldTheAwkwardValues) {
  const Tensor t = Awkward({10, 8, 29, 30}, 1);
  int nan = 0, neg_zero = 0, denormal = 0;
  for (float v : t.span<float>()) {
    nan += std::isnan(v);
    neg_zero += v == 0.0f && std::signbit(v);
    denormal += std::fpclassify(v) == FP_SUBNORMAL;
  }
  EXPECT_GT(nan, 10);
  EXPECT_GT(neg_zero, 10);
  EXPECT_GT(denormal, 10);
}

// parallel.h's contract: one contiguous range per thread, fixed by n and the
// thread count; serial below twice the grain and with the fast kernels off.
TEST(CpuFastPathsTest, ParallelForSplitsAsDocumented) {
  if (!FastKernelsAvailable()) GTEST_SKIP() << "built without OpenMP";
  const auto ranges = [](int64_t n, int64_t grain) {
    std::mutex mu;
    std::set<std::pair<int64_t, int64_t>> seen;
    cpu::ParallelFor(n, grain, [&](int64_t begin, int64_t end) {
      std::lock_guard<std::mutex> lock(mu);
      seen.insert({begin, end});
    });
    return seen;
  };
  using Ranges = std::set<std::pair<int64_t, int64_t>>;
  SetKernelThreads(2);
  EXPECT_EQ(ranges(7, 1), (Ranges{{0, 3}, {3, 7}}));
  EXPECT_EQ(ranges(7, 4), (Ranges{{0, 7}}));  // under 2 * grain
  SetFastKernelsEnabled(false);
  EXPECT_EQ(ranges(7, 1), (Ranges{{0, 7}}));
  SetFastKernelsEnabled(true);
  SetKernelThreads(1);
  EXPECT_EQ(ranges(7, 1), (Ranges{{0, 7}}));
}

}  // namespace
}  // namespace onnx_crypt::testing
