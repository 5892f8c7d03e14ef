// Gradient-check cases for the elementwise ops group (see op_check.h).
//
// Inputs of piecewise ops (Relu, LeakyRelu, Clip, HardSigmoid, HardSwish) are
// moved away from their kinks so that central differences measure a one-sided
// slope.
#include <cmath>

#include "tests/support/op_check.h"

namespace onnx_crypt::testing {
namespace {

// Moves every element closer than `margin` to one of `kinks` to kink +/- 2 *
// margin.
Tensor AwayFromKinks(Tensor t, const std::vector<double>& kinks,
                     double margin = 0.05) {
  double* p = t.mutable_data<double>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    for (double k : kinks) {
      if (std::abs(p[i] - k) < margin)
        p[i] = p[i] < k ? k - 2 * margin : k + 2 * margin;
    }
  }
  return t;
}

void AddBinaryCases(std::vector<OpCase>& cases) {
  struct Shapes {
    const char* name;
    Shape a, b;
  };
  const std::vector<Shapes> shapes = {
      {"same_shape", {2, 3}, {2, 3}},
      {"bcast_rhs_trailing", {2, 3, 4}, {4}},
      {"bcast_rhs_middle", {2, 3, 4}, {3, 1}},
      {"bcast_both", {2, 1, 4}, {3, 1}},
      {"bcast_lhs_scalar", {}, {2, 3}},
  };
  uint64_t seed = 1;
  for (const char* op : {"Add", "Sub", "Mul", "Div"}) {
    for (const Shapes& s : shapes) {
      const bool div = std::string(op) == "Div";
      // Div: a denominator in [0.5, 2] keeps 1/b and a/b^2 well conditioned.
      Tensor a = RandomTensor(s.a, seed++);
      Tensor b =
          div ? RandomTensor(s.b, seed++, 0.5, 2.0) : RandomTensor(s.b, seed++);
      cases.push_back(Case(std::string(op) + "/" + s.name,
                           MakeNode(op, 14, 2, 1), {a, b}, {0, 1}));
    }
  }
  // Opset 7 (first multidirectional-broadcast version).
  cases.push_back(Case("Mul/opset7", MakeNode("Mul", 7, 2, 1),
                       {RandomTensor({3, 2}, 90), RandomTensor({2}, 91)},
                       {0, 1}));
  cases.push_back(
      Case("Div/opset7_negative_denominator", MakeNode("Div", 7, 2, 1),
           {RandomTensor({3, 2}, 92), RandomTensor({3, 1}, 93, -2.0, -0.5)},
           {0, 1}));
}

void AddActivationCases(std::vector<OpCase>& cases) {
  cases.push_back(Case("Relu/opset14", MakeNode("Relu", 14, 1, 1),
                       {AwayFromKinks(RandomTensor({3, 4}, 10), {0.0})}, {0}));
  cases.push_back(Case("Relu/opset6", MakeNode("Relu", 6, 1, 1),
                       {AwayFromKinks(RandomTensor({5}, 11), {0.0})}, {0}));

  Node leaky = MakeNode("LeakyRelu", 16, 1, 1);
  SetAttr(leaky, "alpha", 0.3f);
  cases.push_back(Case("LeakyRelu/alpha0.3", leaky,
                       {AwayFromKinks(RandomTensor({2, 5}, 12), {0.0})}, {0}));
  cases.push_back(Case("LeakyRelu/default_alpha",
                       MakeNode("LeakyRelu", 6, 1, 1),
                       {AwayFromKinks(RandomTensor({2, 5}, 13), {0.0})}, {0}));

  cases.push_back(Case("Sigmoid/opset13", MakeNode("Sigmoid", 13, 1, 1),
                       {RandomTensor({3, 4}, 14, -6.0, 6.0)}, {0}));
  cases.push_back(Case("Tanh/opset13", MakeNode("Tanh", 13, 1, 1),
                       {RandomTensor({3, 4}, 15, -3.0, 3.0)}, {0}));

  // Unary math (unary_math.cc): inputs where each function is smooth.
  cases.push_back(Case("Neg/opset13", MakeNode("Neg", 13, 1, 1),
                       {RandomTensor({3, 4}, 41)}, {0}));
  cases.push_back(Case("Abs/opset13", MakeNode("Abs", 13, 1, 1),
                       {AwayFromKinks(RandomTensor({3, 4}, 42), {0.0})}, {0}));
  cases.push_back(Case("Exp/opset13", MakeNode("Exp", 13, 1, 1),
                       {RandomTensor({3, 4}, 43, -2.0, 2.0)}, {0}));
  cases.push_back(Case("Log/opset13", MakeNode("Log", 13, 1, 1),
                       {RandomTensor({3, 4}, 44, 0.5, 3.0)}, {0}));
  cases.push_back(Case("Sqrt/opset13", MakeNode("Sqrt", 13, 1, 1),
                       {RandomTensor({3, 4}, 45, 0.5, 3.0)}, {0}));
  cases.push_back(Case("Reciprocal/opset13", MakeNode("Reciprocal", 13, 1, 1),
                       {RandomTensor({3, 4}, 46, 0.5, 3.0)}, {0}));
  cases.push_back(Case("Erf/opset13", MakeNode("Erf", 13, 1, 1),
                       {RandomTensor({3, 4}, 47, -2.0, 2.0)}, {0}));

  Node hs = MakeNode("HardSigmoid", 6, 1, 1);
  SetAttr(hs, "alpha", 0.5f);
  SetAttr(hs, "beta", 0.6f);
  // Kinks where 0.5 x + 0.6 is 0 or 1.
  cases.push_back(Case(
      "HardSigmoid/alpha0.5_beta0.6", hs,
      {AwayFromKinks(RandomTensor({4, 5}, 16, -3.0, 3.0), {-1.2, 0.8})}, {0}));
  cases.push_back(Case(
      "HardSigmoid/default", MakeNode("HardSigmoid", 6, 1, 1),
      {AwayFromKinks(RandomTensor({4, 5}, 17, -4.0, 4.0), {-2.5, 2.5})}, {0}));

  cases.push_back(Case(
      "HardSwish/opset14", MakeNode("HardSwish", 14, 1, 1),
      {AwayFromKinks(RandomTensor({4, 6}, 18, -5.0, 5.0), {-3.0, 3.0})}, {0}));
}

void AddClipCases(std::vector<OpCase>& cases) {
  Node clip6 = MakeNode("Clip", 6, 1, 1);
  SetAttr(clip6, "min", -0.4f);
  SetAttr(clip6, "max", 0.5f);
  cases.push_back(Case("Clip/opset6_attrs", clip6,
                       {AwayFromKinks(RandomTensor({3, 4}, 20), {-0.4, 0.5})},
                       {0}));
  Node clip6_max = MakeNode("Clip", 6, 1, 1);
  SetAttr(clip6_max, "max", 0.2f);
  cases.push_back(Case("Clip/opset6_max_only", clip6_max,
                       {AwayFromKinks(RandomTensor({6}, 21), {0.2})}, {0}));

  const Tensor lo = Tensor::Scalar<double>(-0.3);
  const Tensor hi = Tensor::Scalar<double>(0.6);
  cases.push_back(Case(
      "Clip/opset13_inputs", MakeNode("Clip", 13, 3, 1),
      {AwayFromKinks(RandomTensor({3, 4}, 22), {-0.3, 0.6}), lo, hi}, {0}));
  cases.push_back(Case(
      "Clip/opset11_min_only", MakeNode("Clip", 11, 3, 1, {2}),
      {AwayFromKinks(RandomTensor({3, 4}, 23), {-0.3}), lo, Tensor()}, {0}));
  cases.push_back(Case(
      "Clip/opset12_max_only", MakeNode("Clip", 12, 3, 1, {1}),
      {AwayFromKinks(RandomTensor({3, 4}, 24), {0.6}), Tensor(), hi}, {0}));
  cases.push_back(Case("Clip/opset13_no_bounds", MakeNode("Clip", 13, 1, 1),
                       {RandomTensor({2, 3}, 25)}, {0}));
}

void AddSoftmaxCases(std::vector<OpCase>& cases) {
  for (const char* op : {"Softmax", "LogSoftmax"}) {
    const std::string name = op;
    // Opset 11: coerced to 2D at axis (default 1): groups of 3 * 4 elements.
    cases.push_back(Case(name + "/opset11_default_axis", MakeNode(op, 11, 1, 1),
                         {RandomTensor({2, 3, 4}, 30, -2.0, 2.0)}, {0}));
    Node n11 = MakeNode(op, 11, 1, 1);
    SetAttr(n11, "axis", int64_t{2});
    cases.push_back(Case(name + "/opset11_axis2", n11,
                         {RandomTensor({2, 3, 4}, 31, -2.0, 2.0)}, {0}));
    Node n11neg = MakeNode(op, 11, 1, 1);
    SetAttr(n11neg, "axis", int64_t{-2});
    cases.push_back(Case(name + "/opset11_axis_neg2", n11neg,
                         {RandomTensor({2, 3, 4}, 32, -2.0, 2.0)}, {0}));
    // Opset 13: one axis (default -1).
    cases.push_back(Case(name + "/opset13_default_axis", MakeNode(op, 13, 1, 1),
                         {RandomTensor({2, 3, 4}, 33, -2.0, 2.0)}, {0}));
    Node n13 = MakeNode(op, 13, 1, 1);
    SetAttr(n13, "axis", int64_t{1});
    cases.push_back(Case(name + "/opset13_axis1", n13,
                         {RandomTensor({2, 3, 4}, 34, -2.0, 2.0)}, {0}));
    Node n13neg = MakeNode(op, 13, 1, 1);
    SetAttr(n13neg, "axis", int64_t{-3});
    cases.push_back(Case(name + "/opset13_axis_neg3", n13neg,
                         {RandomTensor({2, 3, 4}, 35, -2.0, 2.0)}, {0}));
  }
}

void AddPassThroughCases(std::vector<OpCase>& cases) {
  cases.push_back(Case("Identity/opset14", MakeNode("Identity", 14, 1, 1),
                       {RandomTensor({2, 3}, 40)}, {0}));
  Node d7 = MakeNode("Dropout", 7, 1, 2);
  SetAttr(d7, "ratio", 0.3f);
  cases.push_back(
      Case("Dropout/opset7_with_mask", d7, {RandomTensor({2, 3}, 41)}, {0}));
  cases.push_back(Case("Dropout/opset10_with_mask",
                       MakeNode("Dropout", 10, 1, 2), {RandomTensor({4}, 42)},
                       {0}));
  cases.push_back(Case("Dropout/opset13_ratio_training_false",
                       MakeNode("Dropout", 13, 3, 2),
                       {RandomTensor({2, 3}, 43), Tensor::Scalar<double>(0.5),
                        Tensor(DType::kBool, {}) /* false */},
                       {0}));
  cases.push_back(Case("Dropout/opset12_no_optional_inputs",
                       MakeNode("Dropout", 12, 1, 1),
                       {RandomTensor({3, 2}, 44)}, {0}));
}

}  // namespace

void AddElementwiseCases(std::vector<OpCase>& cases) {
  AddBinaryCases(cases);
  AddActivationCases(cases);
  AddClipCases(cases);
  AddSoftmaxCases(cases);
  AddPassThroughCases(cases);
}

}  // namespace onnx_crypt::testing
