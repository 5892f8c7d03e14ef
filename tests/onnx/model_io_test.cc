// Tests of OnnxModel: loading every storage form, conversion to the Graph IR,
// round trips that leave the model unchanged field for field, in-place weight
// updates, and refusal of corrupt, truncated and unsafe inputs.
//
// Test models are built here with the ONNX protobuf API; the trained models in
// tools/models/ (tools/train_models.py) and a few node models of
// libonnx-testdata are loaded as well.
#include <google/protobuf/util/message_differencer.h>
#include <onnx/onnx_pb.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "onnx_crypt/base/file.h"
#include "onnx_crypt/base/memory_budget.h"
#include "onnx_crypt/onnx/external_data.h"
#include "onnx_crypt/onnx/model.h"
#include "onnx_crypt/onnx/tensor_proto.h"

namespace onnx_crypt {
namespace {

namespace fs = std::filesystem;
using google::protobuf::util::MessageDifferencer;

// A fresh folder, removed with its contents at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string pattern = ::testing::TempDir() + "/model_io_test.XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    char* dir = ::mkdtemp(buf.data());
    EXPECT_NE(dir, nullptr);
    path_ = dir ? dir : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  std::string operator/(const std::string& name) const {
    return path_ + "/" + name;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string ReadBytes(const std::string& path) {
  absl::StatusOr<std::string> bytes = ReadFile(path);
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  return bytes.ok() ? *bytes : std::string();
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

void WriteModel(const std::string& path, const onnx::ModelProto& model) {
  std::string bytes;
  ASSERT_TRUE(model.SerializeToString(&bytes));
  WriteBytes(path, bytes);
}

onnx::ModelProto ParseModelFile(const std::string& path) {
  onnx::ModelProto model;
  const std::string bytes = ReadBytes(path);
  EXPECT_TRUE(model.ParseFromString(bytes)) << path;
  return model;
}

// Fails with the differences when the two models differ in any field.
void ExpectSameModel(const onnx::ModelProto& a, const onnx::ModelProto& b) {
  MessageDifferencer differencer;
  std::string report;
  differencer.ReportDifferencesToString(&report);
  EXPECT_TRUE(differencer.Compare(a, b)) << report;
}

// --- model builders
// ---------------------------------------------------------------------------

void SetValueInfo(onnx::ValueInfoProto* info, const std::string& name,
                  int elem_type, const std::vector<int64_t>& dims) {
  info->set_name(name);
  auto* tensor_type = info->mutable_type()->mutable_tensor_type();
  tensor_type->set_elem_type(elem_type);
  auto* shape = tensor_type->mutable_shape();
  for (int64_t d : dims) {
    auto* dim = shape->add_dim();
    if (d >= 0) {
      dim->set_dim_value(d);
    } else {
      dim->set_dim_param("N");
    }
  }
}

onnx::ModelProto NewModel(const std::string& graph_name) {
  onnx::ModelProto model;
  model.set_ir_version(8);
  model.set_producer_name("model_io_test");
  model.set_producer_version("1.0");
  model.set_doc_string("a model built by model_io_test");
  auto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(13);
  model.mutable_graph()->set_name(graph_name);
  model.mutable_graph()->set_doc_string("graph doc");
  return model;
}

onnx::TensorProto* AddInitializer(onnx::GraphProto* graph,
                                  const std::string& name, int type,
                                  const std::vector<int64_t>& dims) {
  onnx::TensorProto* t = graph->add_initializer();
  t->set_name(name);
  t->set_data_type(type);
  for (int64_t d : dims) t->add_dims(d);
  return t;
}

template <typename T>
std::string AsBytes(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()),
                     values.size() * sizeof(T));
}

onnx::NodeProto* AddNode(onnx::GraphProto* graph, const std::string& op,
                         const std::string& name,
                         const std::vector<std::string>& inputs,
                         const std::vector<std::string>& outputs) {
  onnx::NodeProto* node = graph->add_node();
  node->set_op_type(op);
  node->set_name(name);
  for (const auto& in : inputs) node->add_input(in);
  for (const auto& out : outputs) node->add_output(out);
  return node;
}

const std::vector<float> kW = {0.5f, -1.f, 2.f, 3.f, 4.f,  -5.f,
                               6.f,  7.f,  8.f, 9.f, 10.f, 11.f};
const std::vector<float> kB = {0.25f, -0.5f, 1.f};

// y = x @ W + B with W, B in raw_data; nodes listed out of order (Add before
// MatMul); metadata.
onnx::ModelProto RawModel(bool with_metadata = true) {
  onnx::ModelProto model = NewModel("raw");
  onnx::GraphProto* g = model.mutable_graph();
  AddNode(g, "MatMul", "matmul", {"x", "W"}, {"h"});
  AddNode(g, "Add", "add", {"h", "B"}, {"y"})->set_doc_string("adds the bias");
  AddInitializer(g, "W", onnx::TensorProto::FLOAT, {4, 3})
      ->set_raw_data(AsBytes(kW));
  AddInitializer(g, "B", onnx::TensorProto::FLOAT, {3})
      ->set_raw_data(AsBytes(kB));
  SetValueInfo(g->add_input(), "x", onnx::TensorProto::FLOAT, {-1, 4});
  SetValueInfo(g->add_output(), "y", onnx::TensorProto::FLOAT, {-1, 3});
  if (with_metadata) {
    auto* prop = model.add_metadata_props();
    prop->set_key("author");
    prop->set_value("tests");
    prop = model.add_metadata_props();
    prop->set_key("license");
    prop->set_value("none");
  }
  return model;
}

// Initializers in every typed field. "wf" is also listed as a graph input
// (pre-IR-4 style).
onnx::ModelProto TypedModel() {
  onnx::ModelProto model = NewModel("typed");
  onnx::GraphProto* g = model.mutable_graph();
  AddNode(g, "Add", "add", {"x", "wf"}, {"y"});
  auto* wf = AddInitializer(g, "wf", onnx::TensorProto::FLOAT, {2, 2});
  for (float v : {1.5f, -2.f, 3.25f, 4.f}) wf->add_float_data(v);
  auto* wd = AddInitializer(g, "wd", onnx::TensorProto::DOUBLE, {2});
  for (double v : {0.1, -1e300}) wd->add_double_data(v);
  auto* wi64 = AddInitializer(g, "wi64", onnx::TensorProto::INT64, {3});
  for (int64_t v : {int64_t{-1}, int64_t{1} << 40, int64_t{7}})
    wi64->add_int64_data(v);
  auto* wi32 = AddInitializer(g, "wi32", onnx::TensorProto::INT32, {2});
  for (int32_t v : {-100000, 42}) wi32->add_int32_data(v);
  auto* wi8 = AddInitializer(g, "wi8", onnx::TensorProto::INT8, {3});
  for (int32_t v : {-128, 0, 127}) wi8->add_int32_data(v);
  auto* wu8 = AddInitializer(g, "wu8", onnx::TensorProto::UINT8, {2});
  for (int32_t v : {255, 3}) wu8->add_int32_data(v);
  auto* wb = AddInitializer(g, "wb", onnx::TensorProto::BOOL, {3});
  for (int32_t v : {1, 0, 1}) wb->add_int32_data(v);
  auto* wh = AddInitializer(g, "wh", onnx::TensorProto::FLOAT16, {2});
  for (int32_t v : {0x3c00, 0xc000}) wh->add_int32_data(v);  // 1.0, -2.0
  auto* wu64 = AddInitializer(g, "wu64", onnx::TensorProto::UINT64, {1});
  wu64->add_uint64_data(uint64_t{1} << 63);
  auto* scalar = AddInitializer(g, "scalar", onnx::TensorProto::FLOAT, {});
  scalar->add_float_data(-0.5f);
  SetValueInfo(g->add_input(), "x", onnx::TensorProto::FLOAT, {2, 2});
  SetValueInfo(g->add_input(), "wf", onnx::TensorProto::FLOAT, {2, 2});
  SetValueInfo(g->add_output(), "y", onnx::TensorProto::FLOAT, {2, 2});
  return model;
}

void SetExternal(onnx::TensorProto* t, const std::string& location,
                 int64_t offset, int64_t length) {
  t->set_data_location(onnx::TensorProto::EXTERNAL);
  auto* e = t->add_external_data();
  e->set_key("location");
  e->set_value(location);
  e = t->add_external_data();
  e->set_key("offset");
  e->set_value(std::to_string(offset));
  if (length >= 0) {
    e = t->add_external_data();
    e->set_key("length");
    e->set_value(std::to_string(length));
  }
}

// The raw model with W and B in "weights/w.bin" (16 bytes of padding first, B
// after W), and the bytes of that file.
onnx::ModelProto ExternalModel(std::string* file_bytes,
                               const std::string& location_w,
                               const std::string& location_b) {
  onnx::ModelProto model = RawModel();
  onnx::GraphProto* g = model.mutable_graph();
  const std::string padding = "0123456789abcdef";
  *file_bytes = padding + AsBytes(kW) + AsBytes(kB) + "tail";
  for (int i = 0; i < g->initializer_size(); ++i) {
    onnx::TensorProto* t = g->mutable_initializer(i);
    t->clear_raw_data();
    if (t->name() == "W") SetExternal(t, location_w, 16, 48);
    if (t->name() == "B") SetExternal(t, location_b, 64, -1);  // length omitted
  }
  return model;
}

// y = x + c where c comes from a Constant node (raw tensor) and d from one with
// float_data.
onnx::ModelProto ConstantModel() {
  onnx::ModelProto model = NewModel("constant");
  onnx::GraphProto* g = model.mutable_graph();
  onnx::NodeProto* c = AddNode(g, "Constant", "const_c", {}, {"c"});
  auto* attr = c->add_attribute();
  attr->set_name("value");
  attr->set_type(onnx::AttributeProto::TENSOR);
  attr->mutable_t()->set_data_type(onnx::TensorProto::FLOAT);
  attr->mutable_t()->add_dims(3);
  attr->mutable_t()->set_raw_data(AsBytes(kB));
  onnx::NodeProto* d = AddNode(g, "Constant", "", {}, {"d"});
  attr = d->add_attribute();
  attr->set_name("value");
  attr->set_type(onnx::AttributeProto::TENSOR);
  attr->mutable_t()->set_data_type(onnx::TensorProto::INT64);
  attr->mutable_t()->add_dims(2);
  attr->mutable_t()->add_int64_data(5);
  attr->mutable_t()->add_int64_data(-6);
  AddNode(g, "Add", "add", {"x", "c"}, {"y"});
  onnx::NodeProto* flatten = AddNode(g, "Flatten", "flat", {"y"}, {"z"});
  attr = flatten->add_attribute();
  attr->set_name("axis");
  attr->set_type(onnx::AttributeProto::INT);
  attr->set_i(0);
  SetValueInfo(g->add_input(), "x", onnx::TensorProto::FLOAT, {3});
  SetValueInfo(g->add_output(), "z", onnx::TensorProto::FLOAT, {1, 3});
  SetValueInfo(g->add_output(), "d", onnx::TensorProto::INT64, {2});
  return model;
}

template <typename T>
std::vector<T> Values(const Tensor& t) {
  return std::vector<T>(t.data<T>(), t.data<T>() + t.numel());
}

// Loads `path`, saves it elsewhere, and checks the saved model equals the input
// field for field.
void ExpectRoundTrip(const std::string& path) {
  SCOPED_TRACE(path);
  absl::StatusOr<OnnxModel> model = OnnxModel::Load(path);
  ASSERT_TRUE(model.ok()) << model.status();
  const onnx::ModelProto input = ParseModelFile(path);
  ExpectSameModel(model->proto(), input);  // loading changes nothing
  TempDir out;
  const std::string saved = out / fs::path(path).filename().string();
  ASSERT_TRUE(model->Save(saved).ok());
  ExpectSameModel(ParseModelFile(saved), input);
  absl::StatusOr<OnnxModel> again = OnnxModel::Load(saved);
  ASSERT_TRUE(again.ok()) << again.status();
  ExpectSameModel(again->proto(), input);
}

// --- round trips
// ------------------------------------------------------------------------------

TEST(OnnxModelTest, BuiltModelsRoundTripFieldForField) {
  TempDir dir;
  const std::vector<std::pair<std::string, onnx::ModelProto>> models = {
      {"raw.onnx", RawModel()},
      {"typed.onnx", TypedModel()},
      {"constant.onnx", ConstantModel()}};
  for (const auto& [name, proto] : models) {
    WriteModel(dir / name, proto);
    ExpectRoundTrip(dir / name);
    // Written by protobuf C++ and re-serialized deterministically: the bytes
    // match too.
    absl::StatusOr<OnnxModel> model = OnnxModel::Load(dir / name);
    ASSERT_TRUE(model.ok()) << model.status();
    absl::StatusOr<std::string> bytes = model->SerializeToBytes();
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    EXPECT_EQ(*bytes, ReadBytes(dir / name)) << name;
  }
}

TEST(OnnxModelTest, TrainedModelsRoundTrip) {
  const fs::path models_dir = fs::path(OC_SOURCE_DIR) / "tools" / "models";
  int count = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(models_dir, ec)) {
    if (entry.path().extension() != ".onnx") continue;
    ++count;
    ExpectRoundTrip(entry.path().string());
    absl::StatusOr<OnnxModel> model = OnnxModel::Load(entry.path().string());
    ASSERT_TRUE(model.ok()) << model.status();
    absl::StatusOr<Graph> graph = model->ToGraph();
    EXPECT_TRUE(graph.ok()) << entry.path() << ": " << graph.status();
  }
  std::cout << "round-tripped " << count << " model(s) from " << models_dir
            << "\n";
}

TEST(OnnxModelTest, LibonnxTestdataNodeModelsLoad) {
  const fs::path root = "/usr/share/libonnx-testdata/data/node";
  ASSERT_TRUE(fs::is_directory(root))
      << root
      << " is missing: run tools/setup.sh (Debian package libonnx-testdata)";
  for (const char* name :
       {"test_add", "test_conv_with_strides_padding",
        "test_gemm_all_attributes", "test_relu", "test_constant",
        "test_batchnorm_example", "test_maxpool_2d_default",
        "test_reshape_extended_dims", "test_softmax_axis_0", "test_matmul_2d",
        "test_flatten_axis0"}) {
    SCOPED_TRACE(name);
    const std::string path = (root / name / "model.onnx").string();
    ExpectRoundTrip(path);
    absl::StatusOr<OnnxModel> model = OnnxModel::Load(path);
    ASSERT_TRUE(model.ok()) << model.status();
    absl::StatusOr<Graph> graph = model->ToGraph();
    ASSERT_TRUE(graph.ok()) << graph.status();
    ASSERT_FALSE(graph->nodes.empty());
    EXPECT_EQ(graph->nodes[0].opset, graph->opsets.at(""));
    // Each input's test tensor decodes with the graph input's dtype and shape.
    for (size_t i = 0; i < graph->inputs.size(); ++i) {
      const fs::path pb = root / name / "test_data_set_0" /
                          ("input_" + std::to_string(i) + ".pb");
      absl::StatusOr<Tensor> input = LoadTensorProtoFile(pb.string());
      ASSERT_TRUE(input.ok()) << input.status();
      EXPECT_EQ(input->dtype(), graph->inputs[i].dtype);
      EXPECT_EQ(input->shape(), graph->inputs[i].dims);
    }
  }
  // test_constant: the Constant node's tensor equals the expected output.
  absl::StatusOr<OnnxModel> model =
      OnnxModel::Load((root / "test_constant/model.onnx").string());
  ASSERT_TRUE(model.ok()) << model.status();
  absl::StatusOr<Graph> graph = model->ToGraph();
  ASSERT_TRUE(graph.ok()) << graph.status();
  const Node* constant = nullptr;
  for (const Node& node : graph->nodes) {
    if (node.op_type == "Constant") constant = &node;
  }
  ASSERT_NE(constant, nullptr);
  ASSERT_EQ(constant->attrs.at("value").kind, Attribute::Kind::kTensor);
  absl::StatusOr<Tensor> expected = LoadTensorProtoFile(
      (root / "test_constant/test_data_set_0/output_0.pb").string());
  ASSERT_TRUE(expected.ok()) << expected.status();
  EXPECT_EQ(Values<float>(*constant->attrs.at("value").t),
            Values<float>(*expected));
}

// --- decoding
// ---------------------------------------------------------------------------------

TEST(OnnxModelTest, RawModelToGraph) {
  TempDir dir;
  WriteModel(dir / "raw.onnx", RawModel());
  absl::StatusOr<OnnxModel> model = OnnxModel::Load(dir / "raw.onnx");
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->path(), dir / "raw.onnx");
  absl::StatusOr<Graph> graph = model->ToGraph();
  ASSERT_TRUE(graph.ok()) << graph.status();
  EXPECT_EQ(graph->name, "raw");
  EXPECT_EQ(graph->opsets, (std::map<std::string, int64_t>{{"", 13}}));
  ASSERT_EQ(graph->nodes.size(), 2u);
  EXPECT_EQ(graph->nodes[0].op_type, "MatMul");
  EXPECT_EQ(graph->nodes[0].opset, 13);
  EXPECT_EQ(graph->nodes[1].name, "add");
  EXPECT_EQ(graph->nodes[1].inputs, (std::vector<std::string>{"h", "B"}));
  EXPECT_EQ(graph->initializer_order, (std::vector<std::string>{"W", "B"}));
  EXPECT_EQ(graph->initializers.at("W").shape(), (Shape{4, 3}));
  EXPECT_EQ(Values<float>(graph->initializers.at("W")), kW);
  EXPECT_EQ(Values<float>(graph->initializers.at("B")), kB);
  ASSERT_EQ(graph->inputs.size(), 1u);
  EXPECT_EQ(graph->inputs[0].name, "x");
  EXPECT_EQ(graph->inputs[0].dtype, DType::kFloat32);
  EXPECT_TRUE(graph->inputs[0].has_shape);
  EXPECT_EQ(graph->inputs[0].dims, (Shape{-1, 4}));
  EXPECT_EQ(graph->inputs[0].dim_params, (std::vector<std::string>{"N", ""}));
  ASSERT_EQ(graph->outputs.size(), 1u);
  EXPECT_EQ(graph->outputs[0].name, "y");
  // Shape inference (on a copy) found h = MatMul(x, W): [N, 3].
  auto h = model->inferred_values().find("h");
  ASSERT_NE(h, model->inferred_values().end());
  EXPECT_EQ(h->second.dims, (Shape{-1, 3}));
  EXPECT_EQ(h->second.dim_params[0], "N");
  // ...and the stored proto did not get its value_info.
  EXPECT_EQ(model->proto().graph().value_info_size(), 0);
}

