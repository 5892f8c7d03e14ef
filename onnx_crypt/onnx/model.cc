// Loading keeps the parsed ModelProto untouched; everything derived (the onnx
// checker's verdict, shape inference, the Graph IR) works on copies or reads
// it. libonnx reports problems by throwing, so its calls are wrapped in this
// folder and nowhere else: the checker in model_checks.cc, shape inference in
// infer_shapes.cc. External data files: model_external.cc.
#include "onnx_crypt/onnx/model.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <climits>
#include <exception>
#include <filesystem>
#include <set>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "onnx_crypt/base/file.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/onnx/infer_shapes.h"
#include "onnx_crypt/onnx/model_checks.h"
#include "onnx_crypt/onnx/model_external.h"
#include "onnx_crypt/onnx/tensor_proto.h"

namespace onnx_crypt {

namespace fs = std::filesystem;

struct OnnxModel::Impl {
  onnx::ModelProto proto;
  std::string path;      // as given to Load; "" for LoadFromBytes
  std::string base_dir;  // folder external data locations are relative to
  ExternalFiles external;
  std::map<std::string, int>
      initializer_index;  // name -> index in graph.initializer
  // Constant nodes holding parameters (ConstantParameter): output name ->
  // index in graph.node.
  std::map<std::string, int> constant_index;
  std::map<std::string, ValueInfo> inferred;
};

namespace {

constexpr int64_t kMaxModelBytes = INT_MAX;  // protobuf's limit for one message

std::string NormalizeDomain(const std::string& domain) {
  return domain == "ai.onnx" ? std::string() : domain;
}

absl::StatusOr<ValueInfo> ConvertValueInfo(const onnx::ValueInfoProto& proto,
                                           absl::string_view what) {
  if (!proto.type().has_tensor_type()) {
    return absl::UnimplementedError(
        absl::StrCat(what, " '", proto.name(),
                     "' is not a tensor (sequences, maps and "
                     "optionals are not supported)"));
  }
  const onnx::TypeProto::Tensor& type = proto.type().tensor_type();
  ValueInfo info;
  info.name = proto.name();
  info.dtype = static_cast<DType>(type.elem_type());
  if (type.has_shape()) {
    info.has_shape = true;
    for (const onnx::TensorShapeProto::Dimension& dim : type.shape().dim()) {
      if (dim.has_dim_value() && dim.dim_value() >= 0) {
        info.dims.push_back(dim.dim_value());
        info.dim_params.emplace_back();
      } else {
        info.dims.push_back(-1);
        info.dim_params.push_back(dim.has_dim_param() ? dim.dim_param()
                                                      : std::string());
      }
    }
  }
  return info;
}

// A Constant node of the main graph that holds a parameter: default domain,
// one output that is not a graph output, and a floating-point `value` tensor
// or `value_floats` with at least two elements (scalars are the exporters'
// arithmetic constants, not weights). Returns its attribute, or nullptr.
const onnx::AttributeProto* ConstantParameter(
    const onnx::NodeProto& node, const std::set<std::string>& graph_outputs) {
  if (node.op_type() != "Constant" ||
      !(node.domain().empty() || node.domain() == "ai.onnx") ||
      node.output_size() != 1 || node.output(0).empty() ||
      graph_outputs.count(node.output(0)) || node.attribute_size() != 1) {
    return nullptr;
  }
  const onnx::AttributeProto& attr = node.attribute(0);
  if (attr.name() == "value_floats" &&
      attr.type() == onnx::AttributeProto::FLOATS && attr.floats_size() >= 2) {
    return &attr;
  }
  if (attr.name() != "value" || attr.type() != onnx::AttributeProto::TENSOR ||
      !attr.has_t()) {
    return nullptr;
  }
  const DType dtype = static_cast<DType>(attr.t().data_type());
  if (!IsFloatingPoint(dtype)) return nullptr;
  int64_t numel = 1;
  for (int64_t d : attr.t().dims()) {
    if (d < 0) return nullptr;
    numel = d == 0 ? 0 : (numel > INT64_MAX / d ? INT64_MAX : numel * d);
  }
  return numel >= 2 ? &attr : nullptr;
}

// The tensor a parameter-holding Constant node stores.
absl::StatusOr<Tensor> ConstantParameterValue(const onnx::AttributeProto& attr,
                                              const ExternalFiles& external) {
  if (attr.type() == onnx::AttributeProto::FLOATS) {
    return Tensor::FromVector<float>(
        {static_cast<int64_t>(attr.floats_size())},
        std::vector<float>(attr.floats().begin(), attr.floats().end()));
  }
  return TensorFromProto(attr.t(), &external);
}

absl::StatusOr<Attribute> ConvertAttribute(const onnx::AttributeProto& proto,
                                           const Node& node,
                                           const ExternalFiles& external) {
  Attribute attr;
  using A = onnx::AttributeProto;
  switch (proto.type()) {
    case A::FLOAT:
      attr.kind = Attribute::Kind::kFloat;
      attr.f = proto.f();
      break;
    case A::INT:
      attr.kind = Attribute::Kind::kInt;
      attr.i = proto.i();
      break;
    case A::STRING:
      attr.kind = Attribute::Kind::kString;
      attr.s = proto.s();
      break;
    case A::TENSOR: {
      absl::StatusOr<Tensor> tensor = TensorFromProto(proto.t(), &external);
      if (!tensor.ok()) {
        return Annotate(
            tensor.status(),
            absl::StrCat(node.Describe(), ", attribute '", proto.name(), "'"));
      }
      attr.kind = Attribute::Kind::kTensor;
      attr.t = std::make_shared<const Tensor>(*std::move(tensor));
      break;
    }
    case A::FLOATS:
      attr.kind = Attribute::Kind::kFloats;
      attr.floats.assign(proto.floats().begin(), proto.floats().end());
      break;
    case A::INTS:
      attr.kind = Attribute::Kind::kInts;
      attr.ints.assign(proto.ints().begin(), proto.ints().end());
      break;
    case A::STRINGS:
      attr.kind = Attribute::Kind::kStrings;
      attr.strings.assign(proto.strings().begin(), proto.strings().end());
      break;
    case A::GRAPH:
    case A::GRAPHS:
      return absl::UnimplementedError(
          absl::StrCat(node.Describe(), ": attribute '", proto.name(),
                       "' is a subgraph; subgraphs (If/Loop/Scan bodies) are "
                       "not supported"));
    default:
      return absl::UnimplementedError(absl::StrCat(
          node.Describe(), ": attribute '", proto.name(), "' has type ",
          A::AttributeType_Name(proto.type()), ", which is not supported"));
  }
  return attr;
}

absl::StatusOr<std::string> SerializeDeterministically(
    const onnx::ModelProto& proto) {
  const size_t size = proto.ByteSizeLong();
  if (size > static_cast<size_t>(kMaxModelBytes)) {
    return absl::InvalidArgumentError(
        absl::StrCat("the model serializes to ", size,
                     " bytes, more than protobuf's 2 GiB limit"));
  }
  std::string out;
  out.reserve(size);
  bool ok;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    ok = proto.SerializeToCodedStream(&coded) && !coded.HadError();
  }
  if (!ok || out.size() != size) {
    return absl::InternalError("serializing the model failed");
  }
  return out;
}

}  // namespace

