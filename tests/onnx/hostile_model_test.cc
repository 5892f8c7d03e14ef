// Hostile models and keys: attributes that would divide by zero in libonnx's
// shape inference, shapes whose sizes overflow int64 or exceed the tensor
// budget, and a crafted key naming a tensor the model lacks. Each must give an
// InvalidArgument (or DataLoss) status naming the node or tensor, never a
// signal, an uncaught exception or undefined behaviour.
#include <onnx/onnx_pb.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "onnx_crypt/api.h"
#include "onnx_crypt/base/file.h"
#include "onnx_crypt/base/memory_budget.h"
#include "onnx_crypt/data/npz.h"
#include "onnx_crypt/engine/factory.h"
#include "onnx_crypt/ir/tensor.h"
#include "onnx_crypt/key/key.h"
#include "onnx_crypt/lock/model_lock.h"
#include "onnx_crypt/onnx/model.h"
#include "onnx_crypt/ops/cpu/pool_util.h"
#include "onnx_crypt/ops/registry.h"
#include "tests/support/graphs.h"
#include "tests/support/op_check.h"

namespace onnx_crypt {
namespace {

void AddInts(onnx::NodeProto* node, const std::string& name,
             const std::vector<int64_t>& values) {
  onnx::AttributeProto* attr = node->add_attribute();
  attr->set_name(name);
  attr->set_type(onnx::AttributeProto::INTS);
  for (int64_t v : values) attr->add_ints(v);
}

void SetFloatInfo(onnx::ValueInfoProto* info, const std::string& name,
                  const std::vector<int64_t>& dims) {
  info->set_name(name);
  auto* type = info->mutable_type()->mutable_tensor_type();
  type->set_elem_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) type->mutable_shape()->add_dim()->set_dim_value(d);
}

// A float tensor of `rank` symbolic dimensions.
void SetSymbolicInfo(onnx::ValueInfoProto* info, const std::string& name,
                     int rank) {
  info->set_name(name);
  auto* type = info->mutable_type()->mutable_tensor_type();
  type->set_elem_type(onnx::TensorProto::FLOAT);
  for (int i = 0; i < rank; ++i) {
    type->mutable_shape()->add_dim()->set_dim_param(absl::StrCat("d", i));
  }
}

// x float[1, 1, 5, 5] -> OP node 'bad' (Conv with W float[1, 1, 3, 3]) -> y,
// with the given integer-list attribute (kernel_shape [3, 3] for the pools
// unless `attr` is kernel_shape).
std::string WindowModel(const std::string& op, const std::string& attr,
                        const std::vector<int64_t>& values) {
  onnx::ModelProto model;
  model.set_ir_version(8);
  auto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(13);
  onnx::GraphProto* g = model.mutable_graph();
  g->set_name("hostile");
  onnx::NodeProto* node = g->add_node();
  node->set_op_type(op);
  node->set_name("bad");
  node->add_input("x");
  if (op == "Conv") {
    node->add_input("W");
    onnx::TensorProto* w = g->add_initializer();
    w->set_name("W");
    w->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : {1, 1, 3, 3}) w->add_dims(d);
    for (int i = 0; i < 9; ++i) w->add_float_data(0.5f);
  } else if (attr != "kernel_shape") {
    AddInts(node, "kernel_shape", {3, 3});
  }
  node->add_output("y");
  if (!attr.empty()) AddInts(node, attr, values);
  SetFloatInfo(g->add_input(), "x", {1, 1, 5, 5});
  SetSymbolicInfo(g->add_output(), "y", 4);
  std::string bytes;
  EXPECT_TRUE(model.SerializeToString(&bytes));
  return bytes;
}

TEST(HostileModelTest, ValidWindowModelsLoad) {
  for (const char* op : {"Conv", "MaxPool", "AveragePool"}) {
    absl::StatusOr<OnnxModel> model =
        OnnxModel::LoadFromBytes(WindowModel(op, "strides", {2, 2}));
    EXPECT_TRUE(model.ok()) << op << ": " << model.status();
  }
}

// Before the loader's check, strides 0 killed the process with SIGFPE inside
// onnx::shape_inference.
TEST(HostileModelTest, BadWindowAttributesAreInvalidArgumentAtLoad) {
  struct Case {
    std::string attr;
    std::vector<int64_t> values;
  };
  const std::vector<Case> cases = {
      {"strides", {0, 0}},
      {"strides", {1, -2}},
      {"dilations", {0, 0}},
      {"kernel_shape", {0, 0}},
      {"kernel_shape", {-1, 3}},
      {"pads", {-1, 0, 0, 0}},
      {"strides", {int64_t{1} << 40, 1}},
  };
  for (const char* op : {"Conv", "MaxPool", "AveragePool"}) {
    for (const Case& c : cases) {
      if (c.attr == "dilations" && std::string(op) == "AveragePool") continue;
      absl::StatusOr<OnnxModel> model =
          OnnxModel::LoadFromBytes(WindowModel(op, c.attr, c.values));
      ASSERT_FALSE(model.ok()) << op << " " << c.attr;
      EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument)
          << model.status();
      EXPECT_NE(model.status().message().find("'bad'"), std::string::npos)
          << model.status();
      EXPECT_NE(model.status().message().find(c.attr), std::string::npos)
          << model.status();
    }
  }
}

