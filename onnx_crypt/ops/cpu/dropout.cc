// Dropout, inference only: y = x, the optional mask output is all "kept";
// dx = dy.
//  - opset 7..9: `ratio` attribute; mask has the input's type (all ones).
//  - opset 10, 11: `ratio` attribute; mask is bool (all true).
//  - opset 12+: optional inputs ratio (1) and training_mode (2); a true
//    training_mode is rejected unless the ratio is 0 (then nothing is
//    dropped); random masks are not reproducible and are not needed for
//    locking.
// Only `data` is differentiable.
#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/op_helpers.h"

namespace onnx_crypt::cpu {
namespace {

absl::Status DropoutForward(const Node& node, const TensorRefs& inputs,
                            std::vector<Tensor>& outputs,
                            std::unique_ptr<OpContext>* ctx) {
  OC_RETURN_IF_ERROR(RequireInput(node, inputs, 0));
  const Tensor& x = *inputs[0];
  if (node.opset >= 12 && HasInput(inputs, 2)) {
    const Tensor& training = *inputs[2];
    if (training.numel() != 1) {
      return NodeError(node,
                       absl::StrCat("training_mode must be a scalar, got ",
                                    training.DebugString()));
    }
    // Training mode with ratio 0 keeps every element: the identity, as
    // torchvision's swin_t exports its attention dropout (p = 0).
    double ratio = 0.5;  // the spec's default
    if (HasInput(inputs, 1)) {
      if (inputs[1]->numel() != 1) {
        return NodeError(node, absl::StrCat("ratio must be a scalar, got ",
                                            inputs[1]->DebugString()));
      }
      ratio = inputs[1]->ToDoubleVector()[0];
    }
    if (training.ToInt64Vector()[0] != 0 && ratio != 0.0) {
      return absl::UnimplementedError(absl::StrCat(
          node.Describe(),
          ": training_mode = true with a ratio other than 0 is not supported "
          "(inference only)"));
    }
  }
  outputs[0] = x;
  if (outputs.size() > 1 && node.outputs.size() > 1 &&
      !node.outputs[1].empty()) {
    if (node.opset < 10) {
      // Ones of the input's type: a tensor of 1s converted from int64.
      std::vector<int64_t> ones(static_cast<size_t>(x.numel()), 1);
      outputs[1] =
          Tensor::FromVector<int64_t>(x.shape(), ones).CastTo(x.dtype());
    } else {
      Tensor mask(DType::kBool, x.shape());
      bool* p = mask.mutable_data<bool>();
      for (int64_t i = 0; i < mask.numel(); ++i) p[i] = true;
      outputs[1] = std::move(mask);
    }
  }
  return absl::OkStatus();
}

}  // namespace

void AddDropoutOps(std::vector<OpDef>& ops) {
  OpDef def;
  def.op_type = "Dropout";
  def.forward = DropoutForward;
  def.backward = ReshapeLikeBackward;
  def.differentiable_inputs = 0b1;
  def.since_version = 7;
  def.until_version = 11;  // ratio attribute
  ops.push_back(def);
  def.since_version = 12;  // ratio and training_mode inputs
  def.until_version = 1000;
  ops.push_back(def);
}

}  // namespace onnx_crypt::cpu
