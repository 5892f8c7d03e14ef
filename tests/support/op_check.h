// Per-op test support: a case table and a finite-difference gradient checker.
//
// Each ops group defines its cases in op_cases_<group>.cc;
// tests/ops/op_gradient_test.cc runs every case and checks that every
// registered op with a backward has at least one case.
#ifndef ONNX_CRYPT_TESTS_SUPPORT_OP_CHECK_H_
#define ONNX_CRYPT_TESTS_SUPPORT_OP_CHECK_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "onnx_crypt/ir/graph.h"
#include "onnx_crypt/ir/tensor.h"

namespace onnx_crypt::testing {

struct OpCase {
  std::string label;  // unique, e.g. "Conv/groups2_dilation2"
  Node node;          // op_type, opset, attrs; inputs/outputs named by MakeNode
  std::vector<Tensor>
      inputs;  // float64 for float inputs (checked in double); ints as they are
  // Inputs whose gradient is checked by finite differences (must be
  // differentiable ones).
  std::vector<int> check_inputs;
  double rtol = 1e-5;
  double atol = 1e-6;
  // ops-elem (issue #12): set when the output type does not follow the inputs'
  // (Cast to=DOUBLE): the float32 forward pass then also gives float64.
  bool fixed_output_type = false;
};

// Node with inputs "in0".."in{n-1}" (an empty name where `absent` marks an
// optional input as missing) and outputs "out0".."out{m-1}".
Node MakeNode(const std::string& op_type, int64_t opset, int num_inputs,
              int num_outputs, const std::vector<int>& absent = {});
void SetAttr(Node& node, const std::string& key, int64_t value);
void SetAttr(Node& node, const std::string& key, float value);
void SetAttr(Node& node, const std::string& key, const std::string& value);
void SetAttr(Node& node, const std::string& key,
             const std::vector<int64_t>& values);
void SetAttr(Node& node, const std::string& key,
             const std::vector<float>& values);

// Deterministic pseudo-random float64 tensor with values in [lo, hi) (seeded by
// `seed`).
Tensor RandomTensor(const Shape& shape, uint64_t seed, double lo = -1.0,
                    double hi = 1.0);
Tensor Int64Tensor(const Shape& shape, const std::vector<int64_t>& values);
// Distinct float64 values evenly spaced over [-1, 1) in a seeded random order:
// every pair differs by at least 2 / numel, far more than the
// finite-difference step, so max-like ops have no ties and no probe crosses a
// kink.
Tensor DistinctTensor(const Shape& shape, uint64_t seed);

// RandomTensor cast to float32.
Tensor RandomFloat(const Shape& shape, uint64_t seed, double lo = -1.0,
                   double hi = 1.0);
// Same shape and the same bytes.
bool BitEqual(const Tensor& a, const Tensor& b);
// The largest |a - b| over two float32 tensors of one shape.
double MaxAbsDiff(const Tensor& a, const Tensor& b);

// A case with the default tolerances.
OpCase Case(const std::string& label, Node node, std::vector<Tensor> inputs,
            std::vector<int> check_inputs);

// Runs the case: forward in float64, backward with random upstream gradients w,
// and compares each checked input's gradient against central differences of
// sum(w * out) (step 1e-6 scaled by |x|). Also runs forward in float32 and
// compares with the float64 result (rtol 1e-4). Returns a failure message
// naming the case, input and element, or OK.
absl::Status CheckOpGradients(const OpCase& op_case);

// Case tables, one per ops group (tests/support/op_cases_*.cc).
void AddElementwiseCases(std::vector<OpCase>& cases);  // group A
void AddShapeCases(std::vector<OpCase>& cases);        // group B
void AddNnCases(std::vector<OpCase>& cases);           // group C
// ops-nn (issue #12): normalizations, reductions, ConvTranspose.
void AddNn2Cases(std::vector<OpCase>& cases);
// --- ops-elem (issue #12) ---
// Where, Pow, Max/Min/Sum/Mean, smooth activations, PRelu, Cast/CastLike.
void AddElem2Cases(std::vector<OpCase>& cases);
// ops-shape (issue #12): Expand, Tile, Slice, Split, GatherElements, Einsum,
// Resize, Upsample (op_cases_shape2.cc).
void AddShape2Cases(std::vector<OpCase>& cases);
// Mod, ScatterND (for the zoo, issue #12).
void AddZooCases(std::vector<OpCase>& cases);
std::vector<OpCase> AllOpCases();

}  // namespace onnx_crypt::testing

#endif  // ONNX_CRYPT_TESTS_SUPPORT_OP_CHECK_H_
