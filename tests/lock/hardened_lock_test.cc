// The hardened lock (LockConfig::harden) on the bundled LeNet-5: deterministic,
// every locked value inside its tensor's original range, distinct, and inside
// the bulk of the weight distribution (below the stealth quantile of |w| over
// all eligible values), while the first values already hurt accuracy more in
// the reset states than the default lock's values do; and the default
// hardened lock on mlp_softmax meets every target.
#include <algorithm>
#include <cmath>
#include <set>

#include "cuda/position_hash.h"
#include "gtest/gtest.h"
#include "onnx_crypt/data/npz.h"
#include "onnx_crypt/engine/cpu_engine.h"
#include "onnx_crypt/lock/eligibility.h"
#include "onnx_crypt/lock/locker.h"
#include "onnx_crypt/onnx/model.h"
#include "tests/support/paths.h"

namespace onnx_crypt {
namespace {

struct LockRun {
  LockResult result;
  std::map<std::string, std::vector<float>> original;
  std::map<std::string, int64_t> rows;  // the first axis (1 for a vector)
};

LockRun LockBundled(const std::string& model_name, const LockConfig& config) {
  LockRun run;
  absl::StatusOr<OnnxModel> model =
      OnnxModel::Load(testing::ModelsDir() + "/" + model_name + ".onnx");
  EXPECT_TRUE(model.ok()) << model.status();
  absl::StatusOr<Graph> graph = model->ToGraph();
  EXPECT_TRUE(graph.ok());
  for (const EligibleTensor& e : FindEligibleTensors(*graph, false)) {
    const Tensor& t = graph->initializers.at(e.name);
    run.original[e.name].assign(t.data<float>(), t.data<float>() + t.numel());
    run.rows[e.name] = t.rank() >= 2 ? t.dim(0) : 1;
  }
  absl::StatusOr<std::unique_ptr<CpuEngine>> engine =
      CpuEngine::Create(std::move(*graph), 1);
  EXPECT_TRUE(engine.ok());
  absl::StatusOr<Dataset> d =
      LoadDataset(testing::DataDir() + "/fmnist_owner256.npz");
  EXPECT_TRUE(d.ok()) << d.status() << " (run tools/setup.sh)";
  absl::StatusOr<LockResult> r = LockModel(
      **engine, {{"input", d->inputs.at("x")}}, d->y.ToInt64Vector(), config);
  EXPECT_TRUE(r.ok()) << r.status();
  if (r.ok()) run.result = *r;
  return run;
}

LockRun LockLeNet(const LockConfig& config) {
  return LockBundled("lenet5", config);
}

TEST(HardenedLockTest, DeterministicInRangeDistinctAndInsideTheBulk) {
  LockConfig config;
  config.harden = true;
  config.max_values = 6;
  config.candidates = 8;
  config.seed = 11;
  const LockRun a = LockLeNet(config);
  const LockRun b = LockLeNet(config);
  ASSERT_EQ(a.result.changes.size(), 6u);
  EXPECT_EQ(a.result.stop_reason, "budget");
  ASSERT_EQ(b.result.changes.size(), a.result.changes.size());
  for (size_t i = 0; i < a.result.changes.size(); ++i) {
    EXPECT_EQ(a.result.changes[i].tensor, b.result.changes[i].tensor);
    EXPECT_EQ(a.result.changes[i].index, b.result.changes[i].index);
    EXPECT_EQ(a.result.changes[i].locked, b.result.changes[i].locked);
  }
  std::vector<float> mags;
  for (const auto& [n, v] : a.original)
    for (float w : v) mags.push_back(std::abs(w));
  std::sort(mags.begin(), mags.end());
  const float bulk =
      mags[static_cast<size_t>(config.stealth_quantile * mags.size())];
  std::set<float> seen;
  for (const LockChange& c : a.result.changes) {
    const std::vector<float>& v = a.original.at(c.tensor);
    EXPECT_EQ(v[c.index], c.original);
    EXPECT_NE(c.locked, c.original);
    EXPECT_GT(c.locked, *std::min_element(v.begin(), v.end())) << c.tensor;
    EXPECT_LT(c.locked, *std::max_element(v.begin(), v.end())) << c.tensor;
    EXPECT_LE(std::abs(c.locked), bulk) << c.tensor << "[" << c.index << "]";
    EXPECT_EQ(std::count(v.begin(), v.end(), c.locked), 0);
    EXPECT_TRUE(seen.insert(c.locked).second) << "repeated locked value";
  }
  // Six values already cost accuracy on the owner samples, in the locked
  // state and with the locked values reset to 0.
  EXPECT_LT(a.result.sample_accuracy_after,
            a.result.sample_accuracy_before - 0.1);
  EXPECT_GE(a.result.reset_zero_accuracy, 0.0);
  EXPECT_LT(a.result.reset_zero_accuracy,
            a.result.sample_accuracy_before - 0.05);
}

// The median of `v` (the mean of the two middle values for an even count).
double MedianOf(std::vector<float> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (static_cast<double>(v[n / 2 - 1]) + v[n / 2]) / 2;
}

// The rank-floor(q·n) element of `v`.
double QuantileOf(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))];
}