TEST(OnnxModelTest, TypedFieldsDecode) {
  TempDir dir;
  WriteModel(dir / "typed.onnx", TypedModel());
  absl::StatusOr<OnnxModel> model = OnnxModel::Load(dir / "typed.onnx");
  ASSERT_TRUE(model.ok()) << model.status();
  absl::StatusOr<Graph> graph = model->ToGraph();
  ASSERT_TRUE(graph.ok()) << graph.status();
  const auto& inits = graph->initializers;
  EXPECT_EQ(Values<float>(inits.at("wf")),
            (std::vector<float>{1.5f, -2.f, 3.25f, 4.f}));
  EXPECT_EQ(Values<double>(inits.at("wd")), (std::vector<double>{0.1, -1e300}));
  EXPECT_EQ(Values<int64_t>(inits.at("wi64")),
            (std::vector<int64_t>{-1, int64_t{1} << 40, 7}));
  EXPECT_EQ(Values<int32_t>(inits.at("wi32")),
            (std::vector<int32_t>{-100000, 42}));
  EXPECT_EQ(Values<int8_t>(inits.at("wi8")),
            (std::vector<int8_t>{-128, 0, 127}));
  EXPECT_EQ(Values<uint8_t>(inits.at("wu8")), (std::vector<uint8_t>{255, 3}));
  EXPECT_EQ(inits.at("wb").dtype(), DType::kBool);
  EXPECT_EQ(Values<uint8_t>(inits.at("wb")), (std::vector<uint8_t>{1, 0, 1}));
  EXPECT_EQ(inits.at("wh").dtype(), DType::kFloat16);
  EXPECT_EQ(Values<uint16_t>(inits.at("wh")),
            (std::vector<uint16_t>{0x3c00, 0xc000}));
  EXPECT_EQ(Values<uint64_t>(inits.at("wu64")),
            (std::vector<uint64_t>{uint64_t{1} << 63}));
  EXPECT_EQ(inits.at("scalar").shape(), Shape{});
  EXPECT_EQ(Values<float>(inits.at("scalar")), (std::vector<float>{-0.5f}));
  EXPECT_EQ(graph->initializer_order.size(), 10u);
  // "wf" is both an input and an initializer: not a graph input of the IR.
  ASSERT_EQ(graph->inputs.size(), 1u);
  EXPECT_EQ(graph->inputs[0].name, "x");
}

