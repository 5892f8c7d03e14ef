// CudaEngine against CpuEngine (the reference), op by op and on every bundled
// model, plus determinism. The CUDA tests GTEST_SKIP() when the build has no
// CUDA engine or no device is present; the factory test runs everywhere.
//
// Op cases (tests/support/op_check.h AllOpCases(), inputs cast to float32):
// each case becomes a one-node graph whose inputs are initializers; its first
// output is flattened to [1, numel] by a Reshape and read as logits by the
// cross-entropy loss (label 0), so LossAndGradients gives dL/d input for every
// checked input. Tolerances (float32 on both sides, different summation
// orders):
//   forward:   |cuda - cpu| <= 1e-4 |cpu| + 1e-5
//   loss:      |cuda - cpu| <= 1e-5 |cpu| + 1e-6
//   gradients: |cuda - cpu| <= 1e-3 |cpu| + 1e-4 max|cpu|  (per tensor)
// Models (tools/models/*.onnx, 64 samples of tools/data/fmnist_owner256.npz):
//   outputs elementwise within 1e-3 |cpu| + 1e-4 max|cpu|; loss within 1e-4
//   relative; per gradient tensor ||cuda - cpu|| <= 1e-3 ||cpu|| and every
//   element within 1e-2 |cpu| + 1e-4 max|cpu|.
// Everything returned by the CUDA engine must be finite, and two identical
// LossAndGradients calls must give bit-identical losses and gradients.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "onnx_crypt/data/npz.h"
#include "onnx_crypt/engine/cpu_engine.h"
#include "onnx_crypt/engine/evaluate.h"
#include "onnx_crypt/engine/factory.h"
#include "onnx_crypt/engine/plan.h"
#include "onnx_crypt/lock/eligibility.h"
#include "onnx_crypt/onnx/model.h"
#include "tests/support/graphs.h"
#include "tests/support/op_check.h"
#include "tests/support/paths.h"
#ifdef ONNX_CRYPT_HAVE_CUDA
#include "onnx_crypt/engine/cuda/cuda_engine.h"
#endif

