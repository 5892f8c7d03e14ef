// Gradient-check cases for Mod and ScatterND (added for the zoo's swin_t).
//
// Mod: fmod = 1 on floats, operands kept away from the jumps (a / b away from
// whole numbers). ScatterND: distinct indices (duplicates are the spec's
// undefined case), a negative one included.
#include <cmath>

#include "tests/support/op_check.h"

namespace onnx_crypt::testing {
namespace {

// a / b at least 0.1 away from a whole number.
Tensor AwayFromJumps(Tensor a, const Tensor& b) {
  double* pa = a.mutable_data<double>();
  const double* pb = b.data<double>();
  const bool scalar = b.numel() == 1;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double d = pb[scalar ? 0 : i % b.numel()];
    const double q = pa[i] / d;
    const double frac = q - std::trunc(q);
    if (std::abs(frac) < 0.1 || std::abs(frac) > 0.9)
      pa[i] = (std::trunc(q) + (q < 0 ? -0.5 : 0.5)) * d;
  }
  return a;
}

}  // namespace

void AddZooCases(std::vector<OpCase>& cases) {
  {
    Node n = MakeNode("Mod", 13, 2, 1);
    SetAttr(n, "fmod", int64_t{1});
    const Tensor b = RandomTensor({4}, 701, 0.5, 1.5);
    cases.push_back(
        Case("Mod/fmod_bcast", n,
             {AwayFromJumps(RandomTensor({3, 4}, 700, -4, 4), b), b}, {0, 1}));
  }
  {
    Node n = MakeNode("ScatterND", 16, 3, 1);
    cases.push_back(
        Case("ScatterND/rows", n,
             {RandomTensor({4, 3}, 710), Int64Tensor({2, 1}, {2, -4}),
              RandomTensor({2, 3}, 711)},
             {0, 2}));
    Node e = MakeNode("ScatterND", 11, 3, 1);
    cases.push_back(Case("ScatterND/elements", e,
                         {RandomTensor({2, 3, 2}, 712),
                          Int64Tensor({3, 3}, {0, 1, 1, 1, 2, 0, 1, 0, 1}),
                          RandomTensor({3}, 713)},
                         {0, 2}));
  }
}

}  // namespace onnx_crypt::testing