TEST(OnnxModelTest, ConstantNodesDecode) {
  TempDir dir;
  WriteModel(dir / "constant.onnx", ConstantModel());
  absl::StatusOr<OnnxModel> model = OnnxModel::Load(dir / "constant.onnx");
  ASSERT_TRUE(model.ok()) << model.status();
  absl::StatusOr<Graph> graph = model->ToGraph();
  ASSERT_TRUE(graph.ok()) << graph.status();
  // The float Constant holds a parameter (3 elements): an initializer of the
  // IR (Graph::constant_order), its node gone; the int64 one stays a node.
  ASSERT_EQ(graph->nodes.size(), 3u);
  EXPECT_EQ(graph->constant_order, (std::vector<std::string>{"c"}));
  EXPECT_TRUE(graph->initializer_order.empty());
  EXPECT_EQ(Values<float>(graph->initializers.at("c")), kB);
  EXPECT_EQ(graph->nodes[0].op_type, "Constant");
  const Attribute& d = graph->nodes[0].attrs.at("value");
  EXPECT_EQ(Values<int64_t>(*d.t), (std::vector<int64_t>{5, -6}));
  EXPECT_EQ(graph->nodes[2].op_type, "Flatten");
  EXPECT_EQ(graph->nodes[2].GetInt("axis", -1), 0);
  // Read and written back into the node, in its raw_data form.
  absl::StatusOr<Tensor> c = model->ReadInitializer("c");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(Values<float>(*c), kB);
  const Tensor changed = Tensor::FromVector<float>({3}, {7.f, 8.f, 9.f});
  ASSERT_TRUE(model->WriteInitializer("c", changed).ok());
  const onnx::TensorProto& t = model->proto().graph().node(0).attribute(0).t();
  EXPECT_EQ(t.raw_data(), AsBytes(std::vector<float>{7.f, 8.f, 9.f}));
  EXPECT_EQ(t.float_data_size(), 0);
  EXPECT_EQ(model->proto().graph().initializer_size(), 0);
  EXPECT_FALSE(
      model->WriteInitializer("c", Tensor::FromVector<float>({2}, {1, 2}))
          .ok());
  EXPECT_EQ(model->ReadInitializer("d").status().code(),
            absl::StatusCode::kNotFound);  // an int64 Constant: no parameter
}

