// Single-node cases of the ops-shape kernels (Resize 10/11/13/18/19, Upsample
// 7/9, Split 11/13/18, Slice, Expand, Tile, Range, Size, GatherElements,
// Einsum) against onnxruntime's outputs, stored in tests/data/ort_shape_ops in
// the layout of ONNX's node tests (written by
// tools/ort_cases/make_shape_cases.sh). They cover what libonnx-testdata 1.12
// lacks: Resize 10 and 18/19, Upsample 7, Split 18, int64 data. Cases of opset
// >= 18 carry node.txt and are built here from it, since the loader's libonnx
// 1.12 checker does not know those schemas; the others go through the loader.
// Tolerance as the node tests: |got - want| <= 1e-7 + 1e-3 |want|.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/engine/cpu_engine.h"
#include "onnx_crypt/onnx/model.h"
#include "onnx_crypt/onnx/tensor_proto.h"
#include "tests/support/op_check.h"
#include "tests/support/paths.h"

namespace onnx_crypt {
namespace {

namespace fs = std::filesystem;

// node.txt: "op TYPE OPSET", "inputs NAME|- ...", "outputs N", then one
// attribute per line: "int|float|string|ints KEY VALUE...".
absl::StatusOr<Graph> GraphFromNodeText(const fs::path& file,
                                        const std::vector<Tensor>& inputs) {
  std::ifstream in(file);
  if (!in) return absl::NotFoundError(file.string());
  Node node;
  node.name = "under_test";
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string kind, key;
    words >> kind;
    if (kind == "op") {
      words >> node.op_type >> node.opset;
    } else if (kind == "inputs") {
      std::string name;
      while (words >> name) node.inputs.push_back(name == "-" ? "" : name);
    } else if (kind == "outputs") {
      int n = 0;
      words >> n;
      for (int i = 0; i < n; ++i) node.outputs.push_back(absl::StrCat("y", i));
    } else if (kind == "int") {
      int64_t v = 0;
      words >> key >> v;
      testing::SetAttr(node, key, v);
    } else if (kind == "float") {
      float v = 0;
      words >> key >> v;
      testing::SetAttr(node, key, v);
    } else if (kind == "string") {
      std::string v;
      words >> key >> v;
      testing::SetAttr(node, key, v);
    } else if (kind == "ints") {
      std::vector<int64_t> v;
      int64_t i = 0;
      words >> key;
      while (words >> i) v.push_back(i);
      testing::SetAttr(node, key, v);
    } else if (!kind.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(file.string(), ": bad line '", line, "'"));
    }
  }
  Graph g;
  g.opsets[""] = node.opset;
  size_t k = 0;
  for (const std::string& name : node.inputs) {
    if (name.empty()) continue;
    if (k >= inputs.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat(file.string(), ": more inputs than input_N.pb files"));
    }
    ValueInfo v;
    v.name = name;
    v.dtype = inputs[k++].dtype();
    g.inputs.push_back(v);
  }
  for (const std::string& name : node.outputs) {
    ValueInfo v;
    v.name = name;
    g.outputs.push_back(v);
  }
  g.nodes.push_back(node);
  return g;
}

absl::Status RunCase(const fs::path& dir) {
  const fs::path set = dir / "test_data_set_0";
  std::vector<Tensor> inputs, want;
  for (int i = 0;; ++i) {
    const fs::path p = set / absl::StrCat("input_", i, ".pb");
    if (!fs::exists(p)) break;
    OC_ASSIGN_OR_RETURN(Tensor t, LoadTensorProtoFile(p.string()));
    inputs.push_back(std::move(t));
  }
  for (int i = 0;; ++i) {
    const fs::path p = set / absl::StrCat("output_", i, ".pb");
    if (!fs::exists(p)) break;
    OC_ASSIGN_OR_RETURN(Tensor t, LoadTensorProtoFile(p.string()));
    want.push_back(std::move(t));
  }
  if (want.empty()) return absl::NotFoundError("no output_N.pb");
  Graph graph;
  if (fs::exists(dir / "node.txt")) {
    OC_ASSIGN_OR_RETURN(graph, GraphFromNodeText(dir / "node.txt", inputs));
  } else {
    OC_ASSIGN_OR_RETURN(OnnxModel model,
                        OnnxModel::Load((dir / "model.onnx").string()));
    OC_ASSIGN_OR_RETURN(graph, model.ToGraph());
  }
  if (graph.inputs.size() != inputs.size()) {
    return absl::InvalidArgumentError("graph inputs and input_N.pb differ");
  }
  Feeds feeds;
  for (size_t i = 0; i < inputs.size(); ++i)
    feeds[graph.inputs[i].name] = inputs[i];
  OC_ASSIGN_OR_RETURN(std::unique_ptr<CpuEngine> engine,
                      CpuEngine::Create(std::move(graph)));
  OC_ASSIGN_OR_RETURN(std::vector<Tensor> got, engine->Run(feeds));
  if (got.size() != want.size()) {
    return absl::InternalError(
        absl::StrCat(got.size(), " outputs, expected ", want.size()));
  }
  for (size_t k = 0; k < want.size(); ++k) {
    if (got[k].shape() != want[k].shape() ||
        got[k].dtype() != want[k].dtype()) {
      return absl::InternalError(
          absl::StrCat("output ", k, " is ", got[k].DebugString(),
                       ", expected ", want[k].DebugString()));
    }
    const std::vector<double> g = got[k].ToDoubleVector();
    const std::vector<double> w = want[k].ToDoubleVector();
    for (size_t i = 0; i < w.size(); ++i) {
      if (!(std::abs(g[i] - w[i]) <= 1e-7 + 1e-3 * std::abs(w[i]))) {
        return absl::InternalError(absl::StrCat(
            "output ", k, "[", i, "] = ", g[i], ", expected ", w[i]));
      }
    }
  }
  return absl::OkStatus();
}

TEST(OrtShapeOpsTest, EveryCaseMatchesOnnxRuntime) {
  const fs::path root =
      fs::path(testing::SourceDir()) / "tests" / "data" / "ort_shape_ops";
  ASSERT_TRUE(fs::is_directory(root))
      << root << " is missing (tools/ort_cases/make_shape_cases.sh)";
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(root)) {
    if (e.is_directory()) dirs.push_back(e.path());
  }
  std::sort(dirs.begin(), dirs.end());
  int passed = 0, from_node_text = 0;
  for (const fs::path& dir : dirs) {
    const absl::Status status = RunCase(dir);
    EXPECT_TRUE(status.ok()) << dir.filename() << ": " << status;
    passed += status.ok();
    from_node_text += fs::exists(dir / "node.txt");
  }
  std::cout << "onnxruntime cases: " << dirs.size() << " ran, " << passed
            << " passed (" << from_node_text << " built from node.txt)\n";
  EXPECT_GE(dirs.size(), 60u) << "cases are missing from " << root;
}

}  // namespace
}  // namespace onnx_crypt
