// Whole-model parameter gradients of the CPU engine (float32) against PyTorch
// autograd in float64 (tools/torch_grads.py runs the same ONNX graph op by op
// in PyTorch), on every bundled model with the same 64 Fashion-MNIST owner
// samples and labels.
//
// Tolerance: per tensor, ||g - g_torch|| <= 1e-4 ||g_torch|| (relative L2
// error; float32 accumulation over 64 samples gives ~1e-6), and every element
// within 1e-3 |g_torch| + 1e-5 max|g_torch| (elementwise, so a wrong sign or
// index cannot hide in the norm).
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "onnx_crypt/data/npz.h"
#include "onnx_crypt/engine/cpu_engine.h"
#include "onnx_crypt/engine/evaluate.h"
#include "onnx_crypt/lock/eligibility.h"
#include "onnx_crypt/onnx/model.h"
#include "tests/support/paths.h"

namespace onnx_crypt {
namespace {

namespace fs = std::filesystem;
constexpr int kSamples = 64;

TEST(TorchGradientsTest, EveryBundledModelMatchesPyTorch) {
  const std::string python = testing::SourceDir() + "/.venv/bin/python";
  const std::string data = testing::DataDir() + "/fmnist_owner256.npz";
  ASSERT_TRUE(fs::exists(python)) << python << " missing: run tools/setup.sh";
  ASSERT_TRUE(fs::exists(data)) << data << " missing: run tools/setup.sh";
  std::vector<std::string> models;
  for (const auto& e : fs::directory_iterator(testing::ModelsDir())) {
    if (e.path().extension() == ".onnx") models.push_back(e.path().string());
  }
  std::sort(models.begin(), models.end());
  ASSERT_GE(models.size(), 4u)
      << "bundled models missing (tools/train_models.py)";
  absl::StatusOr<Dataset> ds = LoadDataset(data);
  ASSERT_TRUE(ds.ok()) << ds.status();
  const Tensor x = SliceRows(ds->inputs.at("x"), 0, kSamples);
  std::vector<int64_t> labels = ds->y.ToInt64Vector();
  labels.resize(kSamples);
  const fs::path tmp = fs::temp_directory_path() /
                       absl::StrCat("oc_torch_grads_", getpid(), ".npz");

  for (const std::string& model_path : models) {
    SCOPED_TRACE(model_path);
    const std::string cmd = absl::StrCat(
        python, " ", testing::SourceDir(), "/tools/torch_grads.py ", model_path,
        " --data ", data, " --limit ", kSamples, " --out ", tmp.string(),
        " > /dev/null");
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    absl::StatusOr<NpzArrays> want = LoadNpz(tmp.string());
    ASSERT_TRUE(want.ok()) << want.status();

    absl::StatusOr<OnnxModel> model = OnnxModel::Load(model_path);
    ASSERT_TRUE(model.ok()) << model.status();
    absl::StatusOr<Graph> graph = model->ToGraph();
    ASSERT_TRUE(graph.ok());
    std::vector<std::string> params;
    for (const EligibleTensor& e :
         FindEligibleTensors(*graph, /*include_bias=*/true)) {
      params.push_back(e.name);
    }
    ASSERT_FALSE(params.empty());
    const std::string input = graph->inputs[0].name;
    absl::StatusOr<std::unique_ptr<CpuEngine>> engine =
        CpuEngine::Create(*std::move(graph));
    ASSERT_TRUE(engine.ok()) << engine.status();
    absl::StatusOr<LossResult> got =
        (*engine)->LossAndGradients({{input, x}}, labels, params);
    ASSERT_TRUE(got.ok()) << got.status();
    const double want_loss = want->at("__loss__").ToDoubleVector()[0];
    EXPECT_NEAR(got->loss, want_loss,
                1e-5 * std::max(1.0, std::abs(want_loss)));

    for (const std::string& p : params) {
      ASSERT_TRUE(want->count(p)) << "torch_grads.py did not return " << p;
      const std::vector<double> g = got->grads.at(p).ToDoubleVector();
      const std::vector<double> w = want->at(p).ToDoubleVector();
      ASSERT_EQ(g.size(), w.size()) << p;
      double diff2 = 0, norm2 = 0, wmax = 0;
      for (size_t i = 0; i < w.size(); ++i) {
        diff2 += (g[i] - w[i]) * (g[i] - w[i]);
        norm2 += w[i] * w[i];
        wmax = std::max(wmax, std::abs(w[i]));
      }
      EXPECT_LE(std::sqrt(diff2), 1e-4 * std::sqrt(norm2) + 1e-12) << p;
      int bad = 0;
      for (size_t i = 0; i < w.size() && bad < 5; ++i) {
        if (std::abs(g[i] - w[i]) > 1e-3 * std::abs(w[i]) + 1e-5 * wmax) {
          ADD_FAILURE() << p << "[" << i << "]: " << g[i] << " vs torch "
                        << w[i];
          ++bad;
        }
      }
    }
    std::cout << fs::path(model_path).filename().string() << ": "
              << params.size() << " tensors match PyTorch (loss " << got->loss
              << ")\n";
  }
  fs::remove(tmp);
}

}  // namespace
}  // namespace onnx_crypt