// --- external data
// ----------------------------------------------------------------------------

TEST(OnnxModelTest, ExternalDataLoadsAndRoundTrips) {
  TempDir in;
  std::string file;
  // Two spellings of one file: both normalize to weights/w.bin.
  WriteModel(in / "m.onnx", ExternalModel(&file, "weights/w.bin",
                                          "./weights/../weights/w.bin"));
  WriteBytes(in / "weights/w.bin", file);
  absl::StatusOr<OnnxModel> model = OnnxModel::Load(in / "m.onnx");
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_TRUE(model->HasExternalData());
  absl::StatusOr<Graph> graph = model->ToGraph();
  ASSERT_TRUE(graph.ok()) << graph.status();
  EXPECT_EQ(Values<float>(graph->initializers.at("W")), kW);
  EXPECT_EQ(Values<float>(graph->initializers.at("B")), kB);

  // Saved elsewhere: the model equals the input and the data file is copied
  // byte for byte.
  TempDir out;
  ASSERT_TRUE(model->Save(out / "copy.onnx").ok());
  ExpectSameModel(ParseModelFile(out / "copy.onnx"),
                  ParseModelFile(in / "m.onnx"));
  EXPECT_EQ(ReadBytes(out / "weights/w.bin"), file);
  absl::StatusOr<OnnxModel> again = OnnxModel::Load(out / "copy.onnx");
  ASSERT_TRUE(again.ok()) << again.status();
  absl::StatusOr<Tensor> w = again->ReadInitializer("W");
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(Values<float>(*w), kW);

  // A model with external data does not serialize to one buffer until inlined.
  absl::StatusOr<std::string> bytes = model->SerializeToBytes();
  EXPECT_EQ(bytes.status().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(model->InlineExternalData().ok());
  EXPECT_FALSE(model->HasExternalData());
  bytes = model->SerializeToBytes();
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  absl::StatusOr<OnnxModel> inlined = OnnxModel::LoadFromBytes(*bytes);
  ASSERT_TRUE(inlined.ok()) << inlined.status();
  EXPECT_EQ(inlined->proto().graph().initializer(0).data_location(),
            onnx::TensorProto::DEFAULT);
  absl::StatusOr<Tensor> b = inlined->ReadInitializer("B");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(Values<float>(*b), kB);
}

TEST(OnnxModelTest, ExternalLocationsMustStayInTheModelFolder) {
  TempDir root;
  std::string file;
  // A real file outside the model's folder, so rejection is about the path, not
  // a missing file.
  WriteBytes(root / "x.bin", std::string(200, '\0'));
  WriteBytes(root / "model/w.bin", std::string(200, '\0'));
  for (const std::string& location :
       {std::string("../x.bin"), std::string("a/../../x.bin"), root / "x.bin",
        std::string("sub/../../model/../x.bin")}) {
    SCOPED_TRACE(location);
    WriteModel(root / "model/m.onnx", ExternalModel(&file, location, "w.bin"));
    absl::StatusOr<OnnxModel> model = OnnxModel::Load(root / "model/m.onnx");
    ASSERT_FALSE(model.ok());
    EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(model.status().message().find("tensor 'W'"), std::string::npos)
        << model.status();
  }
  // A missing file and out-of-range or mismatched byte ranges are errors naming
  // the tensor.
  auto expect_error = [&](onnx::ModelProto proto, const std::string& needle) {
    WriteModel(root / "model/m.onnx", proto);
    absl::StatusOr<OnnxModel> model = OnnxModel::Load(root / "model/m.onnx");
    ASSERT_FALSE(model.ok()) << needle;
    EXPECT_NE(model.status().message().find(needle), std::string::npos)
        << model.status();
  };
  expect_error(ExternalModel(&file, "missing.bin", "w.bin"), "tensor 'W'");
  onnx::ModelProto proto = ExternalModel(&file, "w.bin", "w.bin");
  proto.mutable_graph()
      ->mutable_initializer(1)
      ->mutable_external_data(1)
      ->set_value("190");
  expect_error(proto, "tensor 'B'");  // offset 190 + 12 bytes > 200
  proto = ExternalModel(&file, "w.bin", "w.bin");
  proto.mutable_graph()
      ->mutable_initializer(0)
      ->mutable_external_data(2)
      ->set_value("44");
  expect_error(proto, "tensor 'W'");  // length != 4*3*4
  proto = ExternalModel(&file, "w.bin", "w.bin");
  proto.mutable_graph()
      ->mutable_initializer(0)
      ->mutable_external_data(1)
      ->set_value("-4");
  expect_error(proto, "tensor 'W'");
  // Without a folder to read from, external data cannot be loaded from bytes.
  std::string bytes;
  ASSERT_TRUE(ExternalModel(&file, "w.bin", "w.bin").SerializeToString(&bytes));
  absl::StatusOr<OnnxModel> from_bytes = OnnxModel::LoadFromBytes(bytes);
  ASSERT_FALSE(from_bytes.ok());
  EXPECT_EQ(from_bytes.status().code(), absl::StatusCode::kInvalidArgument);
  from_bytes = OnnxModel::LoadFromBytes(bytes, root / "model");
  ASSERT_TRUE(from_bytes.ok()) << from_bytes.status();
}

// Symlinks are followed, but the file they reach must lie inside the model's
// folder (as onnx's checker requires): an extra tensor whose data file links
// to a secret elsewhere used to be read, and copied into the lock output.
TEST(OnnxModelTest, ExternalDataThroughSymlinksStaysInTheModelFolder) {
  TempDir root;
  std::string file;
  WriteModel(root / "model/m.onnx", ExternalModel(&file, "w.bin", "w.bin"));
  // The real data, outside the model's folder.
  WriteBytes(root / "outside/w.bin", file);
  fs::create_symlink(root / "outside/w.bin", root / "model/w.bin");
  absl::StatusOr<OnnxModel> model = OnnxModel::Load(root / "model/m.onnx");
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(model.status().message().find("tensor 'W'"), std::string::npos)
      << model.status();
  EXPECT_NE(model.status().message().find("outside the model's folder"),
            std::string::npos)
      << model.status();
  // A symlinked folder pointing outside.
  fs::remove(root / "model/w.bin");
  WriteModel(root / "model/m.onnx",
             ExternalModel(&file, "data/w.bin", "data/w.bin"));
  fs::create_symlink(root / "outside", root / "model/data");
  model = OnnxModel::Load(root / "model/m.onnx");
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.status().message().find("outside the model's folder"),
            std::string::npos)
      << model.status();
  // A symlink that stays inside the folder is fine.
  fs::remove(root / "model/data");
  WriteBytes(root / "model/real/w.bin", file);
  fs::create_symlink(root / "model/real", root / "model/data");
  model = OnnxModel::Load(root / "model/m.onnx");
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(Values<float>(*model->ReadInitializer("W")), kW);
  // Saving into a folder whose location subfolder links elsewhere is refused,
  // and nothing is written there.
  TempDir out;
  fs::create_symlink(root / "outside", out / "data");
  const absl::Status saved = model->Save(out / "copy.onnx");
  ASSERT_FALSE(saved.ok());
  EXPECT_NE(saved.message().find("outside"), std::string::npos) << saved;
  EXPECT_FALSE(fs::exists(out / "copy.onnx"));
  EXPECT_EQ(ReadBytes(root / "outside/w.bin"), file);
  for (const auto& e : fs::directory_iterator(root / "outside")) {
    EXPECT_EQ(e.path().filename(), "w.bin") << e.path();
  }
}

