// ExecutionPlan (engine/plan.h) and the executor's incremental re-execution:
// placement (own kernel, host, CPU fallback), gradient needs, downstream
// steps, and RerunChanged equal to a full forward bit for bit on every bundled
// model.
#include "onnx_crypt/engine/plan.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>

#include "gtest/gtest.h"
#include "onnx_crypt/data/npz.h"
#include "onnx_crypt/engine/cpu_engine.h"
#include "onnx_crypt/engine/evaluate.h"
#include "onnx_crypt/lock/eligibility.h"
#include "onnx_crypt/onnx/model.h"
#include "tests/support/graphs.h"
#include "tests/support/op_check.h"
#include "tests/support/paths.h"

namespace onnx_crypt {
namespace {

namespace fs = std::filesystem;

using testing::Op;

// x -> Shape -> Gather(0) -> Unsqueeze -> Concat(-1) -> Reshape(x) -> MatMul W
// -> Relu -> Add b -> logits.
Graph ShapeGraph() {
  Graph g;
  g.opsets[""] = 13;
  g.initializers["W"] =
      testing::RandomTensor({12, 5}, 7).CastTo(DType::kFloat32);
  g.initializers["b"] = testing::RandomTensor({5}, 8).CastTo(DType::kFloat32);
  g.initializers["zero"] = testing::Int64Tensor({}, {0});
  g.initializers["axes0"] = testing::Int64Tensor({1}, {0});
  g.initializer_order = {"W", "b", "zero", "axes0"};
  ValueInfo x;
  x.name = "x";
  x.dtype = DType::kFloat32;
  g.inputs.push_back(x);
  Node minus_one = Op("Constant", {}, {"minus_one"});
  testing::SetAttr(minus_one, "value_ints", std::vector<int64_t>{-1});
  g.nodes = {minus_one,
             Op("Shape", {"x"}, {"dims"}),
             Op("Gather", {"dims", "zero"}, {"batch"}),
             Op("Unsqueeze", {"batch", "axes0"}, {"batch1"}),
             Op("Concat", {"batch1", "minus_one"}, {"new_shape"}),
             Op("Reshape", {"x", "new_shape"}, {"flat"}),
             Op("MatMul", {"flat", "W"}, {"mm"}),
             Op("Relu", {"mm"}, {"act"}),
             Op("Add", {"act", "b"}, {"logits"})};
  testing::SetAttr(g.nodes[4], "axis", int64_t{0});
  ValueInfo out;
  out.name = "logits";
  g.outputs.push_back(out);
  return g;
}

int StepOf(const ExecutionPlan& plan, const std::string& op) {
  for (size_t s = 0; s < plan.steps().size(); ++s) {
    if (plan.steps()[s].node->op_type == op) return static_cast<int>(s);
  }
  return -1;
}

TEST(PlanTest, CpuRunsEveryStepOnItsKernel) {
  const Graph g = ShapeGraph();
  absl::StatusOr<ExecutionPlan> plan =
      ExecutionPlan::Build(g, CpuBackend::Traits());
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->steps().size(), g.nodes.size());
  EXPECT_TRUE(plan->StepsOffKernel().empty());
  // Ids: initializers (by name), then inputs, then node values.
  EXPECT_EQ(plan->value_id("W"), 0);
  EXPECT_EQ(plan->value_id("x"), 4);
  EXPECT_EQ(plan->value_id("nothing"), -1);
  EXPECT_NE(plan->initializer(plan->value_id("W")), nullptr);
  EXPECT_EQ(plan->initializer(plan->value_id("x")), nullptr);
  // x is read by Shape and Reshape: its last reader is Reshape.
  EXPECT_EQ(plan->last_reader(plan->value_id("x")), StepOf(*plan, "Reshape"));
  EXPECT_EQ(plan->last_reader(plan->value_id("logits")),
            static_cast<int>(g.nodes.size()));
}

// A backend with device memory and no kernel for Relu: the int64 shape steps
// run on the host, Relu falls back to the CPU kernel, the rest on the
// backend's kernels.
TEST(PlanTest, DeviceBackendPlacesHostStepsAndFallbacks) {
  const Graph g = ShapeGraph();
  BackendTraits traits;
  traits.name = "test-device";
  traits.has_device_memory = true;
  traits.find_kernel = [](const OpDef& def, const Node&) {
    return def.op_type == "Relu" ? -1 : 7;
  };
  absl::StatusOr<ExecutionPlan> plan = ExecutionPlan::Build(g, traits);
  ASSERT_TRUE(plan.ok()) << plan.status();
  auto placement = [&](const std::string& op) {
    return plan->steps()[StepOf(*plan, op)].placement;
  };
  EXPECT_EQ(placement("Constant"), Placement::kHost);
  EXPECT_EQ(placement("Shape"), Placement::kKernel);  // reads float32 x
  EXPECT_EQ(placement("Gather"), Placement::kHost);
  EXPECT_EQ(placement("Unsqueeze"), Placement::kHost);
  EXPECT_EQ(placement("Concat"), Placement::kHost);
  EXPECT_EQ(placement("Reshape"), Placement::kKernel);
  EXPECT_EQ(placement("MatMul"), Placement::kKernel);
  EXPECT_EQ(placement("Relu"), Placement::kFallback);
  EXPECT_EQ(plan->steps()[StepOf(*plan, "Relu")].kernel, -1);
  EXPECT_EQ(plan->steps()[StepOf(*plan, "Add")].kernel, 7);
  const std::vector<int> off = plan->StepsOffKernel();
  EXPECT_EQ(off.size(), 5u);  // Constant, Gather, Unsqueeze, Concat, Relu
  EXPECT_EQ(std::string(PlacementName(Placement::kFallback)), "cpu fallback");
}

TEST(PlanTest, NodeWithoutDeclarationIsRefusedNamingIt) {
  Graph g = ShapeGraph();
  g.nodes[7].op_type = "NoSuchOp";
  absl::StatusOr<ExecutionPlan> plan =
      ExecutionPlan::Build(g, CpuBackend::Traits());
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(plan.status().message().find("NoSuchOp-13 node 'act_node'"),
            std::string::npos)
      << plan.status();
}

TEST(PlanTest, GradientNeedsAndDownstreamSteps) {
  const Graph g = ShapeGraph();
  absl::StatusOr<ExecutionPlan> plan =
      ExecutionPlan::Build(g, CpuBackend::Traits());
  ASSERT_TRUE(plan.ok()) << plan.status();
  const std::vector<bool> needs = plan->GradientNeeds({plan->value_id("W")});
  for (const char* v : {"W", "mm", "act", "logits"})
    EXPECT_TRUE(needs[plan->value_id(v)]) << v;
  for (const char* v : {"b", "x", "flat", "dims", "new_shape"})
    EXPECT_FALSE(needs[plan->value_id(v)]) << v;
  // b feeds only the last Add; W feeds MatMul, Relu, Add.
  EXPECT_EQ(plan->StepsDownstreamOf({plan->value_id("b")}),
            std::vector<int>{StepOf(*plan, "Add")});
  EXPECT_EQ(plan->StepsDownstreamOf({plan->value_id("W")}),
            (std::vector<int>{StepOf(*plan, "MatMul"), StepOf(*plan, "Relu"),
                              StepOf(*plan, "Add")}));
  // An int64 shape constant reaches the whole float path behind Reshape.
  EXPECT_EQ(plan->StepsDownstreamOf({plan->value_id("zero")}).size(), 7u);
}

bool SameBits(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

TEST(IncrementalTest, RerunNeedsKeptValuesAndKnownNames) {
  absl::StatusOr<std::unique_ptr<CpuEngine>> engine =
      CpuEngine::Create(ShapeGraph());
  ASSERT_TRUE(engine.ok()) << engine.status();
  EXPECT_EQ((*engine)->RerunChanged({"W"}).status().code(),
            absl::StatusCode::kFailedPrecondition);
  Feeds feeds;
  feeds["x"] = testing::RandomTensor({3, 3, 4}, 9).CastTo(DType::kFloat32);
  ASSERT_TRUE((*engine)->RunAndKeep(feeds).ok());
  EXPECT_EQ((*engine)->RerunChanged({"nope"}).status().code(),
            absl::StatusCode::kNotFound);
}

// The owner samples, and every bundled model's graph with its eligible tensors
// (biases included; at least two), for the tests that run on all of them.
struct BundledModel {
  std::string path;
  Graph graph;
  std::vector<EligibleTensor> eligible;
};
void LoadBundled(Dataset* ds, std::vector<BundledModel>* out) {
  const std::string data = testing::DataDir() + "/fmnist_owner256.npz";
  ASSERT_TRUE(fs::exists(data)) << data << " missing: run tools/setup.sh";
  absl::StatusOr<Dataset> d = LoadDataset(data);
  ASSERT_TRUE(d.ok()) << d.status();
  *ds = std::move(*d);
  std::vector<std::string> paths;
  for (const auto& e : fs::directory_iterator(testing::ModelsDir())) {
    if (e.path().extension() == ".onnx") paths.push_back(e.path().string());
  }
  std::sort(paths.begin(), paths.end());
  ASSERT_GE(paths.size(), 3u);
  for (const std::string& path : paths) {
    absl::StatusOr<OnnxModel> model = OnnxModel::Load(path);
    ASSERT_TRUE(model.ok()) << path << ": " << model.status();
    absl::StatusOr<Graph> graph = model->ToGraph();
    ASSERT_TRUE(graph.ok()) << path << ": " << graph.status();
    std::vector<EligibleTensor> eligible =
        FindEligibleTensors(*graph, /*include_bias=*/true);
    ASSERT_GE(eligible.size(), 2u) << path;
    out->push_back({path, std::move(*graph), std::move(eligible)});
  }
}

// On every bundled model: keep a forward pass, change values of the first,
// a middle and the last eligible tensor (one at a time, then together), and
// re-run only what is downstream: the outputs equal a full forward of the
// changed model bit for bit, and the values outside the changed path are
// reused (the feeds' copy is kept, so the caller's feeds may go away).
TEST(IncrementalTest, RerunEqualsFullForwardOnEveryBundledModel) {
  Dataset owner;
  std::vector<BundledModel> bundled;
  ASSERT_NO_FATAL_FAILURE(LoadBundled(&owner, &bundled));
  const Dataset* ds = &owner;
  const Tensor x = SliceRows(ds->inputs.at("x"), 0, 16);
  for (const BundledModel& m : bundled) {
    SCOPED_TRACE(m.path);
    const Graph* graph = &m.graph;
    const std::vector<EligibleTensor>& eligible = m.eligible;
    absl::StatusOr<std::unique_ptr<CpuEngine>> inc = CpuEngine::Create(*graph);
    absl::StatusOr<std::unique_ptr<CpuEngine>> full = CpuEngine::Create(*graph);
    ASSERT_TRUE(inc.ok() && full.ok());
    {
      Feeds feeds = {{graph->inputs[0].name, x}};
      ASSERT_TRUE((*inc)->RunAndKeep(feeds).ok());
    }  // the caller's feeds are gone
    const Feeds feeds = {{graph->inputs[0].name, x}};
    const std::vector<std::string> names = {eligible.front().name,
                                            eligible[eligible.size() / 2].name,
                                            eligible.back().name};
    auto change = [&](const std::string& name, int64_t index, float value) {
      const Tensor v = Tensor::FromVector<float>({1}, {value});
      ASSERT_TRUE((*inc)->SetInitializerValues(name, {index}, v).ok());
      ASSERT_TRUE((*full)->SetInitializerValues(name, {index}, v).ok());
    };
    auto expect_equal = [&](const std::vector<std::string>& changed) {
      absl::StatusOr<std::vector<Tensor>> got = (*inc)->RerunChanged(changed);
      ASSERT_TRUE(got.ok()) << got.status();
      absl::StatusOr<std::vector<Tensor>> want = (*full)->Run(feeds);
      ASSERT_TRUE(want.ok()) << want.status();
      ASSERT_EQ(got->size(), want->size());
      for (size_t i = 0; i < got->size(); ++i)
        EXPECT_TRUE(SameBits((*got)[i], (*want)[i])) << "output " << i;
    };
    float v = 3.0f;
    for (const std::string& name : names) {
      change(name, 0, v);
      v = -v * 1.5f;
      expect_equal({name});
    }
    // Several tensors at once; the outputs really moved.
    absl::StatusOr<std::vector<Tensor>> before = (*full)->Run(feeds);
    ASSERT_TRUE(before.ok());
    for (const std::string& name : names) change(name, 1, 4.0f);
    expect_equal(names);
    absl::StatusOr<std::vector<Tensor>> after = (*full)->Run(feeds);
    ASSERT_TRUE(after.ok());
    EXPECT_FALSE(SameBits(before->at(0), after->at(0)));
  }
}

TEST(TrialTest, TrialsNeedKeptValuesAndValidEdits) {
  absl::StatusOr<std::unique_ptr<CpuEngine>> engine =
      CpuEngine::Create(ShapeGraph());
  ASSERT_TRUE(engine.ok()) << engine.status();
  const Tensor one = Tensor::FromVector<float>({1}, {1.0f});
  EXPECT_EQ((*engine)->RunTrials({{{"W", 0, one}}}).status().code(),
            absl::StatusCode::kFailedPrecondition);
  Feeds feeds;
  feeds["x"] = testing::RandomTensor({3, 3, 4}, 9).CastTo(DType::kFloat32);
  ASSERT_TRUE((*engine)->RunAndKeep(feeds).ok());
  // Slot 1 was never kept; slots outside the range are refused.
  EXPECT_EQ((*engine)->RunTrials({{{"W", 0, one}}}, 1).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*engine)
                ->RunTrials({{{"W", 0, one}}}, Engine::kKeptSlots)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*engine)->RunTrials({{{"nope", 0, one}}}).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ((*engine)->RunTrials({{{"W", 1 << 20, one}}}).status().code(),
            absl::StatusCode::kOutOfRange);
  const Tensor wrong = Tensor::FromVector<double>({1}, {1.0});
  EXPECT_EQ((*engine)->RunTrials({{{"W", 0, wrong}}}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// On every bundled model: trials over kept values (single edits in the first,
// a middle and the last eligible tensor, an edit set across all three, and a
// repeated edit of one element) equal SetInitializerValues + Run bit for bit;
// afterwards the engine's initializers and kept values are unchanged, so the
// same trials give the same outputs again, in any order; and a second slot
// kept on other samples does not disturb the first.
TEST(TrialTest, TrialsEqualFullForwardsAndChangeNothing) {
  Dataset owner;
  std::vector<BundledModel> bundled;
  ASSERT_NO_FATAL_FAILURE(LoadBundled(&owner, &bundled));
  const Dataset* ds = &owner;
  const Tensor x = SliceRows(ds->inputs.at("x"), 0, 16);
  const Tensor x2 = SliceRows(ds->inputs.at("x"), 16, 24);
  for (const BundledModel& m : bundled) {
    SCOPED_TRACE(m.path);
    const Graph* graph = &m.graph;
    const std::vector<EligibleTensor>& eligible = m.eligible;
    const std::string input = graph->inputs[0].name;
    absl::StatusOr<std::unique_ptr<CpuEngine>> inc = CpuEngine::Create(*graph);
    absl::StatusOr<std::unique_ptr<CpuEngine>> full = CpuEngine::Create(*graph);
    ASSERT_TRUE(inc.ok() && full.ok());
    // Slot 0 kept by a gradient pass, slot 1 by a plain kept run.
    const std::vector<int64_t> labels(16, 1);
    ASSERT_TRUE(
        (*inc)
            ->LossAndGradients({{input, x}}, labels, {eligible.front().name}, 0)
            .ok());
    ASSERT_TRUE((*inc)->RunAndKeep({{input, x2}}, 1).ok());
    const std::vector<std::string> names = {eligible.front().name,
                                            eligible[eligible.size() / 2].name,
                                            eligible.back().name};
    auto edit = [](const std::string& name, int64_t index, float v) {
      return InitializerEdit{name, index, Tensor::FromVector<float>({1}, {v})};
    };
    std::vector<Trial> trials;
    for (const std::string& name : names) trials.push_back({edit(name, 0, 3)});
    trials.push_back(
        {edit(names[0], 1, -2), edit(names[1], 1, 5), edit(names[2], 1, 7)});
    trials.push_back({edit(names[1], 0, 9), edit(names[1], 0, -9)});
    // What a full forward of each edited model gives.
    auto want_of = [&](const Trial& trial, const Tensor& xs) {
      std::vector<std::pair<std::string, Tensor>> old;
      for (const InitializerEdit& e : trial) {
        absl::StatusOr<Tensor> w = (*full)->GetInitializer(e.initializer);
        EXPECT_TRUE(w.ok());
        Tensor o = Tensor::FromVector<float>({1}, {w->data<float>()[e.index]});
        old.emplace_back(e.initializer, std::move(o));
        EXPECT_TRUE(
            (*full)
                ->SetInitializerValues(e.initializer, {e.index}, e.value)
                .ok());
      }
      absl::StatusOr<std::vector<Tensor>> out = (*full)->Run({{input, xs}});
      EXPECT_TRUE(out.ok()) << out.status();
      for (size_t k = trial.size(); k-- > 0;) {
        EXPECT_TRUE((*full)
                        ->SetInitializerValues(old[k].first, {trial[k].index},
                                               old[k].second)
                        .ok());
      }
      return out.ok() ? *out : std::vector<Tensor>{};
    };
    std::map<std::string, Tensor> before;
    for (const std::string& name : names)
      before[name] = *(*inc)->GetInitializer(name);
    for (int pass = 0; pass < 2; ++pass) {
      std::vector<Trial> order = trials;
      if (pass == 1) std::reverse(order.begin(), order.end());
      absl::StatusOr<std::vector<std::vector<Tensor>>> got =
          (*inc)->RunTrials(order);
      ASSERT_TRUE(got.ok()) << got.status();
      ASSERT_EQ(got->size(), order.size());
      for (size_t t = 0; t < order.size(); ++t) {
        const std::vector<Tensor> want = want_of(order[t], x);
        ASSERT_EQ((*got)[t].size(), want.size());
        for (size_t i = 0; i < want.size(); ++i)
          EXPECT_TRUE(SameBits((*got)[t][i], want[i]))
              << "pass " << pass << " trial " << t << " output " << i;
      }
    }
    // Slot 1 holds the other samples' values.
    absl::StatusOr<std::vector<std::vector<Tensor>>> other =
        (*inc)->RunTrials({trials[3]}, 1);
    ASSERT_TRUE(other.ok()) << other.status();
    const std::vector<Tensor> want_other = want_of(trials[3], x2);
    EXPECT_TRUE(SameBits((*other)[0][0], want_other[0]));
    for (const std::string& name : names)
      EXPECT_TRUE(SameBits(*(*inc)->GetInitializer(name), before[name]))
          << name << " changed";
    // An edit that changes something really changes the outputs.
    const std::vector<Tensor> plain = *(*full)->Run({{input, x}});
    EXPECT_FALSE(SameBits(want_of(trials[3], x)[0], plain[0]));
  }
}

// On every bundled model: kept runs follow SetInitializerValues. After values
// change, a trial on a slot that was not re-run, RunAndKeep and
// LossAndGradients on equal feeds (which re-run only what the writes change)
// and RerunChanged naming nothing all equal a fresh engine's full passes bit
// for bit (loss, first output and every gradient); other feeds into a slot run
// in full.
TEST(IncrementalTest, KeptRunsFollowInitializerWrites) {
  Dataset owner;
  std::vector<BundledModel> bundled;
  ASSERT_NO_FATAL_FAILURE(LoadBundled(&owner, &bundled));
  const Tensor x = SliceRows(owner.inputs.at("x"), 0, 16);
  const Tensor x2 = SliceRows(owner.inputs.at("x"), 16, 24);
  const int64_t* y = owner.y.data<int64_t>();
  const std::vector<int64_t> labels(y, y + 16);
  for (const BundledModel& m : bundled) {
    SCOPED_TRACE(m.path);
    const std::string input = m.graph.inputs[0].name;
    std::vector<std::string> params;
    for (const EligibleTensor& e : m.eligible) params.push_back(e.name);
    absl::StatusOr<std::unique_ptr<CpuEngine>> inc = CpuEngine::Create(m.graph);
    absl::StatusOr<std::unique_ptr<CpuEngine>> full =
        CpuEngine::Create(m.graph);
    ASSERT_TRUE(inc.ok() && full.ok());
    ASSERT_TRUE((*inc)->LossAndGradients({{input, x}}, labels, params, 0).ok());
    ASSERT_TRUE((*inc)->RunAndKeep({{input, x2}}, 1).ok());
    auto change = [&](const std::string& name, int64_t index, float value) {
      const Tensor v = Tensor::FromVector<float>({1}, {value});
      ASSERT_TRUE((*inc)->SetInitializerValues(name, {index}, v).ok());
      ASSERT_TRUE((*full)->SetInitializerValues(name, {index}, v).ok());
    };
    auto expect_gradients = [&](const Tensor& xs, int64_t rows) {
      const std::vector<int64_t> ys(labels.begin(), labels.begin() + rows);
      absl::StatusOr<LossResult> got =
          (*inc)->LossAndGradients({{input, xs}}, ys, params, 0);
      absl::StatusOr<LossResult> want =
          (*full)->LossAndGradients({{input, xs}}, ys, params);
      ASSERT_TRUE(got.ok() && want.ok()) << got.status() << want.status();
      EXPECT_EQ(got->loss, want->loss);
      EXPECT_TRUE(SameBits(got->output, want->output));
      for (const std::string& p : params)
        EXPECT_TRUE(SameBits(got->grads.at(p), want->grads.at(p))) << p;
    };
    // A middle tensor, then the last and the first (the whole graph).
    change(params[params.size() / 2], 0, 2.5f);
    const Trial trial = {
        {params.back(), 1, Tensor::FromVector<float>({1}, {-3.0f})}};
    absl::StatusOr<std::vector<std::vector<Tensor>>> tried =
        (*inc)->RunTrials({trial}, 1);
    ASSERT_TRUE(tried.ok()) << tried.status();
    change(params.back(), 1, -3.0f);
    const std::vector<Tensor> want2 = *(*full)->Run({{input, x2}});
    EXPECT_TRUE(SameBits((*tried)[0][0], want2[0]));
    change(params.back(), 1, 0.5f);
    expect_gradients(x, 16);
    absl::StatusOr<std::vector<Tensor>> kept =
        (*inc)->RunAndKeep({{input, x2}}, 1);
    ASSERT_TRUE(kept.ok()) << kept.status();
    EXPECT_TRUE(SameBits(kept->at(0), (*full)->Run({{input, x2}})->at(0)));
    change(params.front(), 2, -1.5f);
    absl::StatusOr<std::vector<Tensor>> rerun = (*inc)->RerunChanged({}, 0);
    ASSERT_TRUE(rerun.ok()) << rerun.status();
    EXPECT_TRUE(SameBits(rerun->at(0), (*full)->Run({{input, x}})->at(0)));
    expect_gradients(x, 16);
    // Other feeds into slot 0: a full pass.
    change(params.front(), 3, 1.25f);
    expect_gradients(x2, 8);
  }
}

}  // namespace
}  // namespace onnx_crypt
