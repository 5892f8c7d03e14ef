#include "onnx_crypt/ops/registry.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "onnx_crypt/ops/cpu/cpu_ops.h"

namespace onnx_crypt {

namespace {

std::vector<OpDef> BuildRegistry() {
  std::vector<OpDef> ops;
  // --- math / elementwise (group A) ---
  cpu::AddAddOps(ops);
  cpu::AddSubOps(ops);
  cpu::AddMulOps(ops);
  cpu::AddDivOps(ops);
  cpu::AddReluOps(ops);
  cpu::AddLeakyReluOps(ops);
  cpu::AddSigmoidOps(ops);
  cpu::AddTanhOps(ops);
  cpu::AddClipOps(ops);
  cpu::AddHardSigmoidOps(ops);
  cpu::AddHardSwishOps(ops);
  cpu::AddSoftmaxOps(ops);
  cpu::AddLogSoftmaxOps(ops);
  cpu::AddDropoutOps(ops);
  cpu::AddIdentityOps(ops);
  cpu::AddUnaryMathOps(ops);  // Neg, Abs, Exp, Log, Sqrt, Reciprocal, Erf
  // --- shape / data movement (group B) ---
  cpu::AddFlattenOps(ops);
  cpu::AddReshapeOps(ops);
  cpu::AddTransposeOps(ops);
  cpu::AddConcatOps(ops);
  cpu::AddSqueezeOps(ops);
  cpu::AddUnsqueezeOps(ops);
  cpu::AddConstantOps(ops);
  cpu::AddShapeOps(ops);
  cpu::AddGatherOps(ops);
  cpu::AddPadOps(ops);
  // --- neural-network ops (group C) ---
  cpu::AddConvOps(ops);
  cpu::AddGemmOps(ops);
  cpu::AddMatMulOps(ops);
  cpu::AddMaxPoolOps(ops);
  cpu::AddAveragePoolOps(ops);
  cpu::AddGlobalAveragePoolOps(ops);
  cpu::AddBatchNormalizationOps(ops);
  // --- ops-nn (issue #12): normalizations, reductions, ConvTranspose ---
  cpu::AddLayerNormalizationOps(ops);
  cpu::AddInstanceNormalizationOps(ops);
  cpu::AddGroupNormalizationOps(ops);
  cpu::AddReduceOps(ops);
  cpu::AddArgMaxMinOps(ops);
  cpu::AddConvTransposeOps(ops);
  // --- ops-elem (issue #12) ---
  cpu::AddCompareLogicOps(ops);
  cpu::AddWhereOps(ops);
  cpu::AddPowOps(ops);
  cpu::AddVariadicOps(ops);
  cpu::AddSmoothActivationOps(ops);
  cpu::AddPReluOps(ops);
  cpu::AddRoundingOps(ops);
  cpu::AddCastOps(ops);
  // --- ops-shape (issue #12): shape computation, indexing, Einsum, Resize ---
  cpu::AddExpandOps(ops);
  cpu::AddTileOps(ops);
  cpu::AddSliceOps(ops);
  cpu::AddSplitOps(ops);
  cpu::AddConstantOfShapeOps(ops);
  cpu::AddRangeOps(ops);
  cpu::AddSizeOps(ops);
  cpu::AddGatherElementsOps(ops);
  cpu::AddEinsumOps(ops);
  cpu::AddResizeOps(ops);
  cpu::AddUpsampleOps(ops);
  // --- for the zoo (issue #12): swin_t's window arithmetic ---
  cpu::AddModOps(ops);
  cpu::AddScatterNDOps(ops);
  return ops;
}

}  // namespace

const std::vector<OpDef>& AllOps() {
  static const std::vector<OpDef>* const ops =
      new std::vector<OpDef>(BuildRegistry());
  return *ops;
}

absl::StatusOr<const OpDef*> FindOp(const Node& node) {
  bool type_known = false;
  for (const OpDef& def : AllOps()) {
    if (def.domain != node.domain || def.op_type != node.op_type) continue;
    type_known = true;
    if (node.opset >= def.since_version && node.opset <= def.until_version)
      return &def;
  }
  return absl::UnimplementedError(
      absl::StrCat("unsupported operator ", node.Describe(),
                   type_known ? ": this opset version is not implemented"
                              : ": this operator type is not implemented"));
}

absl::Status CheckAllOpsSupported(const Graph& graph) {
  std::vector<std::string> nodes;
  std::map<std::string, int> per_type;
  for (const Node& node : graph.nodes) {
    if (FindOp(node).ok()) continue;
    nodes.push_back(node.Describe());
    ++per_type[absl::StrCat(node.domain.empty() ? "" : node.domain + ".",
                            node.op_type, "-", node.opset)];
  }
  if (nodes.empty()) return absl::OkStatus();
  std::vector<std::string> counts;
  for (const auto& [type, n] : per_type)
    counts.push_back(absl::StrCat(type, " x", n));
  return absl::UnimplementedError(absl::StrCat(
      nodes.size(), " of ", graph.nodes.size(),
      " nodes use operators the engine does not implement (",
      absl::StrJoin(counts, ", "), "):\n  ", absl::StrJoin(nodes, "\n  ")));
}

}  // namespace onnx_crypt
