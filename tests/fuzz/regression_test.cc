// Inputs the fuzzers (tests/fuzz/fuzz_*.cc) crashed on, fed to the same
// functions in the normal build: the files under tests/fuzz/regressions/NAME/
// (NAME = the harness), each exactly as the fuzzer saved it, and variants
// built by code that reach the same bug by another way.
//
// model_loader: libonnx 1.12's shape inference for the convolution family
// reads W's dimensions by X's rank, past the end of its vectors when the ranks
// differ, and LayerNormalization's indexes the mean's dims from axis + rank,
// -1 for a scalar X (SEGV under ASan). The loader now infers shapes node by
// node and skips such nodes (onnx/infer_shapes.h): the models load, and their
// outputs keep the types the file declares.
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "onnx_crypt/base/file.h"
#include "onnx_crypt/engine/factory.h"
#include "onnx_crypt/onnx/model.h"
#include "tests/support/paths.h"

namespace onnx_crypt {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> RegressionInputs(const std::string& harness) {
  std::vector<fs::path> files;
  const fs::path dir =
      fs::path(testing::SourceDir()) / "tests/fuzz/regressions" / harness;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_regular_file()) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// What fuzz_model_loader does with an input, short of the lockable tensors.
void LoadLikeTheFuzzer(const std::string& bytes) {
  absl::StatusOr<OnnxModel> model = OnnxModel::LoadFromBytes(bytes);
  if (!model.ok()) return;
  absl::StatusOr<Graph> graph = model->ToGraph();
  if (graph.ok()) (void)PlanForDevice(*graph, "cpu");
}

TEST(FuzzRegressionTest, ModelLoaderInputs) {
  const std::vector<fs::path> files = RegressionInputs("model_loader");
  ASSERT_GE(files.size(), 5u);
  for (const fs::path& file : files) {
    SCOPED_TRACE(file.string());
    absl::StatusOr<std::string> bytes = ReadFile(file.string());
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    // Each is a valid protobuf that the checker accepts (it does not look at
    // shapes), so it loads.
    absl::StatusOr<OnnxModel> model = OnnxModel::LoadFromBytes(*bytes);
    EXPECT_TRUE(model.ok()) << model.status();
    LoadLikeTheFuzzer(*bytes);
  }
}

void SetInfo(onnx::ValueInfoProto* info, const std::string& name,
             const std::vector<int64_t>& dims) {
  info->set_name(name);
  auto* type = info->mutable_type()->mutable_tensor_type();
  type->set_elem_type(onnx::TensorProto::FLOAT);
  auto* shape = type->mutable_shape();
  for (int64_t d : dims) shape->add_dim()->set_dim_value(d);
}

// A float output of `rank` named (unknown) dimensions.
void SetSymbolicInfo(onnx::ValueInfoProto* info, const std::string& name,
                     int rank) {
  SetInfo(info, name, {});
  auto* shape = info->mutable_type()->mutable_tensor_type()->mutable_shape();
  for (int i = 0; i < rank; ++i) {
    shape->add_dim()->set_dim_param(name + "_" + std::to_string(i));
  }
}

onnx::ModelProto ModelWithOpset(int opset) {
  onnx::ModelProto model;
  model.set_ir_version(8);
  auto* import = model.add_opset_import();
  import->set_domain("");
  import->set_version(opset);
  model.mutable_graph()->set_name("regression");
  return model;
}

// X float[1, 1, 4, 4] -> Flatten -> [1, 16] -> ConvTranspose(W float[1, 1, 3,
// 3]) -> Y: the rank-2 input comes from inference of the node before, not from
// a declaration, so no check on the file's declared shapes alone would see it.
TEST(FuzzRegressionTest, ConvTransposeFedByAnInferredRank2Value) {
  onnx::ModelProto model = ModelWithOpset(13);
  onnx::GraphProto* g = model.mutable_graph();
  SetInfo(g->add_input(), "X", {1, 1, 4, 4});
  SetInfo(g->add_input(), "W", {1, 1, 3, 3});
  SetSymbolicInfo(g->add_output(), "Y", 4);
  onnx::NodeProto* flatten = g->add_node();
  flatten->set_op_type("Flatten");
  flatten->add_input("X");
  flatten->add_output("F");
  onnx::NodeProto* conv = g->add_node();
  conv->set_op_type("ConvTranspose");
  conv->set_name("deconv");
  conv->add_input("F");
  conv->add_input("W");
  conv->add_output("Y");
  absl::StatusOr<OnnxModel> loaded =
      OnnxModel::LoadFromBytes(model.SerializeAsString());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  // Flatten was inferred, the ConvTranspose after it was not.
  auto f = loaded->inferred_values().find("F");
  ASSERT_NE(f, loaded->inferred_values().end());
  EXPECT_EQ(f->second.dims, (Shape{1, 16}));
  auto y = loaded->inferred_values().find("Y");
  ASSERT_NE(y, loaded->inferred_values().end());
  EXPECT_EQ(y->second.dims, (Shape{-1, -1, -1, -1}));  // as declared
  LoadLikeTheFuzzer(model.SerializeAsString());
}

// The same ConvTranspose as convtranspose_x_rank2_w_rank3.onnx, inside both
// branches of an If: whole-graph inference would reach it through the If's
// inference; node-by-node inference does not infer nodes with subgraphs (the
// engine does not run them either: ToGraph says Unimplemented).
TEST(FuzzRegressionTest, ConvTransposeInsideAnIfBranch) {
  onnx::ModelProto model = ModelWithOpset(13);
  onnx::GraphProto* g = model.mutable_graph();
  SetInfo(g->add_input(), "X", {1, 3});
  SetInfo(g->add_input(), "W", {1, 2, 3});
  onnx::ValueInfoProto* cond = g->add_input();
  cond->set_name("C");
  cond->mutable_type()->mutable_tensor_type()->set_elem_type(
      onnx::TensorProto::BOOL);
  cond->mutable_type()->mutable_tensor_type()->mutable_shape();
  SetSymbolicInfo(g->add_output(), "Y", 3);
  onnx::NodeProto* node = g->add_node();
  node->set_op_type("If");
  node->set_name("if");
  node->add_input("C");
  node->add_output("Y");
  for (const char* branch : {"then_branch", "else_branch"}) {
    onnx::AttributeProto* attr = node->add_attribute();
    attr->set_name(branch);
    attr->set_type(onnx::AttributeProto::GRAPH);
    onnx::GraphProto* body = attr->mutable_g();
    body->set_name(branch);
    onnx::NodeProto* conv = body->add_node();
    conv->set_op_type("ConvTranspose");
    conv->add_input("X");
    conv->add_input("W");
    conv->add_output(std::string(branch) + "_y");
    SetSymbolicInfo(body->add_output(), std::string(branch) + "_y", 3);
  }
  absl::StatusOr<OnnxModel> loaded =
      OnnxModel::LoadFromBytes(model.SerializeAsString());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->ToGraph().status().code(),
            absl::StatusCode::kUnimplemented);
}

}  // namespace
}  // namespace onnx_crypt
