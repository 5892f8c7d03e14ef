// Every registered op's backward against central finite differences (float64),
// iterating the registry: an op with a backward but no case fails the coverage
// test.
#include <set>

#include "gtest/gtest.h"
#include "onnx_crypt/ops/registry.h"
#include "tests/support/op_check.h"

namespace onnx_crypt::testing {
namespace {

TEST(OpGradientTest, EveryDifferentiableOpHasAGradientCase) {
  std::set<std::string> covered;
  for (const OpCase& c : AllOpCases()) {
    if (!c.check_inputs.empty()) covered.insert(c.node.op_type);
  }
  int differentiable = 0;
  for (const OpDef& def : AllOps()) {
    if (def.backward == nullptr) continue;
    ++differentiable;
    EXPECT_TRUE(covered.count(def.op_type))
        << def.op_type << " has no gradient-check case";
  }
  EXPECT_GT(differentiable, 0) << "no op with a backward is registered";
}

TEST(OpGradientTest, BackwardMatchesFiniteDifferences) {
  const std::vector<OpCase> cases = AllOpCases();
  ASSERT_FALSE(cases.empty());
  std::set<std::string> labels;
  for (const OpCase& c : cases) {
    EXPECT_TRUE(labels.insert(c.label).second)
        << "duplicate case label " << c.label;
    const absl::Status status = CheckOpGradients(c);
    EXPECT_TRUE(status.ok()) << status;
  }
  std::cout << "gradient cases run: " << cases.size() << "\n";
}

}  // namespace
}  // namespace onnx_crypt::testing
