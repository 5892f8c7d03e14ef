// The one op table (ops/registry.h) and the kernels backends attach to it:
// every declaration is well formed and declared once per opset; every CUDA
// kernel names an op declaration whose opsets cover its own (so no kernel
// exists for an op the table does not know); an op without a CUDA kernel is
// planned as a CPU fallback rather than refused. Needs no GPU.
#include <algorithm>
#include <map>
#include <string>
#include <utility>

#include "gtest/gtest.h"
#include "onnx_crypt/engine/plan.h"
#include "onnx_crypt/ops/registry.h"
#include "tests/support/graphs.h"

#if defined(ONNX_CRYPT_HAVE_CUDA)
#include "onnx_crypt/engine/cuda/cuda_engine.h"
#include "onnx_crypt/engine/cuda/cuda_ops.h"
#endif

namespace onnx_crypt {
namespace {

TEST(OpTableTest, EveryDeclarationIsWellFormedAndUnique) {
  std::map<std::pair<std::string, std::string>, std::vector<const OpDef*>>
      by_type;
  for (const OpDef& def : AllOps()) {
    SCOPED_TRACE(def.op_type);
    EXPECT_FALSE(def.op_type.empty());
    EXPECT_NE(def.forward, nullptr);
    EXPECT_LE(def.since_version, def.until_version);
    // A backward exactly when the schema has a differentiable input.
    EXPECT_EQ(def.backward != nullptr, def.differentiable_inputs != 0u);
    by_type[{def.domain, def.op_type}].push_back(&def);
  }
  for (const auto& [key, defs] : by_type) {
    for (size_t i = 0; i < defs.size(); ++i) {
      for (size_t j = i + 1; j < defs.size(); ++j) {
        const bool overlap = defs[i]->since_version <= defs[j]->until_version &&
                             defs[j]->since_version <= defs[i]->until_version;
        EXPECT_FALSE(overlap)
            << key.second << " is declared twice for an opset";
      }
    }
  }
}

#if defined(ONNX_CRYPT_HAVE_CUDA)

// Whether the op table declares (domain, type) at every opset in [lo, hi].
bool Covered(const std::string& domain, const std::string& type, int lo,
             int hi) {
  for (int v = lo; v <= hi; ++v) {
    bool found = false;
    for (const OpDef& def : AllOps()) {
      found |= def.domain == domain && def.op_type == type &&
               v >= def.since_version && v <= def.until_version;
    }
    if (!found) return false;
  }
  return true;
}

TEST(OpTableTest, EveryCudaKernelNamesAnOpOfTheTable) {
  ASSERT_FALSE(cuda::AllCudaKernels().empty());
  for (const cuda::CudaKernel& k : cuda::AllCudaKernels()) {
    SCOPED_TRACE(k.op_type);
    EXPECT_NE(k.forward, nullptr);
    // Opsets 1..21 exist today; a kernel open-ended at 1000 must be covered
    // up to the newest.
    const int hi = std::min(k.until_version, 21);
    EXPECT_TRUE(Covered(k.domain, k.op_type, k.since_version, hi))
        << k.op_type << " [" << k.since_version << ", " << k.until_version
        << "] is not (wholly) an op of the table";
    // A kernel without backward only for an op without differentiable
    // inputs, which the executor never asks for a gradient.
    if (k.backward == nullptr) {
      for (const OpDef& def : AllOps()) {
        if (def.domain == k.domain && def.op_type == k.op_type)
          EXPECT_EQ(def.differentiable_inputs, 0u);
      }
    }
  }
}

TEST(OpTableTest, OpsWithoutCudaKernelFallBackToTheCpu) {
  Graph g;
  g.opsets[""] = 13;
  ValueInfo x;
  x.name = "x";
  x.dtype = DType::kFloat32;
  g.inputs.push_back(x);
  g.nodes = {testing::Op("Erf", {"x"}, {"y"}),
             testing::Op("Relu", {"y"}, {"z"})};
  ValueInfo out;
  out.name = "z";
  g.outputs.push_back(out);
  absl::StatusOr<ExecutionPlan> plan =
      ExecutionPlan::Build(g, CudaBackendTraits());
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->steps()[0].placement, Placement::kFallback);
  EXPECT_EQ(plan->steps()[1].placement, Placement::kKernel);
  EXPECT_EQ(plan->StepsOffKernel(), std::vector<int>{0});
}

#endif  // ONNX_CRYPT_HAVE_CUDA

}  // namespace
}  // namespace onnx_crypt
