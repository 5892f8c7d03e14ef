// The lock's ranking (lock/ranking.h) against a brute-force oracle: every
// score computed, every rule applied (locked positions, variant positions,
// zero gradients, non-positive scores), a full sort, the global k best plus
// each parameter's k best. Also the shared TopK selector against a full sort
// with many ties, and the engine-level RankByRangeGain against RankOnHost on
// the engine's own gradients.
#include "onnx_crypt/lock/ranking.h"

#include <cmath>
#include <random>
#include <set>

#include "cuda/position_hash.h"
#include "gtest/gtest.h"
#include "onnx_crypt/engine/cpu_engine.h"
#include "tests/support/graphs.h"
#include "tests/support/op_check.h"

namespace onnx_crypt {
namespace {

std::vector<RankedValue> BruteForce(const std::vector<Tensor>& w,
                                    const std::vector<Tensor>& g,
                                    const RankRequest& r) {
  std::vector<RankedValue> all;
  for (size_t p = 0; p < w.size(); ++p) {
    const std::set<int64_t> excluded(r.excluded[p].begin(),
                                     r.excluded[p].end());
    for (int64_t i = 0; i < w[p].numel(); ++i) {
      const float wi = w[p].data<float>()[i], gi = g[p].data<float>()[i];
      if (excluded.count(i) || gi == 0.0f) continue;
      if (r.diversify && PositionExcluded(r.diversify_seed, p, i)) continue;
      const float score =
          std::fabs(gi) * (gi > 0.0f ? r.hi[p] - wi : wi - r.lo[p]);
      if (!(score > 0.0f) || std::isinf(score)) continue;
      all.push_back({static_cast<int>(p), i, score, wi, gi});
    }
  }
  std::sort(all.begin(), all.end(), RankedBetter);
  std::vector<RankedValue> out;
  auto add = [&out](const RankedValue& c) {
    for (const RankedValue& o : out) {
      if (o.param == c.param && o.index == c.index) return;
    }
    out.push_back(c);
  };
  for (size_t i = 0; i < all.size() && i < static_cast<size_t>(r.k); ++i)
    add(all[i]);
  for (size_t p = 0; p < w.size(); ++p) {
    int64_t taken = 0;
    for (const RankedValue& c : all) {
      if (c.param != static_cast<int>(p) || taken >= r.k_per_param) continue;
      add(c);
      ++taken;
    }
  }
  std::sort(out.begin(), out.end(), RankedBetter);
  return out;
}

TEST(RankingTest, HostRankingEqualsBruteForce) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (int trial = 0; trial < 20; ++trial) {
    SCOPED_TRACE(trial);
    std::vector<Tensor> w, g;
    std::vector<std::string> names;
    RankRequest r;
    for (int p = 0; p < 3; ++p) {
      const int64_t n = 5 + 40 * p + trial;
      Tensor wt(DType::kFloat32, {n}), gt(DType::kFloat32, {n});
      for (int64_t i = 0; i < n; ++i) {
        // Coarse values so that equal scores (ties) occur.
        wt.mutable_data<float>()[i] = std::round(u(rng) * 4) / 4;
        gt.mutable_data<float>()[i] =
            i % 7 == 0 ? 0.0f : std::round(u(rng) * 4) / 4;
      }
      w.push_back(wt);
      g.push_back(gt);
      names.push_back("p" + std::to_string(p));
      r.lo.push_back(-1.0f);
      r.hi.push_back(1.0f);
      r.excluded.push_back({1, 3, n - 1});
    }
    r.k = 1 + trial % 9;
    r.k_per_param = trial % 3;
    r.diversify = trial % 2 == 1;
    r.diversify_seed = 77 + trial;
    absl::StatusOr<std::vector<RankedValue>> got = RankOnHost(w, g, names, r);
    ASSERT_TRUE(got.ok()) << got.status();
    const std::vector<RankedValue> want = BruteForce(w, g, r);
    ASSERT_EQ(got->size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ((*got)[i].param, want[i].param) << i;
      EXPECT_EQ((*got)[i].index, want[i].index) << i;
      EXPECT_EQ((*got)[i].score, want[i].score) << i;
    }
  }
}

TEST(RankingTest, BadRequestIsInvalidArgument) {
  RankRequest r;  // no per-parameter ranges
  absl::StatusOr<std::vector<RankedValue>> got = RankOnHost(
      {Tensor(DType::kFloat32, {2})}, {Tensor(DType::kFloat32, {2})}, {"w"}, r);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RankingTest, TopKEqualsAFullSortWithTies) {
  std::mt19937 rng(9);
  std::uniform_int_distribution<int> u(0, 5);
  std::vector<std::pair<int, int>> items;  // (score, index)
  for (int i = 0; i < 500; ++i) items.push_back({u(rng), i});
  auto better = [](const std::pair<int, int>& a, const std::pair<int, int>& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  };
  for (size_t k : {0u, 1u, 7u, 100u, 500u, 600u}) {
    TopK<std::pair<int, int>, decltype(better)> top(k, better);
    for (const auto& it : items) top.Offer(it);
    std::vector<std::pair<int, int>> want = items;
    std::sort(want.begin(), want.end(), better);
    want.resize(std::min(k, want.size()));
    EXPECT_EQ(top.TakeSorted(), want) << k;
    EXPECT_EQ(SelectTopK(items, k, better), want) << k;
  }
}

// RankByRangeGain on the CPU engine: the engine's gradients, ranked on the
// host.
TEST(RankingTest, RankByRangeGainRanksTheEngineGradients) {
  Graph g = testing::GemmGraph();
  absl::StatusOr<std::unique_ptr<CpuEngine>> engine = CpuEngine::Create(g);
  ASSERT_TRUE(engine.ok()) << engine.status();
  Feeds feeds;
  feeds["x"] = testing::RandomTensor({5, 3}, 3).CastTo(DType::kFloat32);
  const std::vector<int64_t> labels = {0, 1, 2, 3, 1};
  const std::vector<std::string> params = {"W", "b"};
  RankRequest r;
  r.lo = {-1.0f, -1.0f};
  r.hi = {1.0f, 1.0f};
  r.excluded = {{}, {}};
  r.k = 5;
  r.k_per_param = 1;
  absl::StatusOr<RankResult> ranked =
      RankByRangeGain(**engine, feeds, labels, params, r);
  ASSERT_TRUE(ranked.ok()) << ranked.status();
  absl::StatusOr<LossResult> lr =
      (*engine)->LossAndGradients(feeds, labels, params);
  ASSERT_TRUE(lr.ok());
  EXPECT_EQ(ranked->loss, lr->loss);
  const std::vector<RankedValue> want =
      BruteForce({g.initializers["W"], g.initializers["b"]},
                 {lr->grads.at("W"), lr->grads.at("b")}, r);
  ASSERT_EQ(ranked->top.size(), want.size());
  ASSERT_FALSE(want.empty());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(ranked->top[i].param, want[i].param);
    EXPECT_EQ(ranked->top[i].index, want[i].index);
    EXPECT_EQ(ranked->top[i].grad, want[i].grad);
  }
}

}  // namespace
}  // namespace onnx_crypt