// A FIFO or a device as external data is refused at once (it used to block
// forever, or read /dev/zero without end).
TEST(OnnxModelTest, ExternalDataMustBeARegularFile) {
  TempDir root;
  std::string file;
  WriteModel(root / "m.onnx", ExternalModel(&file, "w.bin", "w.bin"));
  ASSERT_EQ(::mkfifo((root / "w.bin").c_str(), 0600), 0);
  absl::StatusOr<OnnxModel> model = OnnxModel::Load(root / "m.onnx");
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.status().message().find("FIFO"), std::string::npos)
      << model.status();
  EXPECT_NE(model.status().message().find("tensor 'W'"), std::string::npos)
      << model.status();
  // /dev/zero through a symlink inside the folder: outside after resolution.
  fs::remove(root / "w.bin");
  fs::create_symlink("/dev/zero", root / "w.bin");
  model = OnnxModel::Load(root / "m.onnx");
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
}

// A tensor larger than the memory budget is refused, naming it and the flag
// that raises the budget.
TEST(OnnxModelTest, TensorsOverTheMemoryBudgetAreRefused) {
  const int64_t before = MemoryBudgetBytes();
  std::string bytes;
  ASSERT_TRUE(RawModel().SerializeToString(&bytes));
  ASSERT_TRUE(SetMemoryBudgetBytes(40).ok());  // W is 48 bytes, B 12
  absl::StatusOr<OnnxModel> model = OnnxModel::LoadFromBytes(bytes);
  absl::StatusOr<Graph> graph =
      model.ok() ? model->ToGraph() : absl::StatusOr<Graph>(model.status());
  ASSERT_TRUE(SetMemoryBudgetBytes(before).ok());
  ASSERT_FALSE(graph.ok());
  EXPECT_EQ(graph.status().code(), absl::StatusCode::kResourceExhausted)
      << graph.status();
  EXPECT_NE(graph.status().message().find("'W'"), std::string::npos)
      << graph.status();
  EXPECT_NE(graph.status().message().find("--max-memory"), std::string::npos)
      << graph.status();
  model = OnnxModel::LoadFromBytes(bytes);
  ASSERT_TRUE(model.ok() && model->ToGraph().ok());
}

// --- writing weights
// --------------------------------------------------------------------------

