// Factory functions of the CPU reference ops: each returns the OpDef(s) of one
// ONNX operator. Defined one operator per file in this folder; collected by
// ops/registry.cc.
#ifndef ONNX_CRYPT_OPS_CPU_CPU_OPS_H_
#define ONNX_CRYPT_OPS_CPU_CPU_OPS_H_

#include <vector>

#include "onnx_crypt/ops/op.h"

namespace onnx_crypt::cpu {

// Each adds its OpDef(s) (one per opset range with different semantics) to
// `ops`.
// --- math / elementwise (ops group A) ---
void AddAddOps(std::vector<OpDef>& ops);
void AddSubOps(std::vector<OpDef>& ops);
void AddMulOps(std::vector<OpDef>& ops);
void AddDivOps(std::vector<OpDef>& ops);
void AddReluOps(std::vector<OpDef>& ops);
void AddLeakyReluOps(std::vector<OpDef>& ops);
void AddSigmoidOps(std::vector<OpDef>& ops);
void AddTanhOps(std::vector<OpDef>& ops);
void AddClipOps(std::vector<OpDef>& ops);
void AddHardSigmoidOps(std::vector<OpDef>& ops);
void AddHardSwishOps(std::vector<OpDef>& ops);
void AddSoftmaxOps(std::vector<OpDef>& ops);
void AddLogSoftmaxOps(std::vector<OpDef>& ops);
void AddDropoutOps(std::vector<OpDef>& ops);
void AddIdentityOps(std::vector<OpDef>& ops);
// Neg, Abs, Exp, Log, Sqrt, Reciprocal, Erf (unary_math.cc).
void AddUnaryMathOps(std::vector<OpDef>& ops);
// --- shape / data movement (ops group B) ---
void AddFlattenOps(std::vector<OpDef>& ops);
void AddReshapeOps(std::vector<OpDef>& ops);
void AddTransposeOps(std::vector<OpDef>& ops);
void AddConcatOps(std::vector<OpDef>& ops);
void AddSqueezeOps(std::vector<OpDef>& ops);
void AddUnsqueezeOps(std::vector<OpDef>& ops);
void AddConstantOps(std::vector<OpDef>& ops);
void AddShapeOps(std::vector<OpDef>& ops);
void AddGatherOps(std::vector<OpDef>& ops);
void AddPadOps(std::vector<OpDef>& ops);
// --- neural-network ops (ops group C) ---
void AddConvOps(std::vector<OpDef>& ops);
void AddGemmOps(std::vector<OpDef>& ops);
void AddMatMulOps(std::vector<OpDef>& ops);
void AddMaxPoolOps(std::vector<OpDef>& ops);
void AddAveragePoolOps(std::vector<OpDef>& ops);
void AddGlobalAveragePoolOps(std::vector<OpDef>& ops);
void AddBatchNormalizationOps(std::vector<OpDef>& ops);
// --- ops-nn (issue #12): normalizations, reductions, ConvTranspose ---
void AddLayerNormalizationOps(std::vector<OpDef>& ops);
void AddInstanceNormalizationOps(std::vector<OpDef>& ops);
void AddGroupNormalizationOps(std::vector<OpDef>& ops);
// ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2,
// ReduceSumSquare, ReduceLogSum, ReduceLogSumExp (reduce.cc).
void AddReduceOps(std::vector<OpDef>& ops);
void AddArgMaxMinOps(std::vector<OpDef>& ops);  // ArgMax, ArgMin
void AddConvTransposeOps(std::vector<OpDef>& ops);
// --- ops-elem (issue #12): comparison/logic, selection, variadic, smooth
// activations, rounding, casts ---
// Equal, Less, Greater, LessOrEqual, GreaterOrEqual, Not, And, Or, Xor.
void AddCompareLogicOps(std::vector<OpDef>& ops);
void AddWhereOps(std::vector<OpDef>& ops);
void AddPowOps(std::vector<OpDef>& ops);
// Max, Min, Sum, Mean.
void AddVariadicOps(std::vector<OpDef>& ops);
// Softplus, Softsign, Elu, Selu, Gelu.
void AddSmoothActivationOps(std::vector<OpDef>& ops);
void AddPReluOps(std::vector<OpDef>& ops);
// Sign, Floor, Ceil, Round.
void AddRoundingOps(std::vector<OpDef>& ops);
// Cast, CastLike.
void AddCastOps(std::vector<OpDef>& ops);
// --- ops-shape (issue #12): shape computation, indexing, Einsum, Resize ---
void AddExpandOps(std::vector<OpDef>& ops);
void AddTileOps(std::vector<OpDef>& ops);
void AddSliceOps(std::vector<OpDef>& ops);
void AddSplitOps(std::vector<OpDef>& ops);
void AddConstantOfShapeOps(std::vector<OpDef>& ops);
void AddRangeOps(std::vector<OpDef>& ops);
void AddSizeOps(std::vector<OpDef>& ops);
void AddGatherElementsOps(std::vector<OpDef>& ops);
void AddEinsumOps(std::vector<OpDef>& ops);
void AddResizeOps(std::vector<OpDef>& ops);
void AddUpsampleOps(std::vector<OpDef>& ops);
// --- for the zoo (issue #12): swin_t's window arithmetic ---
void AddModOps(std::vector<OpDef>& ops);
void AddScatterNDOps(std::vector<OpDef>& ops);

}  // namespace onnx_crypt::cpu

#endif  // ONNX_CRYPT_OPS_CPU_CPU_OPS_H_