namespace onnx_crypt {
namespace {

namespace fs = std::filesystem;

Graph TinyGraph() { return testing::GemmGraph(); }

// Runs everywhere: asking for "cuda" never crashes; without a usable GPU (or
// without a CUDA build) it is FailedPrecondition, and "auto" falls back to the
// CPU.
TEST(CudaEngineFactoryTest, CudaDeviceWithoutGpuIsFailedPrecondition) {
  absl::StatusOr<std::unique_ptr<Engine>> engine =
      CreateEngine(TinyGraph(), "cuda");
  if (!CudaAvailable()) {
    ASSERT_FALSE(engine.ok());
    EXPECT_EQ(engine.status().code(), absl::StatusCode::kFailedPrecondition)
        << engine.status();
    absl::StatusOr<std::string> resolved = ResolveDevice("auto");
    ASSERT_TRUE(resolved.ok());
    EXPECT_EQ(*resolved, "cpu");
  } else {
    ASSERT_TRUE(engine.ok()) << engine.status();
    Feeds feeds;
    feeds["x"] = testing::RandomTensor({2, 3}, 3).CastTo(DType::kFloat32);
    absl::StatusOr<std::vector<Tensor>> out = (*engine)->Run(feeds);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(out->at(0).shape(), (Shape{2, 4}));
  }
#ifdef ONNX_CRYPT_HAVE_CUDA
  if (CudaDeviceCount() == 0) {
    absl::StatusOr<std::unique_ptr<CudaEngine>> direct =
        CudaEngine::Create(TinyGraph());
    ASSERT_FALSE(direct.ok());
    EXPECT_EQ(direct.status().code(), absl::StatusCode::kFailedPrecondition);
  }
#endif
}

#ifdef ONNX_CRYPT_HAVE_CUDA

#define OC_SKIP_WITHOUT_GPU()                               \
  do {                                                      \
    if (CudaDeviceCount() == 0) {                           \
      GTEST_SKIP() << "no CUDA device: CUDA tests skipped"; \
    }                                                       \
  } while (0)

bool AllFinite(const Tensor& t) {
  if (!IsFloatingPoint(t.dtype())) return true;
  for (double v : t.ToDoubleVector()) {
    if (!std::isfinite(v)) return false;
  }
  return true;
}

bool SameBits(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

double MaxAbs(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::abs(x));
  return m;
}

// "" when every element of `got` is within rtol |want| + atol of `want`.
std::string Compare(const Tensor& got, const Tensor& want, double rtol,
                    double atol) {
  if (got.dtype() != want.dtype() || got.shape() != want.shape()) {
    return absl::StrCat("got ", got.DebugString(), ", want ",
                        want.DebugString());
  }
  if (!IsFloatingPoint(want.dtype())) {
    return got.ToInt64Vector() == want.ToInt64Vector()
               ? ""
               : "integer values differ";
  }
  const std::vector<double> g = got.ToDoubleVector();
  const std::vector<double> w = want.ToDoubleVector();
  for (size_t i = 0; i < w.size(); ++i) {
    if (!std::isfinite(g[i]) ||
        std::abs(g[i] - w[i]) > rtol * std::abs(w[i]) + atol) {
      return absl::StrCat("element ", i, ": got ", g[i], ", want ", w[i]);
    }
  }
  return "";
}

TEST(CudaEngineTest, EveryOpCaseMatchesTheCpuEngine) {
  OC_SKIP_WITHOUT_GPU();
  int compared = 0, with_gradients = 0;
  // One case per call, so that an ASSERT ends only that case.
  auto check_case = [&](const testing::OpCase& c) {
    SCOPED_TRACE(c.label);
    Graph g;
    g.opsets[""] = c.node.opset;
    g.nodes.push_back(c.node);
    for (size_t i = 0; i < c.inputs.size() && i < c.node.inputs.size(); ++i) {
      const std::string& name = c.node.inputs[i];
      if (name.empty() || !c.inputs[i].defined()) continue;
      const Tensor& t = c.inputs[i];
      g.initializers[name] =
          t.dtype() == DType::kFloat64 ? t.CastTo(DType::kFloat32) : t;
      g.initializer_order.push_back(name);
    }
    for (const std::string& out : c.node.outputs) {
      ValueInfo info;
      info.name = out;
      g.outputs.push_back(info);
    }
    // Forward: every node output, CUDA against CPU.
    absl::StatusOr<std::unique_ptr<CpuEngine>> cpu = CpuEngine::Create(g);
    ASSERT_TRUE(cpu.ok()) << cpu.status();
    absl::StatusOr<std::unique_ptr<CudaEngine>> gpu = CudaEngine::Create(g);
    ASSERT_TRUE(gpu.ok()) << gpu.status();
    absl::StatusOr<std::vector<Tensor>> want = (*cpu)->Run({});
    ASSERT_TRUE(want.ok()) << want.status();
    absl::StatusOr<std::vector<Tensor>> got = (*gpu)->Run({});
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->size(), want->size());
    for (size_t k = 0; k < want->size(); ++k) {
      EXPECT_EQ(Compare((*got)[k], (*want)[k], 1e-4, 1e-5), "")
          << "output " << k;
      EXPECT_TRUE(AllFinite((*got)[k])) << "output " << k;
    }
    ++compared;

    // Backward: flatten out0 into logits [1, numel] for the loss.
    const Tensor& out0 = (*want)[0];
    if (c.check_inputs.empty() || out0.dtype() != DType::kFloat32 ||
        out0.numel() == 0) {
      return;
    }
    Graph lg = g;
    lg.initializers["flat_shape"] = testing::Int64Tensor({2}, {1, -1});
    lg.initializer_order.push_back("flat_shape");
    Node flat;
    flat.op_type = "Reshape";
    flat.opset = 13;
    flat.name = "flatten_for_loss";
    flat.inputs = {c.node.outputs[0], "flat_shape"};
    flat.outputs = {"flat"};
    lg.nodes.push_back(flat);
    ValueInfo flat_out;
    flat_out.name = "flat";
    lg.outputs.insert(lg.outputs.begin(), flat_out);
    std::vector<std::string> params;
    for (int j : c.check_inputs) params.push_back(c.node.inputs[j]);
    absl::StatusOr<std::unique_ptr<CpuEngine>> cpu_l = CpuEngine::Create(lg);
    ASSERT_TRUE(cpu_l.ok()) << cpu_l.status();
    absl::StatusOr<std::unique_ptr<CudaEngine>> gpu_l = CudaEngine::Create(lg);
    ASSERT_TRUE(gpu_l.ok()) << gpu_l.status();
    const std::vector<int64_t> labels = {0};
    absl::StatusOr<LossResult> lw =
        (*cpu_l)->LossAndGradients({}, labels, params);
    ASSERT_TRUE(lw.ok()) << lw.status();
    absl::StatusOr<LossResult> lg1 =
        (*gpu_l)->LossAndGradients({}, labels, params);
    ASSERT_TRUE(lg1.ok()) << lg1.status();
    absl::StatusOr<LossResult> lg2 =
        (*gpu_l)->LossAndGradients({}, labels, params);
    ASSERT_TRUE(lg2.ok()) << lg2.status();
    EXPECT_NEAR(lg1->loss, lw->loss, 1e-5 * std::abs(lw->loss) + 1e-6);
    EXPECT_EQ(lg1->loss, lg2->loss) << "loss is not deterministic";
    for (const std::string& p : params) {
      SCOPED_TRACE(p);
      const Tensor& gw = lw->grads.at(p);
      const Tensor& g1 = lg1->grads.at(p);
      const double scale = MaxAbs(gw.ToDoubleVector());
      EXPECT_EQ(Compare(g1, gw, 1e-3, 1e-4 * scale + 1e-9), "");
      EXPECT_TRUE(SameBits(g1, lg2->grads.at(p)))
          << "gradient is not deterministic";
    }
    ++with_gradients;
  };
  const std::vector<testing::OpCase> cases = testing::AllOpCases();
  for (const testing::OpCase& c : cases) check_case(c);
  EXPECT_EQ(compared, static_cast<int>(cases.size()));
  EXPECT_GT(with_gradients, 80);
}

TEST(CudaEngineTest, EveryBundledModelMatchesTheCpuEngine) {
  OC_SKIP_WITHOUT_GPU();
  constexpr int64_t kSamples = 64;
  const std::string data = testing::DataDir() + "/fmnist_owner256.npz";
  ASSERT_TRUE(fs::exists(data)) << data << " missing: run tools/setup.sh";
  std::vector<std::string> models;
  for (const auto& e : fs::directory_iterator(testing::ModelsDir())) {
    if (e.path().extension() == ".onnx") models.push_back(e.path().string());
  }
  std::sort(models.begin(), models.end());
  ASSERT_FALSE(models.empty())
      << "bundled models missing (tools/train_models.py)";
  absl::StatusOr<Dataset> ds = LoadDataset(data);
  ASSERT_TRUE(ds.ok()) << ds.status();
  const Tensor x = SliceRows(ds->inputs.at("x"), 0, kSamples);
  std::vector<int64_t> labels = ds->y.ToInt64Vector();
  labels.resize(kSamples);

  auto check_model = [&](const std::string& path) {
    SCOPED_TRACE(path);
    absl::StatusOr<OnnxModel> model = OnnxModel::Load(path);
    ASSERT_TRUE(model.ok()) << model.status();
    absl::StatusOr<Graph> graph = model->ToGraph();
    ASSERT_TRUE(graph.ok()) << graph.status();
    std::vector<std::string> params;
    for (const EligibleTensor& e :
         FindEligibleTensors(*graph, /*include_bias=*/true))
      params.push_back(e.name);
    ASSERT_FALSE(params.empty());
    const Feeds feeds = {{graph->inputs[0].name, x}};
    absl::StatusOr<std::unique_ptr<CpuEngine>> cpu = CpuEngine::Create(*graph);
    ASSERT_TRUE(cpu.ok()) << cpu.status();
    absl::StatusOr<std::unique_ptr<CudaEngine>> gpu =
        CudaEngine::Create(*graph);
    ASSERT_TRUE(gpu.ok()) << gpu.status();

    absl::StatusOr<std::vector<Tensor>> want = (*cpu)->Run(feeds);
    ASSERT_TRUE(want.ok()) << want.status();
    absl::StatusOr<std::vector<Tensor>> got = (*gpu)->Run(feeds);
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->size(), want->size());
    for (size_t k = 0; k < want->size(); ++k) {
      const double scale = MaxAbs((*want)[k].ToDoubleVector());
      EXPECT_EQ(Compare((*got)[k], (*want)[k], 1e-3, 1e-4 * scale), "")
          << "output " << k;
    }

    absl::StatusOr<LossResult> lw =
        (*cpu)->LossAndGradients(feeds, labels, params);
    ASSERT_TRUE(lw.ok()) << lw.status();
    absl::StatusOr<LossResult> l1 =
        (*gpu)->LossAndGradients(feeds, labels, params);
    ASSERT_TRUE(l1.ok()) << l1.status();
    absl::StatusOr<LossResult> l2 =
        (*gpu)->LossAndGradients(feeds, labels, params);
    ASSERT_TRUE(l2.ok()) << l2.status();
    EXPECT_NEAR(l1->loss, lw->loss, 1e-4 * std::max(1.0, std::abs(lw->loss)));
    EXPECT_EQ(l1->loss, l2->loss) << "loss is not deterministic";
    EXPECT_TRUE(AllFinite(l1->output));
    for (const std::string& p : params) {
      SCOPED_TRACE(p);
      const Tensor& g1 = l1->grads.at(p);
      ASSERT_TRUE(AllFinite(g1));
      EXPECT_TRUE(SameBits(g1, l2->grads.at(p)))
          << "gradient is not deterministic";
      const std::vector<double> g = g1.ToDoubleVector();
      const std::vector<double> w = lw->grads.at(p).ToDoubleVector();
      ASSERT_EQ(g.size(), w.size());
      double diff2 = 0, norm2 = 0;
      for (size_t i = 0; i < w.size(); ++i) {
        diff2 += (g[i] - w[i]) * (g[i] - w[i]);
        norm2 += w[i] * w[i];
      }
      EXPECT_LE(std::sqrt(diff2), 1e-3 * std::sqrt(norm2) + 1e-12);
      EXPECT_EQ(Compare(g1, lw->grads.at(p), 1e-2, 1e-4 * MaxAbs(w)), "");
    }
    EXPECT_GT((*gpu)->PeakDeviceBytes(), 0u);
  };
  for (const std::string& path : models) check_model(path);
}

