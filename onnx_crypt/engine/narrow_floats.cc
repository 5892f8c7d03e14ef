#include "onnx_crypt/engine/narrow_floats.h"

#include <memory>
#include <string>
#include <vector>

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

bool HasNarrowTensorAttr(const Node& node) {
  auto it = node.attrs.find("value");
  return it != node.attrs.end() &&
         it->second.kind == Attribute::Kind::kTensor && it->second.t &&
         IsNarrow(it->second.t->dtype());
}

void ComputeNarrowFloatsInFloat32(Graph& graph) {
  bool narrow = false;
  for (const auto& [name, t] : graph.initializers)
    narrow = narrow || IsNarrow(t.dtype());
  for (const ValueInfo& v : graph.inputs) narrow = narrow || IsNarrow(v.dtype);
  for (const ValueInfo& v : graph.outputs) narrow = narrow || IsNarrow(v.dtype);
  for (const Node& node : graph.nodes) {
    narrow =
        narrow ||
        (node.domain.empty() &&
         (node.op_type == "Constant" || node.op_type == "ConstantOfShape") &&
         HasNarrowTensorAttr(node));
  }
  // A float32 model that only casts to float16 somewhere keeps its casts.
  if (!narrow) return;
  for (auto& [name, t] : graph.initializers) {
    if (!IsNarrow(t.dtype())) continue;
    graph.narrow_storage[name] = t.dtype();
    t = t.CastTo(DType::kFloat32);
  }
  for (ValueInfo& v : graph.inputs) Widen(v);
  for (ValueInfo& v : graph.outputs) Widen(v);
  std::vector<Node> nodes;
  nodes.reserve(graph.nodes.size());
  for (Node& node : graph.nodes) {
    if (node.domain.empty() &&
        (node.op_type == "Constant" || node.op_type == "ConstantOfShape")) {
      WidenTensorAttr(node, "value");
    }
    auto to = node.attrs.find("to");
    const bool narrowing_cast =
        node.domain.empty() && node.op_type == "Cast" &&
        to != node.attrs.end() && IsNarrow(static_cast<DType>(to->second.i)) &&
        node.outputs.size() == 1 && !node.outputs[0].empty();
    if (!narrowing_cast) {
      nodes.push_back(std::move(node));
      continue;
    }
    // Cast to float16 rounds as it did, then widens back: x -> float16 ->
    // float32, so the rounding stays where the model put it.
    const std::string out = node.outputs[0];
    const std::string narrowed = out + "/onnx_crypt_narrow";
    node.outputs[0] = narrowed;
    Node widen;
    widen.name = node.name.empty() ? narrowed : node.name + "/onnx_crypt_widen";
    widen.op_type = "Cast";
    widen.opset = node.opset;
    widen.inputs = {narrowed};
    widen.outputs = {out};
    Attribute f32;
    f32.kind = Attribute::Kind::kInt;
    f32.i = static_cast<int64_t>(DType::kFloat32);
    widen.attrs["to"] = f32;
    nodes.push_back(std::move(node));
    nodes.push_back(std::move(widen));
  }
  graph.nodes = std::move(nodes);
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
