// Gradient-check cases for the ops of part "ops-elem" (issue #12): Where, Pow,
// Max/Min/Sum/Mean, Softplus, Softsign, Elu, Selu, Gelu, PRelu, Cast and
// CastLike (see op_check.h). Comparison, logic and rounding ops have no
// backward; ONNX's node tests and tests/ops/elem_ops_test.cc check them.
//
// Inputs stay away from kinks (Elu, Selu, PRelu at 0) and from ties (Max/Min:
// continuous random values never tie); Pow checks dY with positive bases only.
// Opsets 18+ (Gelu-20, Cast-19/21, CastLike-19/21) are set on the Node
// directly: no model file is built.
#include <cmath>

#include "tests/support/op_check.h"

namespace onnx_crypt::testing {
namespace {

// Moves elements within `margin` of 0 to +-2 margin.
Tensor AwayFromZero(Tensor t, double margin = 0.05) {
  double* p = t.mutable_data<double>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    if (std::abs(p[i]) < margin) p[i] = p[i] < 0 ? -2 * margin : 2 * margin;
  }
  return t;
}

// A bool tensor with a pseudo-random pattern (both values present).
Tensor BoolTensor(const Shape& shape, uint64_t seed) {
  const Tensor r = RandomTensor(shape, seed);
  Tensor t(DType::kBool, shape);
  bool* p = t.mutable_data<bool>();
  const double* q = r.data<double>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = q[i] > 0.0;
  if (t.numel() >= 2) {
    p[0] = true;
    p[1] = false;
  }
  return t;
}

void AddWhereCases(std::vector<OpCase>& cases) {
  cases.push_back(Case("Where/same_shape", MakeNode("Where", 16, 3, 1),
                       {BoolTensor({3, 4}, 300), RandomTensor({3, 4}, 301),
                        RandomTensor({3, 4}, 302)},
                       {1, 2}));
  // cond [2,1,4], X [3,1], Y [4] -> out [2,3,4]: every input is broadcast.
  cases.push_back(Case("Where/bcast_three_way", MakeNode("Where", 9, 3, 1),
                       {BoolTensor({2, 1, 4}, 303), RandomTensor({3, 1}, 304),
                        RandomTensor({4}, 305)},
                       {1, 2}));
  cases.push_back(Case("Where/scalar_y", MakeNode("Where", 16, 3, 1),
                       {BoolTensor({2, 3}, 306), RandomTensor({2, 3}, 307),
                        RandomTensor({}, 308)},
                       {1, 2}));
}

void AddPowCases(std::vector<OpCase>& cases) {
  cases.push_back(Case("Pow/same_shape", MakeNode("Pow", 15, 2, 1),
                       {RandomTensor({3, 4}, 310, 0.5, 2.0),
                        RandomTensor({3, 4}, 311, -2.0, 2.0)},
                       {0, 1}));
  cases.push_back(Case("Pow/bcast_exponent", MakeNode("Pow", 13, 2, 1),
                       {RandomTensor({2, 3, 4}, 312, 0.5, 2.0),
                        RandomTensor({3, 1}, 313, -1.5, 2.5)},
                       {0, 1}));
  cases.push_back(Case(
      "Pow/bcast_base_scalar", MakeNode("Pow", 12, 2, 1),
      {RandomTensor({}, 314, 0.5, 2.0), RandomTensor({2, 3}, 315, -1.0, 3.0)},
      {0, 1}));
  cases.push_back(
      Case("Pow/opset7", MakeNode("Pow", 7, 2, 1),
           {RandomTensor({4}, 316, 0.5, 2.0), RandomTensor({4}, 317, 0.0, 3.0)},
           {0, 1}));
  // Integer exponent (T1 = int64, opset 12+): only the base is differentiable
  // in a float type; negative bases are fine for dX.
  cases.push_back(Case("Pow/int64_exponent_negative_base",
                       MakeNode("Pow", 15, 2, 1),
                       {AwayFromZero(RandomTensor({2, 3}, 318, -2.0, 2.0), 0.2),
                        Int64Tensor({3}, {2, 3, -1})},
                       {0}));
}

void AddVariadicCases(std::vector<OpCase>& cases) {
  for (const char* op : {"Max", "Min", "Sum", "Mean"}) {
    const std::string name(op);
    cases.push_back(Case(name + "/three_inputs_bcast", MakeNode(op, 13, 3, 1),
                         {RandomTensor({2, 3, 4}, 320),
                          RandomTensor({3, 1}, 321), RandomTensor({4}, 322)},
                         {0, 1, 2}));
    cases.push_back(Case(name + "/one_input", MakeNode(op, 8, 1, 1),
                         {RandomTensor({2, 3}, 323)}, {0}));
    // Opset 6 (no broadcasting in the schema): equal shapes.
    cases.push_back(Case(name + "/opset6_two_inputs", MakeNode(op, 6, 2, 1),
                         {RandomTensor({5}, 324), RandomTensor({5}, 325)},
                         {0, 1}));
  }
}

void AddActivationCases(std::vector<OpCase>& cases) {
  cases.push_back(Case("Softplus/opset1", MakeNode("Softplus", 1, 1, 1),
                       {RandomTensor({3, 4}, 330, -6.0, 6.0)}, {0}));
  cases.push_back(Case("Softsign/opset1", MakeNode("Softsign", 1, 1, 1),
                       {AwayFromZero(RandomTensor({3, 4}, 331, -4.0, 4.0))},
                       {0}));
  Node elu = MakeNode("Elu", 6, 1, 1);
  SetAttr(elu, "alpha", 0.7f);
  cases.push_back(Case("Elu/alpha0.7", elu,
                       {AwayFromZero(RandomTensor({3, 4}, 332, -3.0, 3.0))},
                       {0}));
  cases.push_back(Case("Elu/default_alpha", MakeNode("Elu", 6, 1, 1),
                       {AwayFromZero(RandomTensor({6}, 333, -3.0, 3.0))}, {0}));
  cases.push_back(Case("Selu/default", MakeNode("Selu", 6, 1, 1),
                       {AwayFromZero(RandomTensor({3, 4}, 334, -3.0, 3.0))},
                       {0}));
  Node selu = MakeNode("Selu", 6, 1, 1);
  SetAttr(selu, "alpha", 2.0f);
  SetAttr(selu, "gamma", 0.5f);
  cases.push_back(Case("Selu/alpha2_gamma0.5", selu,
                       {AwayFromZero(RandomTensor({6}, 335, -3.0, 3.0))}, {0}));
  cases.push_back(Case("Gelu/opset20_none", MakeNode("Gelu", 20, 1, 1),
                       {RandomTensor({3, 4}, 336, -4.0, 4.0)}, {0}));
  Node gelu_tanh = MakeNode("Gelu", 20, 1, 1);
  SetAttr(gelu_tanh, "approximate", std::string("tanh"));
  cases.push_back(Case("Gelu/opset20_tanh", gelu_tanh,
                       {RandomTensor({3, 4}, 337, -4.0, 4.0)}, {0}));

  // PRelu: slope broadcast unidirectionally to X.
  cases.push_back(Case("PRelu/same_shape", MakeNode("PRelu", 16, 2, 1),
                       {AwayFromZero(RandomTensor({3, 4}, 340)),
                        RandomTensor({3, 4}, 341, 0.1, 0.5)},
                       {0, 1}));
  cases.push_back(Case("PRelu/per_channel", MakeNode("PRelu", 9, 2, 1),
                       {AwayFromZero(RandomTensor({2, 3, 4}, 342)),
                        RandomTensor({3, 1}, 343, 0.1, 0.5)},
                       {0, 1}));
  cases.push_back(Case("PRelu/opset7_scalar_slope", MakeNode("PRelu", 7, 2, 1),
                       {AwayFromZero(RandomTensor({2, 5}, 344)),
                        RandomTensor({1}, 345, 0.1, 0.5)},
                       {0, 1}));
}

void AddCastCases(std::vector<OpCase>& cases) {
  // float64 -> float64 (the float32 pass casts float32 -> float64): dx = dy.
  for (int opset : {6, 9, 13, 19, 21}) {
    Node cast = MakeNode("Cast", opset, 1, 1);
    SetAttr(cast, "to", int64_t{11});  // DOUBLE
    OpCase c = Case("Cast/to_double_opset" + std::to_string(opset), cast,
                    {RandomTensor({2, 3}, 350 + opset)}, {0});
    c.fixed_output_type = true;
    cases.push_back(std::move(c));
  }
  for (int opset : {15, 19, 21}) {
    cases.push_back(Case(
        "CastLike/float_like_float_opset" + std::to_string(opset),
        MakeNode("CastLike", opset, 2, 1),
        {RandomTensor({3, 2}, 380 + opset), RandomTensor({1}, 390 + opset)},
        {0}));
  }
}

}  // namespace

void AddElem2Cases(std::vector<OpCase>& cases) {
  AddWhereCases(cases);
  AddPowCases(cases);
  AddVariadicCases(cases);
  AddActivationCases(cases);
  AddCastCases(cases);
}

}  // namespace onnx_crypt::testing