Node PoolNode(const std::vector<int64_t>& strides,
              const std::vector<int64_t>& dilations,
              const std::vector<int64_t>& pads) {
  Node node = testing::Op("MaxPool", {"x"}, {"y"});
  node.name = "pool";
  testing::SetAttr(node, "strides", strides);
  testing::SetAttr(node, "dilations", dilations);
  testing::SetAttr(node, "pads", pads);
  return node;
}

// The shared window geometry (CPU and CUDA kernels) checks its arithmetic.
TEST(HostileModelTest, WindowGeometryRefusesBadAndOverflowingAttributes) {
  const int64_t big = int64_t{1} << 62;
  const Shape x = {1, 1, 5, 5};
  struct Case {
    Node node;
    std::vector<int64_t> kernel;
  };
  const std::vector<Case> cases = {
      {PoolNode({0, 0}, {1, 1}, {0, 0, 0, 0}), {3, 3}},
      {PoolNode({1, 1}, {0, 1}, {0, 0, 0, 0}), {3, 3}},
      {PoolNode({1, 1}, {1, 1}, {-1, 0, 0, 0}), {3, 3}},
      {PoolNode({1, 1}, {1, 1}, {0, 0, 0, 0}), {0, 3}},
      // (kernel - 1) * dilation overflows.
      {PoolNode({1, 1}, {big, 1}, {0, 0, 0, 0}), {3, 3}},
      // in + pads overflows.
      {PoolNode({1, 1}, {1, 1}, {big, 0, big, 0}), {3, 3}},
      // The output would hold about 2^62 elements.
      {PoolNode({1, 1}, {1, 1}, {big / 2, big / 2, 0, 0}), {3, 3}},
  };
  for (const Case& c : cases) {
    absl::StatusOr<cpu::WindowGeometry> g =
        cpu::MakeWindowGeometry(c.node, x, c.kernel, /*ceil_mode=*/false);
    ASSERT_FALSE(g.ok());
    EXPECT_EQ(g.status().code(), absl::StatusCode::kInvalidArgument)
        << g.status();
    EXPECT_NE(g.status().message().find("'pool'"), std::string::npos)
        << g.status();
  }
  // A valid geometry is unchanged.
  absl::StatusOr<cpu::WindowGeometry> g = cpu::MakeWindowGeometry(
      PoolNode({2, 2}, {1, 1}, {1, 1, 1, 1}), x, {3, 3}, /*ceil_mode=*/true);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->OutputShape(1), (Shape{1, 1, 3, 3}));
}

TEST(HostileModelTest, ShapeProductsDoNotOverflow) {
  const int64_t big = (int64_t{1} << 60) + 49;
  EXPECT_EQ(NumElements({2, 3, 4}), 24);
  EXPECT_EQ(NumElements({big, 16}), INT64_MAX);  // saturates, no UB
  EXPECT_EQ(*CheckedNumElements({2, 3, 4}), 24);
  EXPECT_EQ(*CheckedNumElements({0, big, big}), 0);
  EXPECT_FALSE(CheckedNumElements({big, 16}).ok());
  EXPECT_FALSE(CheckedNumElements({-1, 4}).ok());
  EXPECT_TRUE(CheckTensorSize(DType::kFloat32, {1024, 1024}).ok());
  EXPECT_FALSE(CheckTensorSize(DType::kFloat32, {int64_t{1} << 39}).ok());
  EXPECT_FALSE(CheckTensorSize(DType::kFloat32, {big, 16}).ok());
}

// Runs the CPU reference forward of `node` on `inputs`.
absl::Status Forward(const Node& node, const std::vector<Tensor>& inputs) {
  absl::StatusOr<const OpDef*> op = FindOp(node);
  if (!op.ok()) return op.status();
  TensorRefs refs;
  for (const Tensor& t : inputs) refs.push_back(&t);
  std::vector<Tensor> outputs(node.outputs.size());
  std::unique_ptr<OpContext> ctx;
  return (*op)->forward(node, refs, outputs, &ctx);
}

void ExpectNodeError(const absl::Status& status, const std::string& node) {
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_NE(status.message().find("'" + node + "'"), std::string::npos)
      << status;
}

