// Gradient-check cases for the shape ops group (see op_check.h).
//
// Data movement ops are linear, so their gradients must match finite
// differences exactly up to rounding; repeated elements (Gather with repeated
// indices, Pad edge/reflect) check that gradients accumulate.
#include "tests/support/op_check.h"

namespace onnx_crypt::testing {
namespace {

void AddReshapeLikeCases(std::vector<OpCase>& cases) {
  Node flat = MakeNode("Flatten", 13, 1, 1);
  SetAttr(flat, "axis", int64_t{2});
  cases.push_back(
      Case("Flatten/axis2", flat, {RandomTensor({2, 3, 4}, 1)}, {0}));
  Node flat_neg = MakeNode("Flatten", 11, 1, 1);
  SetAttr(flat_neg, "axis", int64_t{-1});
  cases.push_back(
      Case("Flatten/axis_neg1", flat_neg, {RandomTensor({2, 3, 2}, 2)}, {0}));
  Node flat0 = MakeNode("Flatten", 9, 1, 1);
  SetAttr(flat0, "axis", int64_t{0});
  cases.push_back(
      Case("Flatten/axis0_opset9", flat0, {RandomTensor({2, 3}, 3)}, {0}));

  cases.push_back(
      Case("Reshape/zero_and_minus_one", MakeNode("Reshape", 14, 2, 1),
           {RandomTensor({2, 3, 4}, 4), Int64Tensor({2}, {0, -1})}, {0}));
  cases.push_back(Case("Reshape/opset5_explicit", MakeNode("Reshape", 5, 2, 1),
                       {RandomTensor({2, 6}, 5), Int64Tensor({3}, {3, 2, 2})},
                       {0}));

  Node sq11 = MakeNode("Squeeze", 11, 1, 1);
  SetAttr(sq11, "axes", std::vector<int64_t>{-1, 1});
  cases.push_back(Case("Squeeze/opset11_attr_negative", sq11,
                       {RandomTensor({3, 1, 2, 1}, 6)}, {0}));
  cases.push_back(
      Case("Squeeze/opset13_axes_input", MakeNode("Squeeze", 13, 2, 1),
           {RandomTensor({1, 3, 1}, 7), Int64Tensor({1}, {0})}, {0}));
  cases.push_back(Case("Squeeze/opset13_all_ones",
                       MakeNode("Squeeze", 13, 1, 1),
                       {RandomTensor({1, 3, 1, 2}, 8)}, {0}));

  Node unsq11 = MakeNode("Unsqueeze", 11, 1, 1);
  SetAttr(unsq11, "axes", std::vector<int64_t>{0, -1});
  cases.push_back(Case("Unsqueeze/opset11_attr_negative", unsq11,
                       {RandomTensor({2, 3}, 9)}, {0}));
  cases.push_back(
      Case("Unsqueeze/opset13_axes_input", MakeNode("Unsqueeze", 13, 2, 1),
           {RandomTensor({2, 3}, 10), Int64Tensor({2}, {3, 1})}, {0}));
}

void AddTransposeConcatCases(std::vector<OpCase>& cases) {
  cases.push_back(Case("Transpose/default_perm",
                       MakeNode("Transpose", 13, 1, 1),
                       {RandomTensor({2, 3, 4}, 20)}, {0}));
  Node t4 = MakeNode("Transpose", 1, 1, 1);
  SetAttr(t4, "perm", std::vector<int64_t>{0, 2, 3, 1});
  cases.push_back(Case("Transpose/nchw_to_nhwc", t4,
                       {RandomTensor({2, 3, 2, 2}, 21)}, {0}));
  Node t3 = MakeNode("Transpose", 13, 1, 1);
  SetAttr(t3, "perm", std::vector<int64_t>{1, 0, 2});
  cases.push_back(
      Case("Transpose/swap_leading", t3, {RandomTensor({3, 2, 2}, 22)}, {0}));

  Node c1 = MakeNode("Concat", 13, 3, 1);
  SetAttr(c1, "axis", int64_t{1});
  cases.push_back(
      Case("Concat/axis1_three_inputs", c1,
           {RandomTensor({2, 1, 3}, 23), RandomTensor({2, 2, 3}, 24),
            RandomTensor({2, 3, 3}, 25)},
           {0, 1, 2}));
  Node cneg = MakeNode("Concat", 11, 2, 1);
  SetAttr(cneg, "axis", int64_t{-1});
  cases.push_back(Case("Concat/axis_neg1", cneg,
                       {RandomTensor({2, 2}, 26), RandomTensor({2, 3}, 27)},
                       {0, 1}));
  Node c0 = MakeNode("Concat", 4, 2, 1);
  SetAttr(c0, "axis", int64_t{0});
  cases.push_back(Case("Concat/axis0_opset4", c0,
                       {RandomTensor({1, 3}, 28), RandomTensor({2, 3}, 29)},
                       {0, 1}));
}

void AddGatherCases(std::vector<OpCase>& cases) {
  // Repeated and negative indices: gradients must accumulate.
  cases.push_back(Case(
      "Gather/axis0_repeated_negative", MakeNode("Gather", 13, 2, 1),
      {RandomTensor({4, 3}, 30), Int64Tensor({2, 2}, {0, -1, 2, 0})}, {0}));
  Node g1 = MakeNode("Gather", 11, 2, 1);
  SetAttr(g1, "axis", int64_t{1});
  cases.push_back(
      Case("Gather/axis1", g1,
           {RandomTensor({2, 4, 3}, 31), Int64Tensor({3}, {3, 1, 3})}, {0}));
  Node gneg = MakeNode("Gather", 13, 2, 1);
  SetAttr(gneg, "axis", int64_t{-1});
  cases.push_back(
      Case("Gather/axis_neg1_int32_indices", gneg,
           {RandomTensor({2, 3}, 32),
            Tensor::FromVector<int32_t>({2}, std::vector<int32_t>{-3, 2})},
           {0}));
  cases.push_back(Case("Gather/scalar_index", MakeNode("Gather", 13, 2, 1),
                       {RandomTensor({3, 2}, 33), Int64Tensor({}, {1})}, {0}));
}

void AddPadCases(std::vector<OpCase>& cases) {
  const Tensor x = RandomTensor({2, 3, 4}, 40);
  // pads: [b0, b1, b2, e0, e1, e2]
  const Tensor pads = Int64Tensor({6}, {0, 1, 2, 1, 2, 1});
  for (const char* mode : {"constant", "edge", "reflect"}) {
    Node n = MakeNode("Pad", 13, 3, 1, {2});
    SetAttr(n, "mode", std::string(mode));
    cases.push_back(
        Case(std::string("Pad/opset13_") + mode, n, {x, pads, Tensor()}, {0}));
  }
  cases.push_back(Case("Pad/opset11_constant_value", MakeNode("Pad", 11, 3, 1),
                       {x, pads, Tensor::Scalar<double>(0.75)}, {0}));
  cases.push_back(Case("Pad/opset13_negative_crop", MakeNode("Pad", 13, 2, 1),
                       {x, Int64Tensor({6}, {-1, 1, -1, 1, 0, -2})}, {0}));
  Node attr = MakeNode("Pad", 2, 1, 1);
  SetAttr(attr, "pads", std::vector<int64_t>{1, 0, 0, 0, 2, 1});
  SetAttr(attr, "value", 1.5f);
  cases.push_back(Case("Pad/opset2_attrs", attr, {x}, {0}));
  Node attr_reflect = MakeNode("Pad", 2, 1, 1);
  SetAttr(attr_reflect, "pads", std::vector<int64_t>{0, 2, 3, 0, 2, 3});
  SetAttr(attr_reflect, "mode", std::string("reflect"));
  cases.push_back(Case("Pad/opset2_reflect_wide", attr_reflect, {x}, {0}));
  Node axes = MakeNode("Pad", 18, 4, 1, {2});
  SetAttr(axes, "mode", std::string("edge"));
  cases.push_back(Case(
      "Pad/opset18_axes", axes,
      {x, Int64Tensor({4}, {2, 0, 1, 3}), Tensor(), Int64Tensor({2}, {-1, 0})},
      {0}));
}

}  // namespace

void AddShapeCases(std::vector<OpCase>& cases) {
  AddReshapeLikeCases(cases);
  AddTransposeConcatCases(cases);
  AddGatherCases(cases);
  AddPadCases(cases);
}

}  // namespace onnx_crypt::testing