using testing::Op;

// int64 shape arithmetic (Shape -> Gather -> Unsqueeze -> Concat with a
// Constant) runs on the host side of the CUDA engine and feeds a device
// Reshape; a float Constant is uploaded. Outputs and gradients match the CPU.
TEST(CudaEngineTest, ShapeArithmeticRunsOnTheHost) {
  OC_SKIP_WITHOUT_GPU();
  Graph g;
  g.opsets[""] = 13;
  g.initializers["W"] =
      testing::RandomTensor({12, 5}, 7).CastTo(DType::kFloat32);
  g.initializers["zero"] = testing::Int64Tensor({}, {0});
  g.initializers["axes0"] = testing::Int64Tensor({1}, {0});
  g.initializer_order = {"W", "zero", "axes0"};
  ValueInfo x;
  x.name = "x";
  x.dtype = DType::kFloat32;
  g.inputs.push_back(x);
  Node minus_one = Op("Constant", {}, {"minus_one"});
  testing::SetAttr(minus_one, "value_ints", std::vector<int64_t>{-1});
  Node half = Op("Constant", {}, {"half"});
  testing::SetAttr(half, "value_float", 0.5f);
  g.nodes = {minus_one,
             half,
             Op("Shape", {"x"}, {"dims"}),
             Op("Gather", {"dims", "zero"}, {"batch"}),
             Op("Unsqueeze", {"batch", "axes0"}, {"batch1"}),
             Op("Concat", {"batch1", "minus_one"}, {"new_shape"}),
             Op("Reshape", {"x", "new_shape"}, {"flat"}),
             Op("MatMul", {"flat", "W"}, {"mm"}),
             Op("Mul", {"mm", "half"}, {"logits"})};
  testing::SetAttr(g.nodes[5], "axis", int64_t{0});
  ValueInfo out;
  out.name = "logits";
  g.outputs.push_back(out);
  ValueInfo shape_out;
  shape_out.name = "new_shape";
  g.outputs.push_back(shape_out);

  absl::StatusOr<std::unique_ptr<CpuEngine>> cpu = CpuEngine::Create(g);
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  absl::StatusOr<std::unique_ptr<CudaEngine>> gpu = CudaEngine::Create(g);
  ASSERT_TRUE(gpu.ok()) << gpu.status();
  Feeds feeds;
  feeds["x"] = testing::RandomTensor({3, 3, 4}, 8).CastTo(DType::kFloat32);
  absl::StatusOr<std::vector<Tensor>> want = (*cpu)->Run(feeds);
  ASSERT_TRUE(want.ok()) << want.status();
  absl::StatusOr<std::vector<Tensor>> got = (*gpu)->Run(feeds);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(Compare(got->at(0), want->at(0), 1e-4, 1e-5), "");
  EXPECT_EQ(got->at(1).ToInt64Vector(), (std::vector<int64_t>{3, -1}));
  const std::vector<int64_t> labels = {1, 4, 0};
  absl::StatusOr<LossResult> lw =
      (*cpu)->LossAndGradients(feeds, labels, {"W"});
  ASSERT_TRUE(lw.ok()) << lw.status();
  absl::StatusOr<LossResult> lg =
      (*gpu)->LossAndGradients(feeds, labels, {"W"});
  ASSERT_TRUE(lg.ok()) << lg.status();
  EXPECT_NEAR(lg->loss, lw->loss, 1e-5 * std::abs(lw->loss));
  EXPECT_EQ(Compare(lg->grads.at("W"), lw->grads.at("W"), 1e-3,
                    1e-4 * MaxAbs(lw->grads.at("W").ToDoubleVector())),
            "");
}

