// Node-at-a-time shape inference: see infer_shapes.h for why. Each node gets
// a model of its own: the model's opset imports, the node, its inputs as
// typed graph inputs, and the small constants among them (initializers and
// Constant outputs) as initializers, since inference reads the values of some
// inputs (Reshape's shape, Slice's starts). The outputs libonnx infers there
// become the types the next nodes see.
#include "onnx_crypt/onnx/infer_shapes.h"

#include <onnx/defs/schema.h>
#include <onnx/shape_inference/implementation.h>

#include <map>
#include <set>
#include <string>
#include <utility>

namespace onnx_crypt {

namespace {

// Constants up to this many elements go into the one-node models as values;
// larger ones (weights) only as typed inputs, so that they are not copied
// once per reader. Data-dependent inference reads shapes, axes and counts.
constexpr int64_t kMaxConstantElements = 4096;

// The number of elements of `t`, or -1 when a dimension is negative or the
// product exceeds kMaxConstantElements.
int64_t SmallNumElements(const onnx::TensorProto& t) {
  int64_t n = 1;
  for (int64_t d : t.dims()) {
    if (d < 0 || (d > 0 && n > kMaxConstantElements / d)) return -1;
    n *= d;
  }
  return n;
}

onnx::TypeProto TypeOfTensor(const onnx::TensorProto& t) {
  onnx::TypeProto type;
  onnx::TypeProto::Tensor* tensor = type.mutable_tensor_type();
  tensor->set_elem_type(t.data_type());
  onnx::TensorShapeProto* shape = tensor->mutable_shape();
  for (int64_t d : t.dims()) shape->add_dim()->set_dim_value(d);
  return type;
}

bool IsDefaultDomain(const std::string& domain) {
  return domain.empty() || domain == "ai.onnx";
}

}  // namespace

std::set<std::string> DomainsNewerThanLibonnx(const onnx::ModelProto& model) {
  const auto& known =
      onnx::OpSchemaRegistry::DomainToVersionRange::Instance().Map();
  std::set<std::string> newer;
  for (const onnx::OperatorSetIdProto& opset : model.opset_import()) {
    const std::string domain =
        IsDefaultDomain(opset.domain()) ? std::string() : opset.domain();
    auto it = known.find(domain);
    if (it != known.end() && opset.version() > it->second.second) {
      newer.insert(opset.domain());
      if (domain.empty()) newer.insert(opset.domain().empty() ? "ai.onnx" : "");
    }
  }
  return newer;
}

namespace {

bool HasSubgraph(const onnx::NodeProto& node) {
  for (const onnx::AttributeProto& attr : node.attribute()) {
    if (attr.has_g() || attr.graphs_size() > 0 ||
        attr.type() == onnx::AttributeProto::GRAPH ||
        attr.type() == onnx::AttributeProto::GRAPHS) {
      return true;
    }
  }
  return false;
}

// The rank of input `i` of `node` when its type is known with a shape, else
// -1.
int InputRank(const onnx::NodeProto& node, int i,
              const std::map<std::string, onnx::TypeProto>& known) {
  if (i >= node.input_size()) return -1;
  auto it = known.find(node.input(i));
  if (it == known.end() || !it->second.has_tensor_type() ||
      !it->second.tensor_type().has_shape()) {
    return -1;
  }
  return it->second.tensor_type().shape().dim_size();
}

// The preconditions of infer_shapes.h.
bool MeetsPreconditions(const onnx::NodeProto& node,
                        const std::map<std::string, onnx::TypeProto>& known) {
  if (!IsDefaultDomain(node.domain())) return true;
  const std::string& op = node.op_type();
  int weight = -1;
  if (op == "Conv" || op == "ConvInteger" || op == "ConvTranspose") {
    weight = 1;
  } else if (op == "QLinearConv") {
    weight = 3;
  }
  if (weight >= 0) {
    const int x_rank = InputRank(node, 0, known);
    const int w_rank = InputRank(node, weight, known);
    if (x_rank >= 0 && w_rank >= 0 && (x_rank != w_rank || x_rank < 3)) {
      return false;
    }
  }
  if (op == "LayerNormalization") {
    const int rank = InputRank(node, 0, known);
    int64_t axis = -1;
    for (const onnx::AttributeProto& attr : node.attribute()) {
      if (attr.name() == "axis") axis = attr.i();
    }
    if (rank >= 0 && (rank < 1 || axis < -rank || axis >= rank)) return false;
  }
  return true;
}

// The output types libonnx infers for `node` alone.
std::map<std::string, onnx::TypeProto> InferNode(
    const onnx::ModelProto& model, const onnx::NodeProto& node,
    const std::map<std::string, onnx::TypeProto>& known,
    const std::map<std::string, const onnx::TensorProto*>& constants) {
  onnx::ModelProto one;
  one.set_ir_version(model.ir_version());
  *one.mutable_opset_import() = model.opset_import();
  onnx::GraphProto* graph = one.mutable_graph();
  graph->set_name("node");
  std::set<std::string> added;
  for (const std::string& name : node.input()) {
    if (name.empty() || !added.insert(name).second) continue;
    auto type = known.find(name);
    if (type == known.end()) continue;  // unknown: inferred without it
    onnx::ValueInfoProto* input = graph->add_input();
    input->set_name(name);
    *input->mutable_type() = type->second;
    auto constant = constants.find(name);
    if (constant != constants.end() &&
        SmallNumElements(*constant->second) >= 0) {
      onnx::TensorProto* value = graph->add_initializer();
      *value = *constant->second;
      value->set_name(name);  // a Constant's attribute tensor may have none
    }
  }
  *graph->add_node() = node;
  try {
    onnx::shape_inference::InferShapes(one);
  } catch (...) {
    // Inference is for information only; a node it cannot do stays unknown.
    return {};
  }
  // libonnx names the dimensions it cannot compute "unk__N", unique within
  // the model it sees; here that is one node, so the names would repeat
  // across nodes and claim equalities that do not hold. They are dropped
  // (the dimensions stay unknown); names the inputs carried are kept.
  std::set<std::string> input_params;
  for (const onnx::ValueInfoProto& input : graph->input()) {
    for (const auto& d : input.type().tensor_type().shape().dim()) {
      if (d.has_dim_param()) input_params.insert(d.dim_param());
    }
  }
  std::map<std::string, onnx::TypeProto> out;
  for (const onnx::ValueInfoProto& value : graph->value_info()) {
    onnx::TypeProto type = value.type();
    if (type.has_tensor_type() && type.tensor_type().has_shape()) {
      for (auto& d :
           *type.mutable_tensor_type()->mutable_shape()->mutable_dim()) {
        if (d.has_dim_param() && d.dim_param().rfind("unk__", 0) == 0 &&
            !input_params.count(d.dim_param())) {
          d.clear_dim_param();
        }
      }
    }
    out[value.name()] = std::move(type);
  }
  return out;
}

// The type of a node output: what inference found merged into what the file
// declares, as whole-graph inference merges them (a declared dimension stays
// when inference has none; a conflict keeps the declaration).
onnx::TypeProto MergeTypes(const onnx::TypeProto* inferred,
                           const onnx::TypeProto* declared) {
  if (declared == nullptr) return *inferred;
  if (inferred == nullptr || !inferred->has_tensor_type() ||
      !declared->has_tensor_type()) {
    return *declared;
  }
  const onnx::TypeProto::Tensor& from = inferred->tensor_type();
  const onnx::TypeProto::Tensor& into = declared->tensor_type();
  // mergeShapesAndTypes indexes the declared dims by the inferred rank: it
  // needs equal ranks (whole-graph inference checks them first, too).
  if ((from.elem_type() != into.elem_type() &&
       into.elem_type() != onnx::TensorProto::UNDEFINED) ||
      (from.has_shape() && into.has_shape() &&
       from.shape().dim_size() != into.shape().dim_size())) {
    return *declared;
  }
  onnx::TypeProto merged = *declared;
  try {
    onnx::shape_inference::mergeShapesAndTypes(inferred->tensor_type(),
                                               merged.mutable_tensor_type());
  } catch (...) {
    return *declared;
  }
  return merged;
}

onnx::ValueInfoProto MakeValueInfo(const std::string& name,
                                   const onnx::TypeProto& type) {
  onnx::ValueInfoProto value;
  value.set_name(name);
  *value.mutable_type() = type;
  return value;
}

}  // namespace

std::vector<onnx::ValueInfoProto> InferValueTypes(
    const onnx::ModelProto& model) {
  const onnx::GraphProto& graph = model.graph();
  std::set<std::pair<std::string, std::string>> functions;
  for (const onnx::FunctionProto& f : model.functions()) {
    functions.emplace(f.domain(), f.name());
  }
  std::map<std::string, onnx::TypeProto> known;
  std::map<std::string, const onnx::TensorProto*> constants;
  for (const onnx::TensorProto& t : graph.initializer()) {
    known[t.name()] = TypeOfTensor(t);
    constants[t.name()] = &t;
  }
  for (const onnx::ValueInfoProto& v : graph.input()) {
    if (v.has_type()) known[v.name()] = v.type();
  }
  std::map<std::string, const onnx::TypeProto*> declared;
  for (const onnx::ValueInfoProto& v : graph.value_info()) {
    if (v.has_type()) declared[v.name()] = &v.type();
  }
  for (const onnx::ValueInfoProto& v : graph.output()) {
    if (v.has_type()) declared[v.name()] = &v.type();
  }

  const std::set<std::string> newer = DomainsNewerThanLibonnx(model);
  std::vector<std::string> produced;
  for (const onnx::NodeProto& node : graph.node()) {
    std::map<std::string, onnx::TypeProto> inferred;
    if (!HasSubgraph(node) && !newer.count(node.domain()) &&
        !functions.count({node.domain(), node.op_type()}) &&
        MeetsPreconditions(node, known)) {
      inferred = InferNode(model, node, known, constants);
    }
    for (const std::string& name : node.output()) {
      if (name.empty()) continue;
      produced.push_back(name);
      auto it = inferred.find(name);
      auto decl = declared.find(name);
      if (it != inferred.end() || decl != declared.end()) {
        known[name] =
            MergeTypes(it != inferred.end() ? &it->second : nullptr,
                       decl != declared.end() ? decl->second : nullptr);
      }
    }
    if (IsDefaultDomain(node.domain()) && node.op_type() == "Constant" &&
        node.output_size() == 1) {
      for (const onnx::AttributeProto& attr : node.attribute()) {
        if (attr.name() == "value" && attr.has_t()) {
          constants[node.output(0)] = &attr.t();
        }
      }
    }
  }

  std::vector<onnx::ValueInfoProto> values;
  for (const onnx::ValueInfoProto& v : graph.input()) values.push_back(v);
  for (const std::string& name : produced) {
    auto it = known.find(name);
    if (it != known.end()) values.push_back(MakeValueInfo(name, it->second));
  }
  for (const onnx::ValueInfoProto& v : graph.output()) {
    auto it = known.find(v.name());
    values.push_back(it != known.end() ? MakeValueInfo(v.name(), it->second)
                                       : v);
  }
  return values;
}

}  // namespace onnx_crypt
