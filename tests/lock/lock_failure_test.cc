// A lock that fails midway leaves the engine as it found it: LockModel writes
// every value it changed back to its original bits before it returns the
// error. The failure is injected by an engine wrapper whose Run fails from
// its Nth call on, after at least one round has locked values.
#include <cstring>
#include <map>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "onnx_crypt/data/npz.h"
#include "onnx_crypt/engine/cpu_engine.h"
#include "onnx_crypt/engine/evaluate.h"
#include "onnx_crypt/lock/locker.h"
#include "onnx_crypt/onnx/model.h"
#include "tests/support/paths.h"

namespace onnx_crypt {
namespace {

// Forwards to `inner`, except that the `fail_at`th call to Run or RunTrials
// and every later one fail with Internal.
class FailingEngine : public Engine {
 public:
  FailingEngine(Engine& inner, int fail_at)
      : inner_(inner), fail_at_(fail_at) {}

  const Graph& graph() const override { return inner_.graph(); }
  absl::StatusOr<std::vector<Tensor>> Run(const Feeds& feeds) override {
    if (++runs_ >= fail_at_) return absl::InternalError("injected failure");
    return inner_.Run(feeds);
  }
  absl::StatusOr<LossResult> LossAndGradients(
      const Feeds& feeds, absl::Span<const int64_t> labels,
      const std::vector<std::string>& params, int keep_slot) override {
    return inner_.LossAndGradients(feeds, labels, params, keep_slot);
  }
  absl::StatusOr<std::vector<std::vector<Tensor>>> RunTrials(
      const std::vector<Trial>& trials, int slot) override {
    if (++runs_ >= fail_at_) return absl::InternalError("injected failure");
    return inner_.RunTrials(trials, slot);
  }
  const ExecutionPlan& plan() const override { return inner_.plan(); }
  absl::StatusOr<std::vector<Tensor>> RunAndKeep(const Feeds& feeds,
                                                 int slot) override {
    return inner_.RunAndKeep(feeds, slot);
  }
  absl::StatusOr<std::vector<Tensor>> RerunChanged(
      const std::vector<std::string>& initializers, int slot) override {
    return inner_.RerunChanged(initializers, slot);
  }
  absl::Status SetInitializerValues(const std::string& name,
                                    absl::Span<const int64_t> indices,
                                    const Tensor& values) override {
    ++writes_;
    return inner_.SetInitializerValues(name, indices, values);
  }
  absl::StatusOr<Tensor> GetInitializer(
      const std::string& name) const override {
    return inner_.GetInitializer(name);
  }

  int writes() const { return writes_; }

 private:
  Engine& inner_;
  int fail_at_;
  int runs_ = 0;
  int writes_ = 0;
};

// Locks LeNet-5 through a FailingEngine and checks that the lock fails with
// the injected error after locking at least one round, and that every
// initializer of the engine then equals the original bit for bit.
void ExpectRestoredAfterFailure(LockConfig config, int fail_at) {
  absl::StatusOr<OnnxModel> model =
      OnnxModel::Load(testing::ModelsDir() + "/lenet5.onnx");
  ASSERT_TRUE(model.ok()) << model.status();
  absl::StatusOr<Graph> graph = model->ToGraph();
  ASSERT_TRUE(graph.ok()) << graph.status();
  const std::map<std::string, Tensor> original = graph->initializers;
  absl::StatusOr<std::unique_ptr<CpuEngine>> cpu =
      CpuEngine::Create(std::move(*graph), 1);
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  absl::StatusOr<Dataset> d =
      LoadDataset(testing::DataDir() + "/fmnist_owner256.npz");
  ASSERT_TRUE(d.ok()) << d.status() << " (run tools/setup.sh)";
  const Tensor x = SliceRows(d->inputs.at("x"), 0, 64);
  std::vector<int64_t> labels = d->y.ToInt64Vector();
  labels.resize(64);

  FailingEngine engine(**cpu, fail_at);
  int locked_before_failure = 0;
  config.target_accuracy = 0.0;  // never reached: the failure comes first
  config.progress = [&](const LockRound& r) {
    locked_before_failure = r.locked;
  };
  absl::StatusOr<LockResult> r =
      LockModel(engine, {{"input", x}}, labels, config);
  ASSERT_FALSE(r.ok()) << "the lock finished before the injected failure";
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInternal) << r.status();
  EXPECT_NE(r.status().message().find("injected failure"), std::string::npos)
      << r.status();
  EXPECT_GT(locked_before_failure, 0) << "the failure came before any lock";
  EXPECT_GT(engine.writes(), 0);

  for (const auto& [name, before] : original) {
    absl::StatusOr<Tensor> now = (*cpu)->GetInitializer(name);
    ASSERT_TRUE(now.ok()) << now.status();
    ASSERT_EQ(now->dtype(), before.dtype()) << name;
    ASSERT_EQ(now->nbytes(), before.nbytes()) << name;
    EXPECT_EQ(std::memcmp(now->raw(), before.raw(), before.nbytes()), 0)
        << "initializer '" << name << "' was not restored";
  }
}

TEST(LockFailureTest, FastLockRestoresTheEngineWhenItFails) {
  LockConfig config;
  config.harden = false;  // the fast loop (the hardened one is the default)
  config.candidates = 4;
  config.per_tensor_candidates = 1;
  config.seed = 3;
  // Two runs before the loop, then at most 9 trials and one measure a round:
  // the 30th run is a trial in the third round or later.
  ExpectRestoredAfterFailure(config, 30);
}

TEST(LockFailureTest, HardenedLockRestoresTheEngineWhenItFails) {
  LockConfig config;  // the default: the hardened loop
  config.candidates = 4;
  config.seed = 3;
  // At most 8 trials of three runs each and three measures a round: the 60th
  // run comes in the third round or later.
  ExpectRestoredAfterFailure(config, 60);
}

}  // namespace
}  // namespace onnx_crypt