// Padding by 2^40 used to throw std::bad_alloc out of the kernel; 2^62 on
// both sides overflowed the output size.
TEST(HostileModelTest, PadBeyondTheBudgetIsInvalidArgument) {
  const Tensor x = Tensor::FromVector<float>({1, 4}, {1, 2, 3, 4});
  Node pad = testing::Op("Pad", {"x", "pads"}, {"y"});
  pad.name = "pad";
  const int64_t huge = int64_t{1} << 40;
  const int64_t wrap = int64_t{1} << 62;
  for (const std::vector<int64_t>& pads :
       {std::vector<int64_t>{0, 0, 0, huge},
        std::vector<int64_t>{0, wrap, 0, wrap}}) {
    ExpectNodeError(Forward(pad, {x, Tensor::FromVector<int64_t>({4}, pads)}),
                    "pad");
  }
  EXPECT_TRUE(
      Forward(pad, {x, Tensor::FromVector<int64_t>({4}, {0, 1, 0, 2})}).ok());
}

// [2^60 + 49, 16] has 784 elements modulo 2^64: the reshape was accepted and a
// later Transpose read far past the buffer.
TEST(HostileModelTest, ReshapeWhoseElementCountOverflowsIsInvalidArgument) {
  const Tensor x(DType::kFloat32, {784});
  Node reshape = testing::Op("Reshape", {"x", "shape"}, {"y"});
  reshape.name = "reshape";
  const int64_t big = (int64_t{1} << 60) + 49;
  ExpectNodeError(
      Forward(reshape, {x, Tensor::FromVector<int64_t>({2}, {big, 16})}),
      "reshape");
  ExpectNodeError(
      Forward(reshape, {x, Tensor::FromVector<int64_t>({3}, {big, 16, -1})}),
      "reshape");
  EXPECT_TRUE(
      Forward(reshape, {x, Tensor::FromVector<int64_t>({2}, {49, 16})}).ok());
}

// An op output over the memory budget is an error naming the node (the
// tensor allocator throws, the executor catches), not std::bad_alloc or a
// crash; the same engine runs again once the budget allows it.
TEST(HostileModelTest, OpOutputOverTheMemoryBudgetNamesTheNode) {
  const Tensor x(DType::kFloat32, {1000, 3});  // 12,000 bytes
  absl::StatusOr<std::unique_ptr<Engine>> engine =
      CreateEngine(testing::GemmGraph(), "cpu");
  ASSERT_TRUE(engine.ok()) << engine.status();
  ASSERT_TRUE(SetMemoryBudgetBytes(14000).ok());  // logits need 16,000
  absl::StatusOr<std::vector<Tensor>> out = (*engine)->Run({{"x", x}});
  ASSERT_TRUE(SetMemoryBudgetBytes(kDefaultMemoryBudgetBytes).ok());
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kResourceExhausted)
      << out.status();
  EXPECT_NE(out.status().message().find("'fc'"), std::string::npos)
      << out.status();
  EXPECT_NE(out.status().message().find("--max-memory"), std::string::npos)
      << out.status();
  out = (*engine)->Run({{"x", x}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].shape(), (Shape{1000, 4}));
}

// A key that copies the locked model's fingerprint but names a tensor the model
// lacks used to end in an uncaught std::out_of_range.
TEST(HostileModelTest, CraftedKeyNamingAMissingTensorIsInvalidArgument) {
  absl::StatusOr<OnnxModel> model =
      OnnxModel::LoadFromBytes(WindowModel("Conv", "strides", {1, 1}));
  ASSERT_TRUE(model.ok()) << model.status();
  absl::StatusOr<Graph> graph = model->ToGraph();
  ASSERT_TRUE(graph.ok()) << graph.status();
  keyfile::LockKey key;
  key.set_model_sha256_original(std::string(32, 'a'));
  key.set_model_sha256_locked(GraphInitializersSha256(*graph));
  keyfile::TensorFingerprint* fp = key.add_tensors();
  fp->set_name("no_such_tensor");
  fp->set_data_type(static_cast<int32_t>(DType::kFloat32));
  fp->add_dims(4);
  fp->set_sha256_original(std::string(32, 'b'));
  fp->set_sha256_locked(std::string(32, 'c'));
  keyfile::LockedValue* v = key.add_values();
  v->set_tensor("no_such_tensor");
  v->set_index(1);
  v->set_original(std::string(4, '\0'));
  v->set_locked(std::string(4, '\1'));
  ASSERT_TRUE(ValidateKey(key).ok());
  const absl::Status status = ApplyKey(*model, key);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_NE(status.message().find("'no_such_tensor'"), std::string::npos)
      << status;
}