// SetInitializerValues edits the device copy element-wise and GetInitializer
// reads it back; afterwards both engines still agree.
TEST(CudaEngineTest, SetInitializerValuesEditsTheDeviceCopy) {
  OC_SKIP_WITHOUT_GPU();
  const Graph g = TinyGraph();
  absl::StatusOr<std::unique_ptr<CpuEngine>> cpu = CpuEngine::Create(g);
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  absl::StatusOr<std::unique_ptr<CudaEngine>> gpu = CudaEngine::Create(g);
  ASSERT_TRUE(gpu.ok()) << gpu.status();
  const std::vector<int64_t> indices = {0, 5, 11};
  const Tensor values = Tensor::FromVector<float>({3}, {2.5f, -1.25f, 7.0f});
  ASSERT_TRUE((*cpu)->SetInitializerValues("W", indices, values).ok());
  ASSERT_TRUE((*gpu)->SetInitializerValues("W", indices, values).ok());
  absl::StatusOr<Tensor> w_gpu = (*gpu)->GetInitializer("W");
  absl::StatusOr<Tensor> w_cpu = (*cpu)->GetInitializer("W");
  ASSERT_TRUE(w_gpu.ok() && w_cpu.ok());
  EXPECT_TRUE(SameBits(*w_gpu, *w_cpu));
  EXPECT_EQ(w_gpu->data<float>()[5], -1.25f);
  EXPECT_EQ((*gpu)
                ->SetInitializerValues("W", {12},
                                       Tensor::FromVector<float>({1}, {1.0f}))
                .code(),
            absl::StatusCode::kOutOfRange);
  Feeds feeds;
  feeds["x"] = testing::RandomTensor({2, 3}, 3).CastTo(DType::kFloat32);
  absl::StatusOr<std::vector<Tensor>> want = (*cpu)->Run(feeds);
  absl::StatusOr<std::vector<Tensor>> got = (*gpu)->Run(feeds);
  ASSERT_TRUE(want.ok() && got.ok());
  EXPECT_EQ(Compare(got->at(0), want->at(0), 1e-5, 1e-6), "");
}

