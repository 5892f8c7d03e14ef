// Graph IR: what the engines execute. Built from an ONNX ModelProto by
// onnx_crypt/onnx only.
//
// Values are named by strings as in ONNX; an empty input name means "optional
// input absent". Nodes are kept in topological order (TopologicalSort()
// establishes it).
#ifndef ONNX_CRYPT_IR_GRAPH_H_
#define ONNX_CRYPT_IR_GRAPH_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "onnx_crypt/ir/tensor.h"

namespace onnx_crypt {

struct Attribute {
  enum class Kind {
    kUndefined,
    kFloat,
    kInt,
    kString,
    kTensor,
    kFloats,
    kInts,
    kStrings
  };
  Kind kind = Kind::kUndefined;
  float f = 0.0f;
  int64_t i = 0;
  std::string s;
  std::shared_ptr<const Tensor> t;
  std::vector<float> floats;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;
};

struct Node {
  std::string
      name;  // may be empty in the file; Describe() then uses the first output
  std::string op_type;
  std::string
      domain;  // "" for the default ONNX domain ("ai.onnx" is normalized to "")
  int64_t opset = 0;  // the model's opset for `domain`
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  std::map<std::string, Attribute> attrs;

  bool HasAttr(const std::string& key) const { return attrs.count(key) > 0; }
  int64_t GetInt(const std::string& key, int64_t fallback) const;
  float GetFloat(const std::string& key, float fallback) const;
  std::string GetString(const std::string& key,
                        const std::string& fallback) const;
  std::vector<int64_t> GetInts(const std::string& key,
                               const std::vector<int64_t>& fallback) const;
  std::vector<float> GetFloats(const std::string& key,
                               const std::vector<float>& fallback) const;
  // "Conv-11 node 'conv1'" for error messages.
  std::string Describe() const;
};

struct ValueInfo {
  std::string name;
  DType dtype = DType::kUndefined;
  // -1 for a dimension that is unknown or symbolic (then dim_params holds its
  // name, if any).
  Shape dims;
  std::vector<std::string> dim_params;
  bool has_shape = false;
};

struct Graph {
  std::string name;
  std::vector<Node> nodes;                     // topological order
  std::map<std::string, Tensor> initializers;  // float/int constants, by name
  std::vector<std::string>
      initializer_order;  // names in file order (tensor order for ties)
  // Floating-point tensors the file holds in Constant nodes (the other way
  // ONNX stores weights, as Paddle's exporter does), named by the node's
  // output, in file node order. They are in `initializers` like any other
  // (eligible, editable by the engine), and their Constant nodes are not in
  // `nodes`; OnnxModel writes them back into the node's attribute. Not part of
  // initializer_order, so the initializer fingerprint of the key stays what it
  // was for models locked before; the key's per-tensor and structure
  // fingerprints cover them.
  std::vector<std::string> constant_order;
  // Initializers the file holds as float16 / bfloat16 that this graph holds
  // widened to float32 (engine/narrow_floats.h), with the file's dtype.
  std::map<std::string, DType> narrow_storage;
  std::vector<ValueInfo> inputs;  // graph inputs that are not initializers
  std::vector<ValueInfo> outputs;
  std::map<std::string, int64_t> opsets;  // domain -> version

  // Reorders `nodes` topologically (stable with respect to file order). Fails
  // on a cycle or on an input that no node, initializer or graph input
  // produces.
  absl::Status TopologicalSort();
  // initializer_order, then constant_order: every parameter in file order.
  std::vector<std::string> ParameterOrder() const;
  // Index of the node producing `value`, or -1.
  int FindProducer(const std::string& value) const;
};

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_IR_GRAPH_H_