// Fingerprint dims whose product overflows (signed overflow before) or is
// negative are a corrupt key.
TEST(HostileModelTest, KeyWithOverflowingDimsIsDataLoss) {
  for (const std::vector<int64_t>& dims :
       {std::vector<int64_t>{int64_t{1} << 62, 8},
        std::vector<int64_t>{-2, -3}}) {
    keyfile::LockKey key;
    key.set_model_sha256_original(std::string(32, 'a'));
    key.set_model_sha256_locked(std::string(32, 'b'));
    keyfile::TensorFingerprint* fp = key.add_tensors();
    fp->set_name("W");
    fp->set_data_type(static_cast<int32_t>(DType::kFloat32));
    for (int64_t d : dims) fp->add_dims(d);
    fp->set_sha256_original(std::string(32, 'c'));
    fp->set_sha256_locked(std::string(32, 'd'));
    keyfile::LockedValue* v = key.add_values();
    v->set_tensor("W");
    v->set_index(5);
    v->set_original(std::string(4, '\0'));
    v->set_locked(std::string(4, '\1'));
    const absl::Status status = ValidateKey(key);
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
    EXPECT_NE(status.message().find("'W'"), std::string::npos) << status;
  }
}

// x float[N, 3] -> Gemm(W[4, 3]^T, b[4]) node 'fc' -> logits: a classifier
// small enough to lock in a moment.
std::string GemmModelBytes() {
  onnx::ModelProto model;
  model.set_ir_version(8);
  auto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(13);
  onnx::GraphProto* g = model.mutable_graph();
  g->set_name("gemm");
  onnx::NodeProto* node = g->add_node();
  node->set_op_type("Gemm");
  node->set_name("fc");
  node->add_input("x");
  node->add_input("W");
  node->add_input("b");
  node->add_output("logits");
  onnx::AttributeProto* attr = node->add_attribute();
  attr->set_name("transB");
  attr->set_type(onnx::AttributeProto::INT);
  attr->set_i(1);
  onnx::TensorProto* w = g->add_initializer();
  w->set_name("W");
  w->set_data_type(onnx::TensorProto::FLOAT);
  w->add_dims(4);
  w->add_dims(3);
  for (int i = 0; i < 12; ++i) w->add_float_data(0.1f * (i % 5) - 0.2f);
  onnx::TensorProto* b = g->add_initializer();
  b->set_name("b");
  b->set_data_type(onnx::TensorProto::FLOAT);
  b->add_dims(4);
  for (int i = 0; i < 4; ++i) b->add_float_data(0.05f * i);
  onnx::ValueInfoProto* x = g->add_input();
  x->set_name("x");
  auto* type = x->mutable_type()->mutable_tensor_type();
  type->set_elem_type(onnx::TensorProto::FLOAT);
  type->mutable_shape()->add_dim()->set_dim_param("N");
  type->mutable_shape()->add_dim()->set_dim_value(3);
  SetSymbolicInfo(g->add_output(), "logits", 2);
  std::string bytes;
  EXPECT_TRUE(model.SerializeToString(&bytes));
  return bytes;
}

// `lock --key missing-dir/k.key` used to write the locked model and then fail
// on the key, leaving the model behind without it.
TEST(HostileModelTest, LockWritesBothOutputsOrNeither) {
  namespace fs = std::filesystem;
  std::string pattern = ::testing::TempDir() + "/hostile_model_test.XXXXXX";
  ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
  const fs::path dir = pattern;
  const std::string model = (dir / "m.onnx").string();
  const std::string data = (dir / "d.npz").string();
  {
    std::string bytes = GemmModelBytes();
    ASSERT_TRUE(WriteFileAtomically(model, bytes).ok());
    std::vector<float> xs;
    for (int i = 0; i < 24; ++i) xs.push_back(0.3f * ((i * 7) % 11) - 1.5f);
    ASSERT_TRUE(
        SaveNpz(data, {{"x", Tensor::FromVector<float>({8, 3}, xs)}}).ok());
  }
  LockOptions options;
  options.config.max_values = 2;
  const std::string locked = (dir / "locked.onnx").string();
  absl::StatusOr<LockSummary> summary = LockFile(
      model, data, locked, (dir / "missing" / "k.key").string(), options);
  ASSERT_FALSE(summary.ok());
  EXPECT_NE(summary.status().message().find("missing"), std::string::npos)
      << summary.status();
  EXPECT_FALSE(fs::exists(locked));
  // Into existing folders both are written, and no temporary is left.
  summary = LockFile(model, data, locked, (dir / "k.key").string(), options);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_TRUE(fs::exists(locked));
  EXPECT_TRUE(fs::exists(dir / "k.key"));
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    (void)entry;
    ++files;
  }
  EXPECT_EQ(files, 4);  // m.onnx, d.npz, locked.onnx, k.key
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace
}  // namespace onnx_crypt
