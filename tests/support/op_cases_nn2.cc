// Gradient-check cases for the ops-nn part of issue #12 (see op_check.h):
// LayerNormalization, InstanceNormalization, GroupNormalization (18 and 21),
// the ten Reduce* ops (attribute and input axes), ArgMax/ArgMin (forward
// only: float32 agrees with float64) and ConvTranspose.
#include <algorithm>
#include <numeric>

#include "tests/support/op_check.h"

namespace onnx_crypt::testing {

namespace {

using Ints = std::vector<int64_t>;

void AddNormalizationCases(std::vector<OpCase>& cases) {
  {
    Node n = MakeNode("LayerNormalization", 17, 3, 1);
    cases.push_back(Case("LayerNormalization/last_axis", n,
                         {RandomTensor({2, 3, 4}, 1), RandomTensor({4}, 2),
                          RandomTensor({4}, 3)},
                         {0, 1, 2}));
  }
  {
    // Mean and InvStdDev are outputs too: gradients flow in through them.
    Node n = MakeNode("LayerNormalization", 17, 3, 3);
    SetAttr(n, "axis", int64_t{1});
    SetAttr(n, "epsilon", 1e-3f);
    cases.push_back(Case("LayerNormalization/axis1_stats_outputs", n,
                         {RandomTensor({2, 3, 4}, 4), RandomTensor({3, 4}, 5),
                          RandomTensor({3, 4}, 6)},
                         {0, 1, 2}));
  }
  {
    // No bias; Scale [1, 4] broadcasts over the normalized [3, 4].
    Node n = MakeNode("LayerNormalization", 21, 2, 1);
    SetAttr(n, "axis", int64_t{-2});
    cases.push_back(Case("LayerNormalization/no_bias_broadcast_scale", n,
                         {RandomTensor({2, 3, 4}, 7), RandomTensor({1, 4}, 8)},
                         {0, 1}));
  }
  {
    Node n = MakeNode("LayerNormalization", 17, 3, 2);
    SetAttr(n, "axis", int64_t{0});
    cases.push_back(Case("LayerNormalization/axis0_mean_output", n,
                         {RandomTensor({3, 2}, 9), RandomTensor({3, 2}, 10),
                          RandomTensor({3, 2}, 11)},
                         {0, 1, 2}));
  }
  {
    Node n = MakeNode("InstanceNormalization", 6, 3, 1);
    SetAttr(n, "epsilon", 1e-2f);
    cases.push_back(Case("InstanceNormalization/4d", n,
                         {RandomTensor({2, 3, 4, 2}, 12), RandomTensor({3}, 13),
                          RandomTensor({3}, 14)},
                         {0, 1, 2}));
  }
  {
    Node n = MakeNode("InstanceNormalization", 21, 3, 1);
    cases.push_back(Case("InstanceNormalization/3d", n,
                         {RandomTensor({1, 2, 5}, 15), RandomTensor({2}, 16),
                          RandomTensor({2}, 17)},
                         {0, 1, 2}));
  }
  {
    Node n = MakeNode("GroupNormalization", 18, 3, 1);
    SetAttr(n, "num_groups", int64_t{2});
    cases.push_back(Case("GroupNormalization/18_per_group_scale", n,
                         {RandomTensor({2, 4, 3, 2}, 18), RandomTensor({2}, 19),
                          RandomTensor({2}, 20)},
                         {0, 1, 2}));
  }
  {
    Node n = MakeNode("GroupNormalization", 21, 3, 1);
    SetAttr(n, "num_groups", int64_t{2});
    SetAttr(n, "epsilon", 1e-3f);
    cases.push_back(Case("GroupNormalization/21_per_channel_scale", n,
                         {RandomTensor({2, 4, 3, 2}, 21), RandomTensor({4}, 22),
                          RandomTensor({4}, 23)},
                         {0, 1, 2}));
  }
  {
    Node n = MakeNode("GroupNormalization", 21, 3, 1);
    SetAttr(n, "num_groups", int64_t{1});
    cases.push_back(Case("GroupNormalization/21_one_group_3d", n,
                         {RandomTensor({2, 3, 4}, 24), RandomTensor({3}, 25),
                          RandomTensor({3}, 26)},
                         {0, 1, 2}));
  }
}

struct ReduceSpec {
  const char* op;
  int input_axes_since;
  double lo, hi;  // input range; Max/Min use Distinct values instead
};

void AddReduceCases(std::vector<OpCase>& cases) {
  const ReduceSpec specs[] = {
      {"ReduceSum", 13, -1, 1},       {"ReduceMean", 18, -1, 1},
      {"ReduceMax", 18, 0, 0},        {"ReduceMin", 18, 0, 0},
      {"ReduceProd", 18, 0.5, 1.5},   {"ReduceL1", 18, -1, 1},
      {"ReduceL2", 18, -1, 1},        {"ReduceSumSquare", 18, -1, 1},
      {"ReduceLogSum", 18, 0.5, 2.0}, {"ReduceLogSumExp", 18, -2, 2},
  };
  uint64_t seed = 100;
  for (const ReduceSpec& s : specs) {
    const std::string op = s.op;
    const bool distinct = s.lo == s.hi;
    auto data = [&](const Shape& shape) {
      ++seed;
      return distinct ? DistinctTensor(shape, seed)
                      : RandomTensor(shape, seed, s.lo, s.hi);
    };
    const int attr_opset = s.input_axes_since == 13 ? 11 : 13;
    {
      Node n = MakeNode(op, attr_opset, 1, 1);
      SetAttr(n, "axes", Ints{1});
      cases.push_back(
          Case(op + "/attr_axes_keepdims", n, {data({2, 3, 4})}, {0}));
    }
    {
      Node n = MakeNode(op, attr_opset, 1, 1);
      SetAttr(n, "axes", Ints{-1, 0});
      SetAttr(n, "keepdims", int64_t{0});
      cases.push_back(Case(op + "/attr_negative_axes_no_keepdims", n,
                           {data({3, 2, 4})}, {0}));
    }
    {
      Node n = MakeNode(op, 7, 1, 1);
      cases.push_back(
          Case(op + "/attr_all_axes_opset7", n, {data({2, 3})}, {0}));
    }
    {
      Node n = MakeNode(op, s.input_axes_since, 2, 1);
      SetAttr(n, "keepdims", int64_t{0});
      cases.push_back(Case(op + "/input_axes", n,
                           {data({2, 3, 2}), Int64Tensor({2}, {0, 2})}, {0}));
    }
    {
      Node n = MakeNode(op, 21, 2, 1, {1});
      cases.push_back(Case(op + "/input_axes_absent_all", n,
                           {data({3, 2}), Tensor()}, {0}));
    }
    {
      Node n = MakeNode(op, s.input_axes_since, 2, 1);
      SetAttr(n, "noop_with_empty_axes", int64_t{1});
      cases.push_back(Case(op + "/noop_with_empty_axes", n,
                           {data({2, 3}), Int64Tensor({0}, {})}, {0}));
    }
  }
  {
    // Exactness of Prod's gradient with zeros: one zero in a group gets the
    // product of the others, two zeros give 0.
    Tensor x = RandomTensor({2, 4}, 300, 0.5, 1.5);
    x.mutable_data<double>()[1] = 0.0;
    x.mutable_data<double>()[4] = 0.0;
    x.mutable_data<double>()[6] = 0.0;
    Node n = MakeNode("ReduceProd", 18, 2, 1);
    cases.push_back(
        Case("ReduceProd/zeros", n, {x, Int64Tensor({1}, {1})}, {0}));
  }
  for (const char* op : {"ArgMax", "ArgMin"}) {
    Node n = MakeNode(op, 13, 1, 1);
    SetAttr(n, "axis", int64_t{1});
    SetAttr(n, "keepdims", int64_t{0});
    cases.push_back(Case(std::string(op) + "/forward_axis1", n,
                         {DistinctTensor({2, 5, 3}, 400)}, {}));
  }
}

void AddConvTransposeCases(std::vector<OpCase>& cases) {
  {
    Node n = MakeNode("ConvTranspose", 11, 3, 1);
    SetAttr(n, "strides", Ints{2, 1});
    SetAttr(n, "pads", Ints{1, 0, 0, 2});
    cases.push_back(
        Case("ConvTranspose/2d_bias_stride_asym_pads", n,
             {RandomTensor({2, 3, 3, 4}, 500), RandomTensor({3, 2, 3, 3}, 501),
              RandomTensor({2}, 502)},
             {0, 1, 2}));
  }
  {
    Node n = MakeNode("ConvTranspose", 11, 2, 1);
    SetAttr(n, "group", int64_t{2});
    SetAttr(n, "dilations", Ints{2, 1});
    SetAttr(n, "strides", Ints{2, 3});
    SetAttr(n, "output_padding", Ints{1, 2});
    cases.push_back(
        Case("ConvTranspose/groups2_dilation_output_padding", n,
             {RandomTensor({1, 4, 3, 2}, 503), RandomTensor({4, 3, 2, 3}, 504)},
             {0, 1}));
  }
  {
    Node n = MakeNode("ConvTranspose", 11, 3, 1);
    SetAttr(n, "auto_pad", std::string("SAME_UPPER"));
    SetAttr(n, "strides", Ints{2, 2});
    cases.push_back(
        Case("ConvTranspose/same_upper", n,
             {RandomTensor({1, 2, 3, 3}, 505), RandomTensor({2, 2, 3, 3}, 506),
              RandomTensor({2}, 507)},
             {0, 1, 2}));
  }
  {
    Node n = MakeNode("ConvTranspose", 1, 2, 1);
    SetAttr(n, "auto_pad", std::string("SAME_LOWER"));
    SetAttr(n, "strides", Ints{2});
    cases.push_back(Case(
        "ConvTranspose/1d_same_lower_opset1", n,
        {RandomTensor({2, 2, 4}, 508), RandomTensor({2, 3, 4}, 509)}, {0, 1}));
  }
  {
    Node n = MakeNode("ConvTranspose", 21, 2, 1);
    SetAttr(n, "strides", Ints{3, 2});
    SetAttr(n, "output_shape", Ints{10, 8});
    cases.push_back(
        Case("ConvTranspose/output_shape_larger", n,
             {RandomTensor({1, 1, 3, 3}, 510), RandomTensor({1, 2, 3, 3}, 511)},
             {0, 1}));
  }
  {
    Node n = MakeNode("ConvTranspose", 11, 3, 1);
    SetAttr(n, "strides", Ints{1, 2, 1});
    SetAttr(n, "pads", Ints{0, 1, 0, 1, 0, 1});
    cases.push_back(
        Case("ConvTranspose/3d", n,
             {RandomTensor({1, 2, 2, 3, 2}, 512),
              RandomTensor({2, 2, 2, 3, 2}, 513), RandomTensor({2}, 514)},
             {0, 1, 2}));
  }
}

}  // namespace

void AddNn2Cases(std::vector<OpCase>& cases) {
  AddNormalizationCases(cases);
  AddReduceCases(cases);
  AddConvTransposeCases(cases);
}

}  // namespace onnx_crypt::testing