OnnxModel::OnnxModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
OnnxModel::OnnxModel(OnnxModel&& other) noexcept = default;
OnnxModel& OnnxModel::operator=(OnnxModel&& other) noexcept = default;
OnnxModel::~OnnxModel() = default;

absl::StatusOr<OnnxModel> OnnxModel::Load(const std::string& path) {
  std::error_code ec;
  if (fs::is_regular_file(path, ec) &&
      fs::file_size(path, ec) > uint64_t{kMaxModelBytes}) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ONNX model '", path,
        "' is larger than protobuf's 2 GiB limit (keep the weights in "
        "external data)"));
  }
  absl::StatusOr<std::string> bytes = ReadFile(path);
  if (!bytes.ok()) return Annotate(bytes.status(), "loading ONNX model");
  if (bytes->size() > static_cast<size_t>(kMaxModelBytes)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ONNX model '", path, "' is larger than protobuf's 2 GiB limit"));
  }
  std::string base_dir = fs::path(path).parent_path().string();
  if (base_dir.empty()) base_dir = ".";
  absl::StatusOr<OnnxModel> model = Parse(*bytes, std::move(base_dir), path);
  if (!model.ok())
    return Annotate(model.status(), absl::StrCat("ONNX model '", path, "'"));
  return model;
}

