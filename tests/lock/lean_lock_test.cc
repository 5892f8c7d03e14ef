// The lock's memory-lean forms (issue #12) give the same answers as the full
// ones: ranking with gradients in groups equals ranking in one pass, and
// tails that scan the engine's tensor equal sorted tails (quantiles and
// membership, with locked positions).
#include <algorithm>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "onnx_crypt/data/npz.h"
#include "onnx_crypt/engine/cpu_engine.h"
#include "onnx_crypt/engine/evaluate.h"
#include "onnx_crypt/lock/eligibility.h"
#include "onnx_crypt/lock/lock_steps.h"
#include "onnx_crypt/lock/ranking.h"
#include "onnx_crypt/onnx/model.h"
#include "tests/support/paths.h"

namespace onnx_crypt {
namespace {

// LeNet-5's eligible tensors ranked with one gradient pass and with one pass
// per tensor (a 1-byte budget): the same loss and the same ranked values.
TEST(LeanLockTest, GroupedGradientsRankLikeOnePass) {
  absl::StatusOr<OnnxModel> model =
      OnnxModel::Load(testing::ModelsDir() + "/lenet5.onnx");
  ASSERT_TRUE(model.ok()) << model.status();
  absl::StatusOr<Graph> graph = model->ToGraph();
  ASSERT_TRUE(graph.ok()) << graph.status();
  std::vector<std::string> params;
  for (const EligibleTensor& e : FindEligibleTensors(*graph, false)) {
    params.push_back(e.name);
  }
  ASSERT_GE(params.size(), 3u);
  absl::StatusOr<std::unique_ptr<CpuEngine>> engine =
      CpuEngine::Create(std::move(*graph), 1);
  ASSERT_TRUE(engine.ok()) << engine.status();
  absl::StatusOr<Dataset> d =
      LoadDataset(testing::DataDir() + "/fmnist_owner256.npz");
  ASSERT_TRUE(d.ok()) << d.status() << " (run tools/setup.sh)";
  Feeds feeds;
  feeds[(*engine)->graph().inputs[0].name] =
      SliceRows(d->inputs.at("x"), 0, 32);
  std::vector<int64_t> labels = d->y.ToInt64Vector();
  labels.resize(32);

  RankRequest r;
  r.lo.assign(params.size(), -0.5f);
  r.hi.assign(params.size(), 0.5f);
  r.excluded.assign(params.size(), {});
  r.excluded[0] = {0, 3, 7};
  r.k = 24;
  r.k_per_param = 3;
  absl::StatusOr<RankResult> one =
      RankByRangeGain(**engine, feeds, labels, params, r);
  ASSERT_TRUE(one.ok()) << one.status();
  r.gradient_budget_bytes = 1;
  absl::StatusOr<RankResult> grouped =
      RankByRangeGain(**engine, feeds, labels, params, r);
  ASSERT_TRUE(grouped.ok()) << grouped.status();
  EXPECT_EQ(one->loss, grouped->loss);
  ASSERT_EQ(one->top.size(), grouped->top.size());
  ASSERT_GT(one->top.size(), 24u);
  for (size_t i = 0; i < one->top.size(); ++i) {
    EXPECT_EQ(one->top[i].param, grouped->top[i].param) << i;
    EXPECT_EQ(one->top[i].index, grouped->top[i].index) << i;
    EXPECT_EQ(one->top[i].score, grouped->top[i].score) << i;
    EXPECT_EQ(one->top[i].grad, grouped->top[i].grad) << i;
  }
}

// Scanned tails against sorted ones, on tensors with repeated values, of
// sizes on both sides of the 1 % / 256-value tail rule.
TEST(LeanLockTest, ScannedTailsEqualSortedTails) {
  std::mt19937 rng(11);
  for (int64_t n : {1, 2, 5, 150, 4000, 40000}) {
    std::vector<float> v(n);
    // Values on a grid of 1/64: many repeats, exact membership questions.
    for (float& x : v)
      x = static_cast<float>(static_cast<int>(rng() % 601) - 300) / 64;
    Tensor t = Tensor::FromVector<float>({n}, v);
    const TensorTails sorted = MakeTensorTails("w", t, 2, true);
    Tensor engine_copy = t;  // the engine's tensor, to be locked below
    const TensorTails scanned = MakeTensorTails("w", engine_copy, 2, false);
    EXPECT_TRUE(scanned.sorted.empty());
    EXPECT_EQ(sorted.min, scanned.min) << n;
    EXPECT_EQ(sorted.max, scanned.max) << n;
    EXPECT_EQ(sorted.tail_lo, scanned.tail_lo) << n;
    EXPECT_EQ(sorted.tail_hi, scanned.tail_hi) << n;
    // Lock a few positions to values off the grid; their originals must
    // still count as held, their locked values must not.
    LockedValues locked;
    float* w = engine_copy.mutable_data<float>();
    for (int k = 0; k < 3 && k < n; ++k) {
      const int64_t i = rng() % n;
      if (locked.Holds(2, i)) continue;
      locked.positions.insert({2, i});
      locked.originals[{2, i}] = w[i];
      w[i] = 100.0f + k + 0.001f;
    }
    for (int q = 0; q < 2000; ++q) {
      const float x =
          static_cast<float>(static_cast<int>(rng() % 1401) - 700) / 128;
      EXPECT_EQ(HoldsOriginalValue(sorted, locked, x),
                HoldsOriginalValue(scanned, locked, x))
          << "n " << n << " value " << x;
    }
    for (const auto& [pos, original] : locked.originals) {
      EXPECT_TRUE(HoldsOriginalValue(scanned, locked, original));
      EXPECT_FALSE(HoldsOriginalValue(scanned, locked, w[pos.second]));
    }
  }
}

}  // namespace
}  // namespace onnx_crypt
