// Node-by-node shape inference (onnx/infer_shapes.h) against libonnx's
// whole-graph inference, the oracle, on trusted models: the bundled models and
// ONNX's node-test models (Debian libonnx-testdata). Models with subgraphs or
// model-local functions are left out: those nodes are not inferred on purpose.
// The hostile models the fuzzer found are in tests/fuzz/regression_test.cc.
#include "onnx_crypt/onnx/infer_shapes.h"

#include <onnx/shape_inference/implementation.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/paths.h"

namespace onnx_crypt {
namespace {

namespace fs = std::filesystem;

constexpr char kNodeTestDir[] = "/usr/share/libonnx-testdata/data/node";

bool ReadModel(const fs::path& path, onnx::ModelProto* model) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return in.good() && model->ParseFromString(ss.str());
}

bool HasSubgraphOrFunction(const onnx::ModelProto& model) {
  if (model.functions_size() > 0) return true;
  for (const onnx::NodeProto& node : model.graph().node()) {
    for (const onnx::AttributeProto& attr : node.attribute()) {
      if (attr.has_g() || attr.graphs_size() > 0) return true;
    }
  }
  return false;
}

// What a type says, as text: element type and dims (value or parameter;
// libonnx's generated "unk__N" names are unknown dimensions: the node-by-node
// inference drops them, see infer_shapes.cc).
std::string TypeText(const onnx::TypeProto& type) {
  if (!type.has_tensor_type()) return "(not a tensor)";
  std::string s = std::to_string(type.tensor_type().elem_type());
  if (!type.tensor_type().has_shape()) return s + " (no shape)";
  s += " [";
  for (const auto& d : type.tensor_type().shape().dim()) {
    const bool named =
        d.has_dim_param() && d.dim_param().rfind("unk__", 0) != 0;
    s += d.has_dim_value() ? std::to_string(d.dim_value())
         : named           ? d.dim_param()
                           : "?";
    s += ",";
  }
  return s + "]";
}

// Compares the two inferences on `model`; returns the number of values
// compared and adds a failure per difference.
int CompareWithWholeGraph(const onnx::ModelProto& model,
                          const std::string& label) {
  onnx::ModelProto whole = model;
  try {
    onnx::shape_inference::InferShapes(whole);
  } catch (...) {
    return 0;  // the oracle has no answer
  }
  std::map<std::string, std::string> want;
  for (const auto* list : {&whole.graph().input(), &whole.graph().value_info(),
                           &whole.graph().output()}) {
    for (const onnx::ValueInfoProto& v : *list)
      want[v.name()] = TypeText(v.type());
  }
  std::map<std::string, std::string> got;
  for (const onnx::ValueInfoProto& v : InferValueTypes(model)) {
    got[v.name()] = TypeText(v.type());
  }
  int compared = 0;
  for (const auto& [name, text] : want) {
    auto it = got.find(name);
    if (it == got.end()) {
      ADD_FAILURE() << label << ": value '" << name << "' (" << text
                    << ") not inferred";
      continue;
    }
    EXPECT_EQ(it->second, text) << label << ": value '" << name << "'";
    ++compared;
  }
  return compared;
}

TEST(InferShapesTest, MatchesWholeGraphInferenceOnBundledModels) {
  int models = 0;
  for (const auto& entry : fs::directory_iterator(testing::ModelsDir())) {
    if (entry.path().extension() != ".onnx") continue;
    onnx::ModelProto model;
    ASSERT_TRUE(ReadModel(entry.path(), &model)) << entry.path();
    EXPECT_GT(CompareWithWholeGraph(model, entry.path().string()), 0)
        << entry.path();
    ++models;
  }
  EXPECT_GE(models, 5);
}

TEST(InferShapesTest, MatchesWholeGraphInferenceOnOnnxNodeTests) {
  ASSERT_TRUE(fs::is_directory(kNodeTestDir))
      << kNodeTestDir
      << " is missing: run tools/setup.sh (Debian package libonnx-testdata)";
  int models = 0, values = 0;
  for (const auto& entry : fs::directory_iterator(kNodeTestDir)) {
    onnx::ModelProto model;
    if (!ReadModel(entry.path() / "model.onnx", &model) ||
        HasSubgraphOrFunction(model)) {
      continue;
    }
    values += CompareWithWholeGraph(model, entry.path().filename().string());
    ++models;
  }
  EXPECT_GT(models, 800);
  EXPECT_GT(values, 2000);
}

}  // namespace
}  // namespace onnx_crypt