absl::StatusOr<OnnxModel> OnnxModel::LoadFromBytes(std::string bytes,
                                                   std::string base_dir) {
  if (bytes.size() > static_cast<size_t>(kMaxModelBytes)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ONNX model of ", bytes.size(), " bytes exceeds the 2 GiB limit"));
  }
  absl::StatusOr<OnnxModel> model = Parse(bytes, std::move(base_dir), "");
  if (!model.ok()) return Annotate(model.status(), "ONNX model from memory");
  return model;
}

absl::StatusOr<OnnxModel> OnnxModel::Parse(const std::string& bytes,
                                           std::string base_dir,
                                           std::string path) {
  auto impl = std::make_unique<Impl>();
  impl->path = std::move(path);
  impl->base_dir = std::move(base_dir);
  {
    google::protobuf::io::ArrayInputStream stream(
        bytes.data(), static_cast<int>(bytes.size()));
    google::protobuf::io::CodedInputStream coded(&stream);
    coded.SetTotalBytesLimit(static_cast<int>(kMaxModelBytes));
    if (!impl->proto.ParseFromCodedStream(&coded) ||
        !coded.ConsumedEntireMessage()) {
      return absl::InvalidArgumentError(
          "not a valid ONNX ModelProto (protobuf parsing failed: truncated or "
          "corrupt)");
    }
  }
  if (!impl->proto.has_graph()) {
    return absl::InvalidArgumentError("the model has no graph");
  }
  const onnx::GraphProto& graph = impl->proto.graph();
  for (int i = 0; i < graph.initializer_size(); ++i) {
    if (!impl->initializer_index.emplace(graph.initializer(i).name(), i)
             .second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "two initializers are named '", graph.initializer(i).name(), "'"));
    }
  }
  {
    std::set<std::string> outputs;
    for (const onnx::ValueInfoProto& out : graph.output())
      outputs.insert(out.name());
    for (int i = 0; i < graph.node_size(); ++i) {
      if (ConstantParameter(graph.node(i), outputs) != nullptr &&
          !impl->initializer_index.count(graph.node(i).output(0))) {
        impl->constant_index.emplace(graph.node(i).output(0), i);
      }
    }
  }
  OC_RETURN_IF_ERROR(
      LoadExternalFiles(&impl->proto, impl->base_dir, &impl->external));

  // Checker and shape inference run on a copy, so the stored proto stays as
  // read.
  onnx::ModelProto copy = impl->proto;
  OC_RETURN_IF_ERROR(
      InlineExternal(&copy, impl->external, /*placeholders=*/true));
  OC_RETURN_IF_ERROR(RunChecker(copy));
  OC_RETURN_IF_ERROR(CheckWindowAttributes(copy.graph()));
  // Shapes are for information only; a model whose inference fails still
  // loads. Node by node, so that libonnx never sees a node it would misread
  // (infer_shapes.h).
  for (const onnx::ValueInfoProto& value : InferValueTypes(copy)) {
    absl::StatusOr<ValueInfo> info = ConvertValueInfo(value, "value");
    if (info.ok() && !value.name().empty())
      impl->inferred[value.name()] = *std::move(info);
  }
  return OnnxModel(std::move(impl));
}