TEST(OnnxModelTest, WriteInitializerKeepsStorageForm) {
  TempDir in, out;
  std::string file;
  WriteModel(in / "raw.onnx", RawModel());
  WriteModel(in / "typed.onnx", TypedModel());
  WriteModel(in / "ext.onnx",
             ExternalModel(&file, "weights/w.bin", "weights/w.bin"));
  WriteBytes(in / "weights/w.bin", file);

  const Tensor new_w = Tensor::FromVector<float>(
      {4, 3}, {-1.f, -2.f, -3.f, -4.f, -5.f, -6.f, -7.f, -8.f, -9.f, -10.f,
               -11.f, -12.f});
  const Tensor new_wf = Tensor::FromVector<float>({2, 2}, {9.f, 8.f, 7.f, 6.f});
  const Tensor new_wd = Tensor::FromVector<double>({2}, {-3.5, 1e-300});
  const Tensor new_wi8 = Tensor::FromVector<int8_t>({3}, {-5, 6, -7});

  // raw_data stays raw_data.
  {
    absl::StatusOr<OnnxModel> model = OnnxModel::Load(in / "raw.onnx");
    ASSERT_TRUE(model.ok()) << model.status();
    ASSERT_TRUE(model->WriteInitializer("W", new_w).ok());
    ASSERT_TRUE(model->Save(out / "raw.onnx").ok());
    absl::StatusOr<OnnxModel> back = OnnxModel::Load(out / "raw.onnx");
    ASSERT_TRUE(back.ok()) << back.status();
    const onnx::TensorProto& w = back->proto().graph().initializer(0);
    EXPECT_TRUE(w.has_raw_data());
    EXPECT_EQ(w.float_data_size(), 0);
    EXPECT_EQ(Values<float>(*back->ReadInitializer("W")), Values<float>(new_w));
    EXPECT_EQ(Values<float>(*back->ReadInitializer("B")), kB);
    // Everything but W's bytes is unchanged.
    onnx::ModelProto expected = RawModel();
    expected.mutable_graph()->mutable_initializer(0)->set_raw_data(
        AsBytes(Values<float>(new_w)));
    ExpectSameModel(back->proto(), expected);
  }
  // Typed fields stay typed fields, with the same number of values.
  {
    absl::StatusOr<OnnxModel> model = OnnxModel::Load(in / "typed.onnx");
    ASSERT_TRUE(model.ok()) << model.status();
    ASSERT_TRUE(model->WriteInitializer("wf", new_wf).ok());
    ASSERT_TRUE(model->WriteInitializer("wd", new_wd).ok());
    ASSERT_TRUE(model->WriteInitializer("wi8", new_wi8).ok());
    ASSERT_TRUE(model->Save(out / "typed.onnx").ok());
    absl::StatusOr<OnnxModel> back = OnnxModel::Load(out / "typed.onnx");
    ASSERT_TRUE(back.ok()) << back.status();
    const auto& inits = back->proto().graph().initializer();
    EXPECT_FALSE(inits[0].has_raw_data());
    EXPECT_EQ(inits[0].float_data_size(), 4);
    EXPECT_EQ(inits[1].double_data_size(), 2);
    EXPECT_EQ(inits[4].int32_data_size(), 3);
    EXPECT_EQ(Values<float>(*back->ReadInitializer("wf")),
              Values<float>(new_wf));
    EXPECT_EQ(Values<double>(*back->ReadInitializer("wd")),
              Values<double>(new_wd));
    EXPECT_EQ(Values<int8_t>(*back->ReadInitializer("wi8")),
              Values<int8_t>(new_wi8));
    absl::StatusOr<Graph> graph = back->ToGraph();
    ASSERT_TRUE(graph.ok()) << graph.status();
    EXPECT_EQ(Values<float>(graph->initializers.at("wf")),
              Values<float>(new_wf));
  }
  // External stays external: same location and offsets, the copy's bytes
  // updated, the input's file untouched.
  {
    absl::StatusOr<OnnxModel> model = OnnxModel::Load(in / "ext.onnx");
    ASSERT_TRUE(model.ok()) << model.status();
    ASSERT_TRUE(model->WriteInitializer("W", new_w).ok());
    EXPECT_EQ(Values<float>(*model->ReadInitializer("W")),
              Values<float>(new_w));
    ASSERT_TRUE(model->Save(out / "ext.onnx").ok());
    EXPECT_EQ(ReadBytes(in / "weights/w.bin"), file);
    std::string expected_file = file;
    expected_file.replace(16, 48, AsBytes(Values<float>(new_w)));
    EXPECT_EQ(ReadBytes(out / "weights/w.bin"), expected_file);
    ExpectSameModel(ParseModelFile(out / "ext.onnx"),
                    ParseModelFile(in / "ext.onnx"));
    absl::StatusOr<OnnxModel> back = OnnxModel::Load(out / "ext.onnx");
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->proto().graph().initializer(0).data_location(),
              onnx::TensorProto::EXTERNAL);
    EXPECT_EQ(Values<float>(*back->ReadInitializer("W")), Values<float>(new_w));
    EXPECT_EQ(Values<float>(*back->ReadInitializer("B")), kB);
  }
}

TEST(OnnxModelTest, WriteInitializerChecksDtypeShapeAndName) {
  TempDir dir;
  WriteModel(dir / "raw.onnx", RawModel());
  absl::StatusOr<OnnxModel> model = OnnxModel::Load(dir / "raw.onnx");
  ASSERT_TRUE(model.ok()) << model.status();
  absl::Status status =
      model->WriteInitializer("W", Tensor(DType::kFloat32, {3, 4}));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("'W'"), std::string::npos);
  status = model->WriteInitializer("W", Tensor(DType::kFloat64, {4, 3}));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  status = model->WriteInitializer("nope", Tensor(DType::kFloat32, {4, 3}));
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(model->ReadInitializer("nope").status().code(),
            absl::StatusCode::kNotFound);
  // Nothing was changed by the refused writes.
  ExpectSameModel(model->proto(), RawModel());
}

// --- refusals
// ---------------------------------------------------------------------------------

TEST(OnnxModelTest, SaveRefusesToOverwriteItsInput) {
  TempDir dir;
  WriteModel(dir / "raw.onnx", RawModel());
  const std::string original = ReadBytes(dir / "raw.onnx");
  absl::StatusOr<OnnxModel> model = OnnxModel::Load(dir / "raw.onnx");
  ASSERT_TRUE(model.ok()) << model.status();
  ASSERT_TRUE(model->WriteInitializer("B", Tensor(DType::kFloat32, {3})).ok());
  for (const std::string& target :
       {dir / "raw.onnx", dir.path() + "/./raw.onnx",
        dir.path() + "/sub/../raw.onnx"}) {
    absl::Status status = model->Save(target);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << target;
  }
  EXPECT_EQ(ReadBytes(dir / "raw.onnx"), original);
  EXPECT_FALSE(fs::exists(dir / "sub"));

  // With external data, saving next to the input would overwrite its data file.
  std::string file;
  WriteModel(dir / "ext.onnx", ExternalModel(&file, "w.bin", "w.bin"));
  WriteBytes(dir / "w.bin", file);
  model = OnnxModel::Load(dir / "ext.onnx");
  ASSERT_TRUE(model.ok()) << model.status();
  absl::Status status = model->Save(dir / "ext2.onnx");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("w.bin"), std::string::npos) << status;
  EXPECT_FALSE(fs::exists(dir / "ext2.onnx"));
  EXPECT_EQ(ReadBytes(dir / "w.bin"), file);
}

TEST(OnnxModelTest, MissingAndNonModelFiles) {
  TempDir dir;
  absl::StatusOr<OnnxModel> model = OnnxModel::Load(dir / "absent.onnx");
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(model.status().message().find("absent.onnx"), std::string::npos);
  model = OnnxModel::Load(dir.path());
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
  WriteBytes(dir / "text.onnx", "this is not a protobuf\n");
  model = OnnxModel::Load(dir / "text.onnx");
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(model.status().message().find("text.onnx"), std::string::npos);
}

// Every strict prefix of a model whose last field is opset_import is invalid:
// it either ends inside a length-delimited field or lacks the graph or the
// opset import.
TEST(OnnxModelTest, TruncatedModelsGiveErrors) {
  std::string bytes;
  ASSERT_TRUE(RawModel(/*with_metadata=*/false).SerializeToString(&bytes));
  for (size_t len = 0; len < bytes.size(); ++len) {
    absl::StatusOr<OnnxModel> model =
        OnnxModel::LoadFromBytes(bytes.substr(0, len));
    EXPECT_FALSE(model.ok())
        << "prefix of " << len << " of " << bytes.size() << " bytes";
    if (!model.ok()) {
      EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument)
          << model.status();
    }
  }
  // The same through files, at a few lengths.
  TempDir dir;
  for (size_t len :
       {size_t{0}, size_t{1}, size_t{7}, bytes.size() / 2, bytes.size() - 1}) {
    WriteBytes(dir / "cut.onnx", bytes.substr(0, len));
    absl::StatusOr<OnnxModel> model = OnnxModel::Load(dir / "cut.onnx");
    ASSERT_FALSE(model.ok()) << len;
    EXPECT_NE(model.status().message().find("cut.onnx"), std::string::npos);
  }
  ASSERT_TRUE(OnnxModel::LoadFromBytes(bytes).ok());
}