// Every value of the hardened lock of resnet_small (its first 12) lies inside
// the bulk interval that hardened_lock.cc documents, computed here from the
// original weights: |v| <= M, |v - mean_t| <= Z sd_t and |v - med_r| <= L s_r
// (s_r = 1.4826 MAD of the row), with M, Z and L the stealth quantiles over
// all eligible values of |w|, of the per-tensor z-score and of the per-row
// robust z-score. The statistics are recomputed here, not taken from
// MakeDistributionStats, so that the test is an independent oracle. A weight
// that already lay outside the interval, moved part of the way toward it, used
// to stay outside (resnet_small's default lock moved a -2.13 weight to -0.86 in
// its third round, the 14th largest |w| of the model; this test failed on it).
TEST(HardenedLockTest, EveryLockedValueLiesInsideTheBulkInterval) {
  LockConfig config;
  config.harden = true;
  config.max_values = 12;  // its first three rounds
  const LockRun run = LockBundled("resnet_small", config);
  ASSERT_EQ(run.result.changes.size(), 12u);
  struct Stats {
    double mean = 0, sd = 0;
    int64_t row_len = 1;
    std::vector<double> median, spread;
  };
  std::map<std::string, Stats> stats;
  std::vector<double> mag, z, local;
  for (const auto& [name, w] : run.original) {
    Stats& s = stats[name];
    for (float x : w) s.mean += x;
    s.mean /= static_cast<double>(w.size());
    for (float x : w) s.sd += (x - s.mean) * (x - s.mean);
    s.sd = std::sqrt(s.sd / static_cast<double>(w.size()));
    s.row_len = static_cast<int64_t>(w.size()) / run.rows.at(name);
    for (int64_t r = 0; r < run.rows.at(name); ++r) {
      std::vector<float> row(w.begin() + r * s.row_len,
                             w.begin() + (r + 1) * s.row_len);
      const double med = MedianOf(row);
      for (float& x : row) x = static_cast<float>(std::abs(x - med));
      s.median.push_back(med);
      s.spread.push_back(1.4826 * MedianOf(row));
    }
    for (size_t i = 0; i < w.size(); ++i) {
      const size_t r = i / static_cast<size_t>(s.row_len);
      mag.push_back(std::abs(w[i]));
      z.push_back(s.sd > 0 ? std::abs(w[i] - s.mean) / s.sd : 0.0);
      local.push_back(
          s.spread[r] > 0 ? std::abs(w[i] - s.median[r]) / s.spread[r] : 0.0);
    }
  }
  const double q = config.stealth_quantile;
  const double m = QuantileOf(mag, q), zq = QuantileOf(z, q),
               lq = QuantileOf(local, q);
  const double slack = 1.0001;  // float rounding of the bounds
  for (const LockChange& c : run.result.changes) {
    const Stats& s = stats.at(c.tensor);
    const size_t r = static_cast<size_t>(c.index / s.row_len);
    const double v = c.locked;
    EXPECT_LE(std::abs(v), m * slack) << c.tensor << "[" << c.index << "]";
    EXPECT_LE(std::abs(v - s.mean), zq * s.sd * slack)
        << c.tensor << "[" << c.index << "]";
    EXPECT_LE(std::abs(v - s.median[r]), lq * s.spread[r] * slack)
        << c.tensor << "[" << c.index << "] = " << v << " (was " << c.original
        << ")";
  }
}

// The default hardened lock on all 256 owner samples of mlp_softmax, whose
// locked state falls far below its target long before the reset states reach
// theirs, goes on until every target is met, by its own measures. (A variant
// that took each state's gradient on the samples it still classified
// correctly stopped here at 556 values with both reset states at 20 %, when
// the locked state's subset was empty: experiments/correct_sample_gradients.)
TEST(HardenedLockTest, MeetsItsTargetsOnAFullyConnectedModel) {
  LockConfig config;
  config.harden = true;
  const LockRun run = LockBundled("mlp_softmax", config);
  EXPECT_EQ(run.result.stop_reason, "target");
  EXPECT_LE(run.result.sample_accuracy_after, run.result.target_accuracy);
  EXPECT_LE(run.result.reset_zero_accuracy, run.result.repair_target);
  EXPECT_LE(run.result.reset_median_accuracy, run.result.repair_target);
  EXPECT_GE(run.result.repair_accuracy, 0.0);
  EXPECT_LE(run.result.repair_accuracy, run.result.repair_target);
}

// A diversified variant (lock-batch --variants) never locks a position that
// the position hash leaves out for its seed.
TEST(HardenedLockTest, DiversifiedVariantLocksOnlyPositionsItMayUse) {
  LockConfig config;
  config.harden = true;
  config.max_values = 3;
  config.candidates = 4;
  config.seed = 5;
  config.diversify_positions = true;
  const LockRun run = LockLeNet(config);
  ASSERT_EQ(run.result.changes.size(), 3u);
  for (const LockChange& c : run.result.changes) {
    const auto it = std::find(run.result.eligible.begin(),
                              run.result.eligible.end(), c.tensor);
    ASSERT_NE(it, run.result.eligible.end()) << c.tensor;
    const uint64_t tensor =
        static_cast<uint64_t>(it - run.result.eligible.begin());
    EXPECT_FALSE(PositionExcluded(config.seed, tensor, c.index))
        << c.tensor << "[" << c.index << "]";
  }
}

TEST(HardenedLockTest, RejectsABadStealthQuantile) {
  LockConfig config;
  config.harden = true;
  config.stealth_quantile = 1.5;
  absl::StatusOr<OnnxModel> model =
      OnnxModel::Load(testing::ModelsDir() + "/lenet5.onnx");
  ASSERT_TRUE(model.ok());
  absl::StatusOr<Graph> graph = model->ToGraph();
  ASSERT_TRUE(graph.ok());
  absl::StatusOr<std::unique_ptr<CpuEngine>> engine =
      CpuEngine::Create(std::move(*graph), 1);
  ASSERT_TRUE(engine.ok());
  Tensor x(DType::kFloat32, {1, 1, 28, 28});
  EXPECT_EQ(LockModel(**engine, {{"input", x}}, {0}, config).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace onnx_crypt
