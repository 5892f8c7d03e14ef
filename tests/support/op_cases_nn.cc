// Gradient-check cases for the nn ops group (see op_check.h): Conv, Gemm,
// MatMul, MaxPool, AveragePool, GlobalAveragePool, BatchNormalization.
#include <algorithm>
#include <numeric>

#include "tests/support/op_check.h"

namespace onnx_crypt::testing {

namespace {

using Ints = std::vector<int64_t>;

void AddConvCases(std::vector<OpCase>& cases) {
  {
    Node n = MakeNode("Conv", 11, 3, 1);
    SetAttr(n, "pads",
            Ints{1, 0, 0, 2});  // asymmetric: top 1, left 0, bottom 0, right 2
    SetAttr(n, "strides", Ints{2, 1});
    SetAttr(n, "kernel_shape", Ints{3, 2});
    cases.push_back(Case("Conv/2d_bias_asym_pads_strides", n,
                         {RandomTensor({2, 3, 5, 6}, 1),
                          RandomTensor({4, 3, 3, 2}, 2), RandomTensor({4}, 3)},
                         {0, 1, 2}));
  }
  {
    Node n = MakeNode("Conv", 11, 2, 1, {});
    SetAttr(n, "group", int64_t{2});
    SetAttr(n, "dilations", Ints{2, 2});
    SetAttr(n, "pads", Ints{2, 1, 1, 2});
    cases.push_back(
        Case("Conv/groups2_dilation2", n,
             {RandomTensor({1, 4, 7, 6}, 4), RandomTensor({6, 2, 3, 3}, 5)},
             {0, 1}));
  }
  {
    Node n = MakeNode("Conv", 11, 3, 1);
    SetAttr(n, "auto_pad", std::string("SAME_UPPER"));
    SetAttr(n, "strides", Ints{2, 2});
    cases.push_back(Case("Conv/same_upper_stride2_bias", n,
                         {RandomTensor({2, 2, 6, 5}, 6),
                          RandomTensor({3, 2, 3, 3}, 7), RandomTensor({3}, 8)},
                         {0, 1, 2}));
  }
  {
    Node n = MakeNode("Conv", 7, 2, 1);
    SetAttr(n, "auto_pad", std::string("SAME_LOWER"));
    SetAttr(n, "group", int64_t{3});  // depthwise
    cases.push_back(
        Case("Conv/same_lower_depthwise", n,
             {RandomTensor({2, 3, 4, 5}, 9), RandomTensor({3, 1, 2, 2}, 10)},
             {0, 1}));
  }
  {
    Node n = MakeNode("Conv", 13, 3, 1);
    SetAttr(n, "strides", Ints{2});
    SetAttr(n, "dilations", Ints{2});
    SetAttr(n, "pads", Ints{1, 2});
    cases.push_back(Case("Conv/1d_strides_dilation", n,
                         {RandomTensor({2, 3, 9}, 11),
                          RandomTensor({2, 3, 3}, 12), RandomTensor({2}, 13)},
                         {0, 1, 2}));
  }
  {
    Node n = MakeNode("Conv", 18, 3, 1);
    cases.push_back(
        Case("Conv/1x1_direct_bias", n,
             {RandomTensor({2, 4, 3, 3}, 14), RandomTensor({5, 4, 1, 1}, 15),
              RandomTensor({5}, 16)},
             {0, 1, 2}));
  }
  {
    Node n = MakeNode("Conv", 11, 2, 1);
    SetAttr(n, "group", int64_t{2});
    SetAttr(n, "strides", Ints{1, 2});
    cases.push_back(
        Case("Conv/1x1_strided_groups2", n,
             {RandomTensor({1, 4, 3, 4}, 17), RandomTensor({2, 2, 1, 1}, 18)},
             {0, 1}));
  }
  {
    Node n = MakeNode("Conv", 11, 3, 1);
    SetAttr(n, "pads", Ints{1, 0, 1, 0, 1, 1});
    SetAttr(n, "strides", Ints{1, 2, 1});
    cases.push_back(
        Case("Conv/3d_pads_strides", n,
             {RandomTensor({2, 2, 3, 4, 3}, 19),
              RandomTensor({2, 2, 2, 3, 2}, 20), RandomTensor({2}, 21)},
             {0, 1, 2}));
  }
  {
    Node n = MakeNode("Conv", 11, 2, 1);
    SetAttr(n, "auto_pad", std::string("VALID"));
    SetAttr(n, "strides", Ints{3, 2});
    cases.push_back(
        Case("Conv/valid_strides", n,
             {RandomTensor({3, 2, 7, 6}, 22), RandomTensor({2, 2, 2, 3}, 23)},
             {0, 1}));
  }
}

void AddGemmCases(std::vector<OpCase>& cases) {
  {
    Node n = MakeNode("Gemm", 13, 3, 1);
    SetAttr(n, "transA", int64_t{1});
    SetAttr(n, "transB", int64_t{1});
    SetAttr(n, "alpha", 0.7f);
    SetAttr(n, "beta", 1.3f);
    cases.push_back(Case("Gemm/transA_transB_alpha_beta_rowC", n,
                         {RandomTensor({4, 3}, 31), RandomTensor({5, 4}, 32),
                          RandomTensor({5}, 33)},
                         {0, 1, 2}));
  }
  {
    Node n = MakeNode("Gemm", 7, 3, 1);
    SetAttr(n, "beta", 0.5f);
    cases.push_back(Case("Gemm/columnC", n,
                         {RandomTensor({3, 4}, 34), RandomTensor({4, 2}, 35),
                          RandomTensor({3, 1}, 36)},
                         {0, 1, 2}));
  }
  {
    Node n = MakeNode("Gemm", 11, 3, 1);
    SetAttr(n, "transA", int64_t{1});
    SetAttr(n, "alpha", -1.5f);
    cases.push_back(Case("Gemm/transA_scalarC", n,
                         {RandomTensor({4, 3}, 37), RandomTensor({4, 2}, 38),
                          RandomTensor({}, 39)},
                         {0, 1, 2}));
  }
  {
    Node n = MakeNode("Gemm", 9, 3, 1);
    SetAttr(n, "transB", int64_t{1});
    cases.push_back(Case("Gemm/transB_fullC", n,
                         {RandomTensor({2, 3}, 40), RandomTensor({4, 3}, 41),
                          RandomTensor({2, 4}, 42)},
                         {0, 1, 2}));
  }
  {
    Node n = MakeNode("Gemm", 11, 3, 1, {2});
    cases.push_back(
        Case("Gemm/no_C", n,
             {RandomTensor({3, 5}, 43), RandomTensor({5, 2}, 44), Tensor()},
             {0, 1}));
  }
}

void AddMatMulCases(std::vector<OpCase>& cases) {
  struct Spec {
    const char* label;
    Shape a, b;
  };
  const Spec specs[] = {
      {"MatMul/2d", {3, 4}, {4, 5}},
      {"MatMul/batched_broadcast", {2, 1, 3, 4}, {3, 4, 2}},
      {"MatMul/batch_times_matrix", {2, 3, 4}, {4, 5}},
      {"MatMul/matrix_times_batch", {3, 4}, {2, 4, 2}},
      {"MatMul/1d_a", {4}, {2, 4, 3}},
      {"MatMul/1d_b", {2, 3, 4}, {4}},
      {"MatMul/1d_both", {4}, {4}},
  };
  uint64_t seed = 50;
  for (const Spec& s : specs) {
    Node n = MakeNode("MatMul", 13, 2, 1);
    cases.push_back(Case(s.label, n,
                         {RandomTensor(s.a, seed), RandomTensor(s.b, seed + 1)},
                         {0, 1}));
    seed += 2;
  }
}

void AddPoolCases(std::vector<OpCase>& cases) {
  // MaxPool
  {
    Node n = MakeNode("MaxPool", 11, 1, 1);
    SetAttr(n, "kernel_shape", Ints{3, 3});
    SetAttr(n, "strides", Ints{2, 2});
    SetAttr(n, "pads", Ints{1, 1, 1, 1});
    cases.push_back(Case("MaxPool/2d_pads_strides", n,
                         {DistinctTensor({2, 2, 5, 5}, 61)}, {0}));
  }
  {
    Node n = MakeNode("MaxPool", 12, 1, 1);
    SetAttr(n, "kernel_shape", Ints{2, 3});
    SetAttr(n, "strides", Ints{2, 2});
    SetAttr(n, "dilations", Ints{2, 1});
    SetAttr(n, "ceil_mode", int64_t{1});
    cases.push_back(Case("MaxPool/2d_ceil_dilation", n,
                         {DistinctTensor({1, 2, 6, 7}, 62)}, {0}));
  }
  {
    Node n = MakeNode("MaxPool", 8, 1, 1);
    SetAttr(n, "kernel_shape", Ints{3});
    SetAttr(n, "strides", Ints{2});
    SetAttr(n, "auto_pad", std::string("SAME_UPPER"));
    cases.push_back(
        Case("MaxPool/1d_same_upper", n, {DistinctTensor({2, 3, 8}, 63)}, {0}));
  }
  {
    Node n = MakeNode("MaxPool", 12, 1, 2);  // with the Indices output
    SetAttr(n, "kernel_shape", Ints{2, 2, 2});
    SetAttr(n, "strides", Ints{2, 1, 2});
    cases.push_back(Case("MaxPool/3d_with_indices", n,
                         {DistinctTensor({1, 2, 4, 3, 4}, 64)}, {0}));
  }
  // AveragePool
  {
    Node n = MakeNode("AveragePool", 11, 1, 1);
    SetAttr(n, "kernel_shape", Ints{3, 3});
    SetAttr(n, "strides", Ints{2, 2});
    SetAttr(n, "pads", Ints{1, 0, 2, 1});
    cases.push_back(Case("AveragePool/2d_pads_exclude_pad", n,
                         {RandomTensor({2, 2, 5, 6}, 71)}, {0}));
  }
  {
    Node n = MakeNode("AveragePool", 11, 1, 1);
    SetAttr(n, "kernel_shape", Ints{3, 3});
    SetAttr(n, "strides", Ints{2, 2});
    SetAttr(n, "pads", Ints{1, 0, 2, 1});
    SetAttr(n, "count_include_pad", int64_t{1});
    cases.push_back(Case("AveragePool/2d_pads_include_pad", n,
                         {RandomTensor({2, 2, 5, 6}, 72)}, {0}));
  }
  {
    Node n = MakeNode("AveragePool", 10, 1, 1);
    SetAttr(n, "kernel_shape", Ints{3, 2});
    SetAttr(n, "strides", Ints{2, 2});
    SetAttr(n, "ceil_mode", int64_t{1});
    cases.push_back(
        Case("AveragePool/2d_ceil", n, {RandomTensor({1, 2, 6, 5}, 73)}, {0}));
  }
  {
    Node n = MakeNode("AveragePool", 18, 1, 1);
    SetAttr(n, "kernel_shape", Ints{3, 3});
    SetAttr(n, "strides", Ints{2, 2});
    SetAttr(n, "pads", Ints{1, 1, 1, 1});
    SetAttr(n, "ceil_mode", int64_t{1});
    SetAttr(n, "count_include_pad", int64_t{1});
    cases.push_back(Case("AveragePool/2d_ceil_include_pad", n,
                         {RandomTensor({1, 2, 6, 6}, 74)}, {0}));
  }
  {
    Node n = MakeNode("AveragePool", 7, 1, 1);
    SetAttr(n, "kernel_shape", Ints{2});
    SetAttr(n, "auto_pad", std::string("SAME_LOWER"));
    cases.push_back(Case("AveragePool/1d_same_lower", n,
                         {RandomTensor({2, 3, 5}, 75)}, {0}));
  }
  {
    Node n = MakeNode("AveragePool", 11, 1, 1);
    SetAttr(n, "kernel_shape", Ints{2, 2, 2});
    cases.push_back(
        Case("AveragePool/3d", n, {RandomTensor({1, 2, 3, 3, 4}, 76)}, {0}));
  }
  // GlobalAveragePool
  cases.push_back(Case("GlobalAveragePool/2d",
                       MakeNode("GlobalAveragePool", 7, 1, 1),
                       {RandomTensor({2, 3, 4, 5}, 81)}, {0}));
  cases.push_back(Case("GlobalAveragePool/1d",
                       MakeNode("GlobalAveragePool", 13, 1, 1),
                       {RandomTensor({2, 3, 6}, 82)}, {0}));
}

void AddBatchNormalizationCases(std::vector<OpCase>& cases) {
  {
    Node n = MakeNode("BatchNormalization", 15, 5, 1);
    SetAttr(n, "epsilon", 1e-3f);
    cases.push_back(Case("BatchNormalization/4d", n,
                         {RandomTensor({2, 3, 4, 5}, 91), RandomTensor({3}, 92),
                          RandomTensor({3}, 93), RandomTensor({3}, 94),
                          RandomTensor({3}, 95, 0.5, 1.5)},
                         {0, 1, 2}));
  }
  {
    Node n = MakeNode("BatchNormalization", 7, 5, 1);
    SetAttr(n, "spatial", int64_t{1});
    cases.push_back(Case("BatchNormalization/opset7_spatial", n,
                         {RandomTensor({2, 2, 3}, 96), RandomTensor({2}, 97),
                          RandomTensor({2}, 98), RandomTensor({2}, 99),
                          RandomTensor({2}, 100, 0.2, 2.0)},
                         {0, 1, 2}));
  }
  {
    Node n = MakeNode("BatchNormalization", 14, 5, 1);
    SetAttr(n, "training_mode", int64_t{0});
    cases.push_back(Case("BatchNormalization/2d_training_mode0", n,
                         {RandomTensor({4, 3}, 101), RandomTensor({3}, 102),
                          RandomTensor({3}, 103), RandomTensor({3}, 104),
                          RandomTensor({3}, 105, 0.5, 1.5)},
                         {0, 1, 2}));
  }
}

}  // namespace

void AddNnCases(std::vector<OpCase>& cases) {
  AddConvCases(cases);
  AddGemmCases(cases);
  AddMatMulCases(cases);
  AddPoolCases(cases);
  AddBatchNormalizationCases(cases);
}

}  // namespace onnx_crypt::testing