// Flipping any byte must not crash; what still loads must convert or fail
// cleanly.
TEST(OnnxModelTest, CorruptedModelsDoNotCrash) {
  for (const onnx::ModelProto& proto :
       {RawModel(), TypedModel(), ConstantModel()}) {
    std::string bytes;
    ASSERT_TRUE(proto.SerializeToString(&bytes));
    int rejected = 0;
    for (size_t pos = 0; pos < bytes.size(); ++pos) {
      for (unsigned char mask : {0x01, 0x80, 0xff}) {
        std::string flipped = bytes;
        flipped[pos] = static_cast<char>(flipped[pos] ^ mask);
        absl::StatusOr<OnnxModel> model = OnnxModel::LoadFromBytes(flipped);
        if (!model.ok()) {
          ++rejected;
          continue;
        }
        absl::StatusOr<Graph> graph = model->ToGraph();
        (void)graph;
        absl::StatusOr<std::string> again = model->SerializeToBytes();
        EXPECT_TRUE(again.ok());
      }
    }
    EXPECT_GT(rejected,
              static_cast<int>(bytes.size()));  // most flips are caught
  }
}

TEST(OnnxModelTest, CheckerErrorsAreInvalidArgument) {
  onnx::ModelProto proto = RawModel();
  proto.mutable_graph()->mutable_node(1)->set_op_type("NoSuchOp");
  std::string bytes;
  ASSERT_TRUE(proto.SerializeToString(&bytes));
  absl::StatusOr<OnnxModel> model = OnnxModel::LoadFromBytes(bytes);
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(model.status().message().find("NoSuchOp"), std::string::npos)
      << model.status();
  // Duplicate initializer names.
  proto = RawModel();
  proto.mutable_graph()->mutable_initializer(1)->set_name("W");
  ASSERT_TRUE(proto.SerializeToString(&bytes));
  EXPECT_FALSE(OnnxModel::LoadFromBytes(bytes).ok());
  // Typed data that does not match the shape: loads (the checker does not
  // look), ToGraph fails naming the tensor.
  proto = TypedModel();
  proto.mutable_graph()->mutable_initializer(0)->add_float_data(1.f);
  ASSERT_TRUE(proto.SerializeToString(&bytes));
  model = OnnxModel::LoadFromBytes(bytes);
  if (model.ok()) {
    absl::StatusOr<Graph> graph = model->ToGraph();
    ASSERT_FALSE(graph.ok());
    EXPECT_NE(graph.status().message().find("'wf'"), std::string::npos)
        << graph.status();
  } else {
    EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

// libonnx 1.12 knows the default domain up to opset 17 and IR version 8; a
// model for newer ONNX still loads (its nodes are not checked against older
// schemas of their types), and the graph-level checks still refuse what is
// broken.
TEST(OnnxModelTest, NewerOpsetsAndIrVersionsLoad) {
  for (int64_t opset : {18, 19, 20, 21}) {
    onnx::ModelProto proto = RawModel();
    proto.mutable_opset_import(0)->set_version(opset);
    proto.set_ir_version(opset >= 21 ? 10 : 9);
    // ReduceMean-18 takes axes as an input: the 1.12 schema (13) allows one
    // input only.
    onnx::GraphProto* g = proto.mutable_graph();
    g->mutable_node(1)->set_output(0, "s");
    AddNode(g, "ReduceMean", "mean", {"s", "axes"}, {"y"});
    auto* axes = AddInitializer(g, "axes", onnx::TensorProto::INT64, {1});
    axes->add_int64_data(1);
    std::string bytes;
    ASSERT_TRUE(proto.SerializeToString(&bytes));
    absl::StatusOr<OnnxModel> model = OnnxModel::LoadFromBytes(bytes);
    ASSERT_TRUE(model.ok()) << "opset " << opset << ": " << model.status();
    absl::StatusOr<Graph> graph = model->ToGraph();
    ASSERT_TRUE(graph.ok()) << graph.status();
    EXPECT_EQ(graph->opsets.at(""), opset);
    ASSERT_EQ(graph->nodes.size(), 3u);
    EXPECT_EQ(graph->nodes[2].domain, "");  // as in the file
    // The saved model is the file's, not the checker's view.
    absl::StatusOr<std::string> saved = model->SerializeToBytes();
    ASSERT_TRUE(saved.ok());
    onnx::ModelProto back;
    ASSERT_TRUE(back.ParseFromString(*saved));
    EXPECT_EQ(back.ir_version(), proto.ir_version());
    EXPECT_EQ(back.opset_import_size(), proto.opset_import_size());

    // A value used before it is defined is still refused.
    g->mutable_node(0)->set_input(0, "undefined");
    ASSERT_TRUE(proto.SerializeToString(&bytes));
    model = OnnxModel::LoadFromBytes(bytes);
    ASSERT_FALSE(model.ok());
    EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(model.status().message().find("undefined"), std::string::npos)
        << model.status();
  }
}

TEST(OnnxModelTest, SubgraphsAndSparseInitializersAreUnimplemented) {
  // If with then/else branches: loads and round-trips, but ToGraph names the
  // node.
  onnx::ModelProto proto = NewModel("if");
  onnx::GraphProto* g = proto.mutable_graph();
  onnx::NodeProto* node = AddNode(g, "If", "branch", {"cond"}, {"y"});
  for (const char* name : {"then_branch", "else_branch"}) {
    auto* attr = node->add_attribute();
    attr->set_name(name);
    attr->set_type(onnx::AttributeProto::GRAPH);
    onnx::GraphProto* body = attr->mutable_g();
    body->set_name(name);
    auto* c = AddNode(body, "Constant", "", {}, {std::string(name) + "_out"});
    auto* value = c->add_attribute();
    value->set_name("value");
    value->set_type(onnx::AttributeProto::TENSOR);
    value->mutable_t()->set_data_type(onnx::TensorProto::FLOAT);
    value->mutable_t()->add_float_data(1.f);
    SetValueInfo(body->add_output(), std::string(name) + "_out",
                 onnx::TensorProto::FLOAT, {});
  }
  SetValueInfo(g->add_input(), "cond", onnx::TensorProto::BOOL, {});
  SetValueInfo(g->add_output(), "y", onnx::TensorProto::FLOAT, {});
  TempDir dir;
  WriteModel(dir / "if.onnx", proto);
  ExpectRoundTrip(dir / "if.onnx");
  absl::StatusOr<OnnxModel> model = OnnxModel::Load(dir / "if.onnx");
  ASSERT_TRUE(model.ok()) << model.status();
  absl::StatusOr<Graph> graph = model->ToGraph();
  ASSERT_FALSE(graph.ok());
  EXPECT_EQ(graph.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(graph.status().message().find("If-13 node 'branch'"),
            std::string::npos)
      << graph.status();

  // A sparse initializer.
  proto = RawModel();
  g = proto.mutable_graph();
  auto* sparse = g->add_sparse_initializer();
  sparse->add_dims(4);
  sparse->mutable_values()->set_name("S");
  sparse->mutable_values()->set_data_type(onnx::TensorProto::FLOAT);
  sparse->mutable_values()->add_dims(1);
  sparse->mutable_values()->add_float_data(2.f);
  sparse->mutable_indices()->set_data_type(onnx::TensorProto::INT64);
  sparse->mutable_indices()->add_dims(1);
  sparse->mutable_indices()->add_int64_data(3);
  WriteModel(dir / "sparse.onnx", proto);
  model = OnnxModel::Load(dir / "sparse.onnx");
  ASSERT_TRUE(model.ok()) << model.status();
  graph = model->ToGraph();
  ASSERT_FALSE(graph.ok());
  EXPECT_EQ(graph.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(graph.status().message().find("'S'"), std::string::npos)
      << graph.status();
}

TEST(OnnxModelTest, MovedModelKeepsItsState) {
  TempDir dir;
  WriteModel(dir / "raw.onnx", RawModel());
  absl::StatusOr<OnnxModel> loaded = OnnxModel::Load(dir / "raw.onnx");
  ASSERT_TRUE(loaded.ok());
  OnnxModel model = *std::move(loaded);
  OnnxModel other = std::move(model);
  EXPECT_EQ(other.path(), dir / "raw.onnx");
  EXPECT_EQ(other.InitializerNames(), (std::vector<std::string>{"W", "B"}));
  EXPECT_EQ(Values<float>(*other.ReadInitializer("B")), kB);
}

// --- external data written as patches (issue #12)
// ----------------------------------------------------------------------------

// A changed value is kept as the bytes that differ from the file, the saved
// copy differs from the input only there, and writing the original back
// leaves nothing to patch: the saved copy is the input byte for byte.
TEST(OnnxModelTest, ExternalDataSavesOnlyTheChangedBytes) {
  TempDir in;
  std::string file;
  WriteModel(in / "m.onnx",
             ExternalModel(&file, "weights/w.bin", "weights/w.bin"));
  WriteBytes(in / "weights/w.bin", file);
  absl::StatusOr<OnnxModel> model = OnnxModel::Load(in / "m.onnx");
  ASSERT_TRUE(model.ok()) << model.status();
  std::vector<float> w = kW;
  w[3] = 7.25f;  // element 3 of W: file bytes 16 + 12 .. 16 + 15
  ASSERT_TRUE(
      model->WriteInitializer("W", Tensor::FromVector<float>({4, 3}, w)).ok());
  absl::StatusOr<Tensor> read = model->ReadInitializer("W");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(Values<float>(*read), w);
  TempDir out;
  ASSERT_TRUE(model->Save(out / "locked.onnx").ok());
  const std::string saved = ReadBytes(out / "weights/w.bin");
  ASSERT_EQ(saved.size(), file.size());
  std::string expected = file;
  std::memcpy(expected.data() + 16 + 12, &w[3], 4);
  EXPECT_EQ(saved, expected);
  EXPECT_EQ(ReadBytes(in / "weights/w.bin"), file) << "the input changed";

  ASSERT_TRUE(
      model->WriteInitializer("W", Tensor::FromVector<float>({4, 3}, kW)).ok());
  TempDir back;
  ASSERT_TRUE(model->Save(back / "unlocked.onnx").ok());
  EXPECT_EQ(ReadBytes(back / "weights/w.bin"), file);
}

// An external data file changed in place after loading is not mixed into a
// read or an output: both fail with DataLoss, and Save writes nothing.
TEST(OnnxModelTest, ExternalDataChangedAfterLoadIsDataLoss) {
  TempDir in;
  std::string file;
  WriteModel(in / "m.onnx",
             ExternalModel(&file, "weights/w.bin", "weights/w.bin"));
  WriteBytes(in / "weights/w.bin", file);
  absl::StatusOr<OnnxModel> model = OnnxModel::Load(in / "m.onnx");
  ASSERT_TRUE(model.ok()) << model.status();
  {
    std::ofstream f(in / "weights/w.bin", std::ios::binary | std::ios::app);
    f << "more";
  }
  absl::StatusOr<Tensor> w = model->ReadInitializer("W");
  EXPECT_EQ(w.status().code(), absl::StatusCode::kDataLoss) << w.status();
  TempDir out;
  const absl::Status saved = model->Save(out / "copy.onnx");
  EXPECT_EQ(saved.code(), absl::StatusCode::kDataLoss) << saved;
  EXPECT_FALSE(fs::exists(out / "copy.onnx"));
  EXPECT_FALSE(fs::exists(out / "weights/w.bin"));
}

// ExternalData's patches against a plain oracle: a byte array written the
// same way. Overlapping and repeated writes, writes of the file's own bytes,
// and reads across patch edges.
TEST(ExternalDataTest, PatchesMatchAnInMemoryFile) {
  TempDir dir;
  std::mt19937 rng(7);
  std::string file(4096, '\0');
  for (char& c : file) c = static_cast<char>(rng() & 3);  // many equal bytes
  WriteBytes(dir / "d.bin", file);
  ExternalData data;
  ASSERT_TRUE(data.Open("d.bin", dir / "d.bin").ok());
  std::string oracle = file;
  for (int round = 0; round < 400; ++round) {
    const int64_t off = rng() % 4000, len = 1 + rng() % 96;
    std::string bytes = oracle.substr(off, len);
    for (char& c : bytes) {
      if (rng() % 3 == 0) c = static_cast<char>(rng() & 3);
    }
    if (round % 50 == 49) bytes = file.substr(off, len);  // the file's own
    ASSERT_TRUE(data.Write("d.bin", off, len,
                           reinterpret_cast<const uint8_t*>(bytes.data()))
                    .ok());
    oracle.replace(off, len, bytes);
    const int64_t r0 = rng() % 4096, rn = rng() % (4096 - r0 + 1);
    std::string got(rn, '\0');
    ASSERT_TRUE(
        data.Read("d.bin", r0, rn, reinterpret_cast<uint8_t*>(got.data()))
            .ok());
    ASSERT_EQ(got, oracle.substr(r0, rn)) << "round " << round;
  }
  int64_t differing = 0;
  for (size_t i = 0; i < file.size(); ++i) differing += file[i] != oracle[i];
  EXPECT_GE(data.PatchedBytes(), differing);
  OutputSet outputs;
  ASSERT_TRUE(data.StageCopy("d.bin", dir / "copy.bin", outputs).ok());
  ASSERT_TRUE(outputs.Commit().ok());
  EXPECT_EQ(ReadBytes(dir / "copy.bin"), oracle);
  // Writing the file's bytes back everywhere leaves no patch.
  ASSERT_TRUE(data.Write("d.bin", 0, 4096,
                         reinterpret_cast<const uint8_t*>(file.data()))
                  .ok());
  EXPECT_EQ(data.PatchedBytes(), 0);
  uint8_t b;
  EXPECT_EQ(data.Read("d.bin", 4096, 1, &b).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(data.Read("other.bin", 0, 1, &b).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace onnx_crypt