absl::StatusOr<Graph> OnnxModel::ToGraph() const {
  const onnx::ModelProto& model = impl_->proto;
  const onnx::GraphProto& proto = model.graph();
  Graph graph;
  graph.name = proto.name();
  for (const onnx::OperatorSetIdProto& opset : model.opset_import()) {
    graph.opsets[NormalizeDomain(opset.domain())] = opset.version();
  }
  if (proto.sparse_initializer_size() > 0) {
    return absl::UnimplementedError(absl::StrCat(
        "sparse initializer '", proto.sparse_initializer(0).values().name(),
        "' is not supported (convert it to a dense initializer)"));
  }
  for (const onnx::TensorProto& init : proto.initializer()) {
    absl::StatusOr<Tensor> tensor = TensorFromProto(init, &impl_->external);
    if (!tensor.ok()) return Annotate(tensor.status(), "initializer");
    graph.initializer_order.push_back(init.name());
    graph.initializers.emplace(init.name(), *std::move(tensor));
  }
  for (const onnx::ValueInfoProto& input : proto.input()) {
    if (graph.initializers.count(input.name())) continue;
    OC_ASSIGN_OR_RETURN(ValueInfo info, ConvertValueInfo(input, "graph input"));
    graph.inputs.push_back(std::move(info));
  }
  for (const onnx::ValueInfoProto& output : proto.output()) {
    OC_ASSIGN_OR_RETURN(ValueInfo info,
                        ConvertValueInfo(output, "graph output"));
    graph.outputs.push_back(std::move(info));
  }
  graph.nodes.reserve(proto.node_size());
  for (int n = 0; n < proto.node_size(); ++n) {
    const onnx::NodeProto& node_proto = proto.node(n);
    if (!node_proto.output().empty()) {
      auto c = impl_->constant_index.find(node_proto.output(0));
      if (c != impl_->constant_index.end() && c->second == n) {
        absl::StatusOr<Tensor> tensor =
            ConstantParameterValue(node_proto.attribute(0), impl_->external);
        if (!tensor.ok()) {
          return Annotate(
              tensor.status(),
              absl::StrCat(DescribeProtoNode(node_proto), ", attribute '",
                           node_proto.attribute(0).name(), "'"));
        }
        graph.constant_order.push_back(c->first);
        graph.initializers.emplace(c->first, *std::move(tensor));
        continue;
      }
    }
    Node node;
    node.name = node_proto.name();
    node.op_type = node_proto.op_type();
    node.domain = NormalizeDomain(node_proto.domain());
    node.inputs.assign(node_proto.input().begin(), node_proto.input().end());
    node.outputs.assign(node_proto.output().begin(), node_proto.output().end());
    auto opset = graph.opsets.find(node.domain);
    if (opset == graph.opsets.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          node.Describe(), ": the model imports no opset for domain '",
          node_proto.domain(), "'"));
    }
    node.opset = opset->second;
    for (const onnx::AttributeProto& attr_proto : node_proto.attribute()) {
      OC_ASSIGN_OR_RETURN(Attribute attr,
                          ConvertAttribute(attr_proto, node, impl_->external));
      if (!node.attrs.emplace(attr_proto.name(), std::move(attr)).second) {
        return absl::InvalidArgumentError(
            absl::StrCat(node.Describe(), ": attribute '", attr_proto.name(),
                         "' appears twice"));
      }
    }
    graph.nodes.push_back(std::move(node));
  }
  OC_RETURN_IF_ERROR(graph.TopologicalSort());
  return graph;
}

std::vector<std::string> OnnxModel::InitializerNames() const {
  std::vector<std::string> names;
  for (const onnx::TensorProto& init : impl_->proto.graph().initializer()) {
    names.push_back(init.name());
  }
  return names;
}

std::vector<std::string> OnnxModel::ParameterNames() const {
  std::vector<std::string> names = InitializerNames();
  std::vector<std::pair<int, std::string>> constants;
  for (const auto& [name, node] : impl_->constant_index)
    constants.emplace_back(node, name);
  std::sort(constants.begin(), constants.end());
  for (const auto& [node, name] : constants) names.push_back(name);
  return names;
}

absl::StatusOr<Tensor> OnnxModel::ReadInitializer(
    const std::string& name) const {
  auto it = impl_->initializer_index.find(name);
  if (it == impl_->initializer_index.end()) {
    auto c = impl_->constant_index.find(name);
    if (c != impl_->constant_index.end()) {
      return ConstantParameterValue(
          impl_->proto.graph().node(c->second).attribute(0), impl_->external);
    }
    return absl::NotFoundError(
        absl::StrCat("the model has no initializer '", name, "'"));
  }
  return TensorFromProto(impl_->proto.graph().initializer(it->second),
                         &impl_->external);
}

absl::Status OnnxModel::WriteInitializer(const std::string& name,
                                         const Tensor& value) {
  auto it = impl_->initializer_index.find(name);
  if (it == impl_->initializer_index.end()) {
    auto c = impl_->constant_index.find(name);
    if (c == impl_->constant_index.end()) {
      return absl::NotFoundError(
          absl::StrCat("the model has no initializer '", name, "'"));
    }
    // Back into the Constant node, in the attribute form it had.
    onnx::AttributeProto* attr = impl_->proto.mutable_graph()
                                     ->mutable_node(c->second)
                                     ->mutable_attribute(0);
    if (attr->type() == onnx::AttributeProto::FLOATS) {
      if (value.dtype() != DType::kFloat32 ||
          value.shape() != Shape{static_cast<int64_t>(attr->floats_size())}) {
        return absl::InvalidArgumentError(absl::StrCat(
            "constant '", name, "' is float32[", attr->floats_size(),
            "]; cannot write ", value.DebugString()));
      }
      const float* v = value.data<float>();
      for (int i = 0; i < attr->floats_size(); ++i) attr->set_floats(i, v[i]);
      return absl::OkStatus();
    }
    return WriteTensorValues(value, attr->mutable_t(), &impl_->external);
  }
  onnx::TensorProto* tensor =
      impl_->proto.mutable_graph()->mutable_initializer(it->second);
  return WriteTensorValues(value, tensor, &impl_->external);
}

