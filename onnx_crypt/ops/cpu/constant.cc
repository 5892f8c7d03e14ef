// Constant (opset 1+): the output is the tensor held by exactly one attribute:
// value (a tensor), or from opset 12 value_float (float32 scalar),
// value_floats (1-D float32), value_int (int64 scalar) or value_ints (1-D
// int64). sparse_value and the string forms are Unimplemented. No inputs, so
// no backward.
#include "onnx_crypt/ops/cpu/cpu_ops.h"
#include "onnx_crypt/ops/cpu/op_helpers.h"

namespace onnx_crypt::cpu {
namespace {

absl::Status ConstantForward(const Node& node, const TensorRefs& inputs,
                             std::vector<Tensor>& outputs,
                             std::unique_ptr<OpContext>* ctx) {
  int given = 0;
  for (const char* key :
       {"value", "value_float", "value_floats", "value_int", "value_ints",
        "sparse_value", "value_string", "value_strings"}) {
    given += node.HasAttr(key) ? 1 : 0;
  }
  if (given != 1) {
    return NodeError(
        node, absl::StrCat("needs exactly one value attribute, got ", given));
  }
  Tensor out;
  if (node.HasAttr("value")) {
    const Attribute& a = node.attrs.at("value");
    if (a.kind != Attribute::Kind::kTensor || a.t == nullptr) {
      return NodeError(node, "attribute 'value' is not a tensor");
    }
    out = *a.t;
  } else if (node.HasAttr("value_float")) {
    out = Tensor::Scalar<float>(node.GetFloat("value_float", 0.0f));
  } else if (node.HasAttr("value_floats")) {
    const std::vector<float> v = node.GetFloats("value_floats", {});
    out = Tensor::FromVector<float>({static_cast<int64_t>(v.size())}, v);
  } else if (node.HasAttr("value_int")) {
    out = Tensor::Scalar<int64_t>(node.GetInt("value_int", 0));
  } else if (node.HasAttr("value_ints")) {
    const std::vector<int64_t> v = node.GetInts("value_ints", {});
    out = Tensor::FromVector<int64_t>({static_cast<int64_t>(v.size())}, v);
  } else {
    return absl::UnimplementedError(absl::StrCat(
        node.Describe(), ": sparse and string constants are not supported"));
  }
  if (!out.defined())
    return NodeError(node, "constant tensor has no element type");
  outputs[0] = std::move(out);
  return absl::OkStatus();
}

}  // namespace

void AddConstantOps(std::vector<OpDef>& ops) {
  OpDef def;
  def.op_type = "Constant";
  def.since_version = 1;
  def.forward = ConstantForward;
  ops.push_back(def);
}

}  // namespace onnx_crypt::cpu