// An op that no table declares is Unimplemented naming the op and the node.
TEST(CudaEngineTest, UnknownOpIsUnimplementedNamingTheNode) {
  OC_SKIP_WITHOUT_GPU();
  Graph g = TinyGraph();
  // No table has this op (Einsum, used here before, now has a CPU kernel and
  // would run as a CPU fallback).
  g.nodes[0].op_type = "NoSuchOp";
  absl::StatusOr<std::unique_ptr<CudaEngine>> gpu = CudaEngine::Create(g);
  ASSERT_FALSE(gpu.ok());
  EXPECT_EQ(gpu.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(gpu.status().message().find("NoSuchOp-13 node 'fc'"),
            std::string::npos)
      << gpu.status();
}

// An op without a CUDA kernel (Erf) runs on the CPU kernel with copies in and
// out, forward and backward; the plan says so, and the numbers match the CPU
// engine.
TEST(CudaEngineTest, OpWithoutCudaKernelFallsBackToTheCpu) {
  OC_SKIP_WITHOUT_GPU();
  Graph g = TinyGraph();
  g.nodes[0].outputs = {"pre"};
  g.nodes.push_back(Op("Erf", {"pre"}, {"logits"}));
  absl::StatusOr<std::unique_ptr<CpuEngine>> cpu = CpuEngine::Create(g);
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  absl::StatusOr<std::unique_ptr<CudaEngine>> gpu = CudaEngine::Create(g);
  ASSERT_TRUE(gpu.ok()) << gpu.status();
  EXPECT_EQ((*gpu)->plan().StepsOffKernel(), std::vector<int>{1});
  EXPECT_EQ((*gpu)->plan().steps()[1].placement, Placement::kFallback);
  Feeds feeds;
  feeds["x"] = testing::RandomTensor({2, 3}, 3).CastTo(DType::kFloat32);
  absl::StatusOr<std::vector<Tensor>> want = (*cpu)->Run(feeds);
  absl::StatusOr<std::vector<Tensor>> got = (*gpu)->Run(feeds);
  ASSERT_TRUE(want.ok() && got.ok()) << got.status();
  EXPECT_EQ(Compare(got->at(0), want->at(0), 1e-5, 1e-6), "");
  const std::vector<int64_t> labels = {1, 3};
  absl::StatusOr<LossResult> lw =
      (*cpu)->LossAndGradients(feeds, labels, {"W", "b"});
  absl::StatusOr<LossResult> lg =
      (*gpu)->LossAndGradients(feeds, labels, {"W", "b"});
  ASSERT_TRUE(lw.ok() && lg.ok()) << lg.status();
  EXPECT_NEAR(lg->loss, lw->loss, 1e-5 * std::abs(lw->loss));
  for (const char* p : {"W", "b"}) {
    EXPECT_EQ(Compare(lg->grads.at(p), lw->grads.at(p), 1e-3,
                      1e-4 * MaxAbs(lw->grads.at(p).ToDoubleVector())),
              "")
        << p;
  }
}

// Shape and attribute checks are shared by both backends (ops/matmul_shape.h,
// ops/batch_norm_checks.h): a bad node fails with the same status on each.
TEST(CudaEngineTest, BadNodesFailTheSameWayOnBothBackends) {
  OC_SKIP_WITHOUT_GPU();
  auto expect_same = [](const Graph& g, const Feeds& feeds) {
    absl::StatusOr<std::unique_ptr<CpuEngine>> cpu = CpuEngine::Create(g);
    absl::StatusOr<std::unique_ptr<CudaEngine>> gpu = CudaEngine::Create(g);
    ASSERT_TRUE(cpu.ok() && gpu.ok()) << gpu.status();
    const absl::Status want = (*cpu)->Run(feeds).status();
    const absl::Status got = (*gpu)->Run(feeds).status();
    ASSERT_FALSE(want.ok());
    EXPECT_EQ(got, want);
  };
  Graph mm;
  mm.opsets[""] = 13;
  mm.initializers["W"] =
      testing::RandomTensor({4, 5}, 1).CastTo(DType::kFloat32);
  ValueInfo x;
  x.name = "x";
  x.dtype = DType::kFloat32;
  mm.inputs.push_back(x);
  mm.nodes.push_back(Op("MatMul", {"x", "W"}, {"y"}));
  ValueInfo y;
  y.name = "y";
  mm.outputs.push_back(y);
  Feeds feeds;
  feeds["x"] = testing::RandomTensor({2, 3}, 2).CastTo(DType::kFloat32);
  expect_same(mm, feeds);  // inner dimensions 3 and 4 differ

  Graph bn = mm;
  bn.initializers.clear();
  for (const char* p : {"s", "b", "m", "v"})
    bn.initializers[p] = testing::RandomTensor({2}, 3).CastTo(DType::kFloat32);
  bn.nodes = {Op("BatchNormalization", {"x", "s", "b", "m", "v"}, {"y"})};
  expect_same(bn, feeds);  // 3 channels, parameters of 2
}

// Incremental execution on the device: a trial over the values a gradient
// pass kept equals setting the value and running, bit for bit, and leaves the
// device copy of the initializer as it was; after the value is set, re-running
// what is downstream of it over a kept run equals a full run bit for bit.
TEST(CudaEngineTest, TrialsAndRerunsEqualAFullRun) {
  OC_SKIP_WITHOUT_GPU();
  absl::StatusOr<std::unique_ptr<CudaEngine>> gpu =
      CudaEngine::Create(TinyGraph());
  ASSERT_TRUE(gpu.ok()) << gpu.status();
  Feeds feeds;
  feeds["x"] = testing::RandomTensor({2, 3}, 3).CastTo(DType::kFloat32);
  const std::vector<int64_t> labels = {0, 1};
  ASSERT_TRUE((*gpu)->LossAndGradients(feeds, labels, {"b"}, 0).ok());
  ASSERT_TRUE((*gpu)->RunAndKeep(feeds, 1).ok());
  absl::StatusOr<std::vector<Tensor>> plain = (*gpu)->Run(feeds);
  const Tensor nine = Tensor::FromVector<float>({1}, {9.0f});
  absl::StatusOr<std::vector<std::vector<Tensor>>> tried =
      (*gpu)->RunTrials({{{"b", 2, nine}}});
  ASSERT_TRUE(tried.ok() && plain.ok()) << tried.status();
  absl::StatusOr<std::vector<Tensor>> after = (*gpu)->Run(feeds);
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(SameBits(after->at(0), plain->at(0)));  // nothing changed
  ASSERT_TRUE((*gpu)->SetInitializerValues("b", {2}, nine).ok());
  absl::StatusOr<std::vector<Tensor>> rerun = (*gpu)->RerunChanged({"b"}, 1);
  absl::StatusOr<std::vector<Tensor>> want = (*gpu)->Run(feeds);
  ASSERT_TRUE(rerun.ok() && want.ok()) << rerun.status();
  EXPECT_TRUE(SameBits(tried->at(0).at(0), want->at(0)));
  EXPECT_TRUE(SameBits(rerun->at(0), want->at(0)));
}

#endif  // ONNX_CRYPT_HAVE_CUDA

}  // namespace
}  // namespace onnx_crypt