absl::Status OnnxModel::Save(const std::string& path) const {
  OutputSet outputs;
  OC_RETURN_IF_ERROR(StageSave(path, outputs));
  return outputs.Commit();
}

absl::Status OnnxModel::StageSave(const std::string& path,
                                  OutputSet& outputs) const {
  if (!impl_->path.empty() && SamePath(path, impl_->path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("refusing to save the model onto '", path,
                     "', the file it was loaded from"));
  }
  OC_ASSIGN_OR_RETURN(std::string bytes,
                      SerializeDeterministically(impl_->proto));
  fs::path out_dir = fs::path(path).parent_path();
  if (out_dir.empty()) out_dir = ".";
  // Check every external file before writing any.
  const std::vector<std::string> locations = impl_->external.locations();
  for (const std::string& location : locations) {
    const fs::path out_file = out_dir / location;
    if (SamePath(out_file.string(),
                 (fs::path(impl_->base_dir) / location).string())) {
      return absl::InvalidArgumentError(
          absl::StrCat("saving to '", path,
                       "' would overwrite the input's external data file '",
                       out_file.string(), "'; save into another folder"));
    }
    if (SamePath(out_file.string(), path) ||
        (!impl_->path.empty() && SamePath(out_file.string(), impl_->path))) {
      return absl::InvalidArgumentError(
          absl::StrCat("external data file '", out_file.string(),
                       "' would overwrite a model file"));
    }
  }
  for (const std::string& location : locations) {
    const fs::path out_file = out_dir / location;
    std::error_code ec;
    fs::create_directories(out_file.parent_path(), ec);
    if (ec) {
      return absl::InternalError(absl::StrCat("cannot create folder '",
                                              out_file.parent_path().string(),
                                              "': ", ec.message()));
    }
    // A subfolder of the location that is a symlink out of the output
    // folder would put the data elsewhere.
    const fs::path sub = fs::path(location).parent_path();
    if (!sub.empty()) {
      OC_RETURN_IF_ERROR(Annotate(
          ResolveInsideFolder(out_dir.string(), sub.string()).status(),
          absl::StrCat("external data file '", out_file.string(), "'")));
    }
    // A copy of the input's file with the changed bytes written over it.
    OC_RETURN_IF_ERROR(
        impl_->external.StageCopy(location, out_file.string(), outputs));
  }
  return outputs.Add(path, bytes);
}

bool OnnxModel::HasExternalData() const { return !impl_->external.empty(); }

absl::Status OnnxModel::InlineExternalData() {
  // On a copy, so that a read error leaves the model as it was.
  onnx::ModelProto inlined = impl_->proto;
  OC_RETURN_IF_ERROR(
      InlineExternal(&inlined, impl_->external, /*placeholders=*/false));
  impl_->proto = std::move(inlined);
  impl_->external = ExternalFiles();
  return absl::OkStatus();
}

absl::StatusOr<std::string> OnnxModel::SerializeToBytes() const {
  if (HasExternalData()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the model keeps tensor data in external files (e.g. '",
                     impl_->external.locations().front(),
                     "'); call InlineExternalData() before SerializeToBytes(), "
                     "or use Save()"));
  }
  return SerializeDeterministically(impl_->proto);
}

absl::StatusOr<std::string> OnnxModel::SerializeStructure() const {
  onnx::ModelProto copy = impl_->proto;
  if (copy.has_graph()) {
    for (onnx::TensorProto& t : *copy.mutable_graph()->mutable_initializer()) {
      t.clear_raw_data();
      t.clear_float_data();
      t.clear_int32_data();
      t.clear_int64_data();
      t.clear_double_data();
      t.clear_uint64_data();
      t.clear_string_data();
    }
  }
  return SerializeDeterministically(copy);
}

std::string OnnxModel::path() const { return impl_->path; }
std::string OnnxModel::base_dir() const { return impl_->base_dir; }
const onnx::ModelProto& OnnxModel::proto() const { return impl_->proto; }
const std::map<std::string, ValueInfo>& OnnxModel::inferred_values() const {
  return impl_->inferred;
}

}  // namespace onnx_crypt
