#include "onnx_crypt/engine/narrow_floats.h"

#include <memory>

#include "onnx_crypt/ir/half.h"

namespace onnx_crypt {
namespace {

bool IsNarrow(DType d) { return d == DType::kFloat16 || d == DType::kBFloat16; }

void Widen(ValueInfo& v) {
  if (IsNarrow(v.dtype)) v.dtype = DType::kFloat32;
}

void WidenTensorAttr(Node& node, const char* name) {
  auto it = node.attrs.find(name);
  if (it == node.attrs.end() || it->second.kind != Attribute::Kind::kTensor ||
      !it->second.t || !IsNarrow(it->second.t->dtype())) {
    return;
  }
  it->second.t =
      std::make_shared<const Tensor>(it->second.t->CastTo(DType::kFloat32));
}

}  // namespace

void ComputeNarrowFloatsInFloat32(Graph& graph) {
  for (auto& [name, t] : graph.initializers) {
    if (!IsNarrow(t.dtype())) continue;
    graph.narrow_storage[name] = t.dtype();
    t = t.CastTo(DType::kFloat32);
  }
  for (ValueInfo& v : graph.inputs) Widen(v);
  for (ValueInfo& v : graph.outputs) Widen(v);
  for (Node& node : graph.nodes) {
    if (!node.domain.empty()) continue;
    if (node.op_type == "Cast") {
      auto to = node.attrs.find("to");
      if (to != node.attrs.end() &&
          IsNarrow(static_cast<DType>(to->second.i))) {
        to->second.i = static_cast<int64_t>(DType::kFloat32);
      }
    } else if (node.op_type == "Constant") {
      WidenTensorAttr(node, "value");
    } else if (node.op_type == "ConstantOfShape") {
      WidenTensorAttr(node, "value");
    }
  }
}

float RoundToStorage(float value, DType storage) {
  switch (storage) {
    case DType::kFloat16:
      return HalfToFloat32(Float32ToHalf(value));
    case DType::kBFloat16:
      return BFloat16ToFloat32(Float32ToBFloat16(value));
    default:
      return value;
  }
}

}  // namespace onnx_crypt
