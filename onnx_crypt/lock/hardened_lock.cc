// The hardened lock loop (LockConfig::harden).
//
// Before: the engine holds the unlocked model, and the owner samples S are
// classified above the target accuracy. After: the engine holds the locked
// model; the result also reports the accuracy on S with every locked value
// reset to 0 and to its tensor's median, and the best accuracy that a
// simulated saliency repair reached.
//
// The default lock (default_lock.cc) pushes values into their tensor's tails.
// This loop defends against three attacks on such a lock:
//
// Outlier search. A value pushed to its tensor's tail is among the largest |w|
// of the whole model. Here every locked value v_j of a tensor t lies inside
// its bulk interval
//     lo_j = max(−M, μ_t − Z·σ_t, med_r − L·s_r, min_t),
//     hi_j = min(+M, μ_t + Z·σ_t, med_r + L·s_r, max_t),
// where μ_t and σ_t are the tensor's mean and standard deviation, med_r and
// s_r = 1.4826 · MAD are the median and spread of the row r that holds the
// value (a row is a slice of the tensor's first axis), and M, Z and L are the
// `stealth_quantile` quantiles, over all eligible values, of |w|, of
// |w − μ_t| / σ_t and of |w − med_r| / s_r.
//
// Repair by resetting salient values to 0 or to the tensor median. The
// positions are chosen so that the model also stays broken in those reset
// states. Each round keeps three states of the locked set: the locked values,
// zeros, and the tensor medians of the original values. It takes gradients in
// each state and scores every position that is not locked yet in two ways:
//     locked state: |g_j| · (v̄_j − θ_j), with v̄_j three quarters of the way
//                   from θ_j to the bound on the gradient's side;
//     reset states: g⁰_j · (0 − θ_j) + gᵐ_j · (med_t − θ_j).
// The best `candidates` by each score are tried in all three states. The one
// with the lowest max(acc_locked − 0.02, acc_zero, acc_median), and on equal
// values the largest summed loss, is locked at
//     v_j = θ_j + u · (bound − θ_j),
// with u ~ U[0.5, 0.95) drawn by the seeded generator.
//
// The adaptive attacker. Once the locked state is at or below the target
// accuracy and both reset states are at or below the repair target, the loop
// simulates the attack module's saliency repair (attack.h, Repair) on S: the
// k values of highest |g·w| or |g| reset to 0 or to the original tensor
// median, for k = N, 2N, 5N and repair_multiple · N, with N values locked.
// Locking goes on while the best of these repairs recovers more than
// `repair_target`.
#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "cuda/position_hash.h"
#include "onnx_crypt/attack/attack.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/lock/lock_steps.h"
#include "onnx_crypt/lock/random.h"
#include "onnx_crypt/lock/ranking.h"

namespace onnx_crypt {

namespace {

// One tensor's statistics for the bulk interval (see above).
struct BulkStats {
  double mean = 0, sd = 0;
  int64_t row_len = 1;
  std::vector<float> row_median, row_spread;  // per row: median, 1.4826 MAD
  float median = 0;                           // of the whole tensor
};

BulkStats MakeBulkStats(const Tensor& t) {
  const DistributionStats d = MakeDistributionStats(t);
  BulkStats b;
  b.mean = d.mean;
  b.sd = d.sd;
  b.row_len = d.row_len;
  b.row_median = d.row_median;
  for (double s : d.row_spread) b.row_spread.push_back(static_cast<float>(s));
  b.median =
      Median(std::vector<float>(t.data<float>(), t.data<float>() + t.numel()));
  return b;
}

// M, Z and L of the bulk interval.
struct BulkLimits {
  double magnitude = 0, z = 0, local = 0;
};

// The element of rank floor(q · n) (clamped to the last) of `v`; reorders `v`.
double Quantile(std::vector<float>& v, double q) {
  if (v.empty()) return 0;
  const size_t k = std::min(v.size() - 1, static_cast<size_t>(q * v.size()));
  std::nth_element(v.begin(), v.begin() + k, v.end());
  return v[k];
}

BulkLimits MakeBulkLimits(const ValueSnapshot& originals,
                          const std::vector<BulkStats>& bs, double q) {
  std::vector<float> mag, z, local;
  for (size_t t = 0; t < bs.size(); ++t) {
    const Tensor& ws = originals.tensor(t);
    const float* w = ws.data<float>();
    for (int64_t i = 0; i < ws.numel(); ++i) {
      mag.push_back(std::abs(w[i]));
      z.push_back(bs[t].sd > 0 ? static_cast<float>(
                                     std::abs(w[i] - bs[t].mean) / bs[t].sd)
                               : 0.0f);
      const int64_t r = i / bs[t].row_len;
      const float spread = bs[t].row_spread[r];
      local.push_back(spread > 0 ? std::abs(w[i] - bs[t].row_median[r]) / spread
                                 : 0.0f);
    }
  }
  return {Quantile(mag, q), Quantile(z, q), Quantile(local, q)};
}

// The bulk interval [lo_j, hi_j] of value i of a tensor.
std::pair<double, double> BulkInterval(const BulkStats& b, const TensorTails& s,
                                       const BulkLimits& q, int64_t i) {
  const int64_t r = i / b.row_len;
  const double hi = std::min(
      {q.magnitude, b.mean + q.z * b.sd,
       b.row_median[r] + q.local * static_cast<double>(b.row_spread[r]),
       static_cast<double>(s.max)});
  const double lo = std::max(
      {-q.magnitude, b.mean - q.z * b.sd,
       b.row_median[r] - q.local * static_cast<double>(b.row_spread[r]),
       static_cast<double>(s.min)});
  return {lo, hi};
}

enum class LockState { kLocked, kZero, kMedian };

// Puts every locked position of `changes` in `state`.
absl::Status ApplyState(Engine& engine, const std::vector<LockChange>& changes,
                        const std::map<std::string, float>& medians,
                        LockState state) {
  for (const LockChange& c : changes) {
    const float v = state == LockState::kLocked ? c.locked
                    : state == LockState::kZero ? 0.0f
                                                : medians.at(c.tensor);
    OC_RETURN_IF_ERROR(SetValue(engine, c.tensor, c.index, v));
  }
  return absl::OkStatus();
}

// The simulated saliency repair on the owner samples. The engine starts in the
// locked state and is left in it. Returns the best accuracy over both scores,
// both resets and every k.
absl::StatusOr<double> SimulateRepair(
    const LockContext& ctx, const std::map<std::string, float>& medians,
    int locked) {
  const std::vector<int> ks = {locked, 2 * locked, 5 * locked,
                               ctx.config.repair_multiple * locked};
  OC_ASSIGN_OR_RETURN(const ValueSnapshot before,
                      ValueSnapshot::Take(ctx.engine, ctx.names));
  RepairOptions options;
  options.k = *std::max_element(ks.begin(), ks.end());
  options.single_pass = true;
  options.medians = medians;
  double best = 0;
  for (SaliencyScore score :
       {SaliencyScore::kGradTimesWeight, SaliencyScore::kGrad}) {
    options.score = score;
    OC_ASSIGN_OR_RETURN(
        const std::vector<ValuePosition> ranked,
        RankBySaliency(ctx.engine, ctx.names, ctx.x, ctx.labels, options));
    for (ResetValue reset : {ResetValue::kZero, ResetValue::kMedian}) {
      options.reset = reset;
      for (int k : ks) {
        const size_t kk = std::min(ranked.size(), static_cast<size_t>(k));
        const std::vector<ValuePosition> reset_now(ranked.begin(),
                                                   ranked.begin() + kk);
        OC_RETURN_IF_ERROR(ResetPositions(ctx.engine, reset_now, options));
        OC_ASSIGN_OR_RETURN(const SampleMeasure m, MeasureSamples(ctx));
        best = std::max(best, m.accuracy);
        OC_RETURN_IF_ERROR(before.Restore(ctx.engine, reset_now));
      }
    }
  }
  return best;
}

// The two ranking scores of one round, over every position that is not locked
// yet: the best `pool` by the locked-state score and by the reset-state score,
// merged without duplicates and sorted best first.
std::vector<LockCandidate> RankHardened(
    const LockContext& ctx, const std::vector<BulkStats>& bulk,
    const BulkLimits& limits, const std::map<std::string, float>& medians,
    const LockedValues& locked, const LossResult& g_lock,
    const LossResult& g_zero, const LossResult& g_median) {
  const LockConfig& config = ctx.config;
  const size_t pool =
      static_cast<size_t>(std::max(config.candidates, config.values_per_round));
  // The best `pool` of each score (the selector the ranking module shares).
  TopK<LockCandidate, decltype(&HigherScoreFirst)> by_lock(pool,
                                                           &HigherScoreFirst);
  TopK<LockCandidate, decltype(&HigherScoreFirst)> by_reset(pool,
                                                            &HigherScoreFirst);
  for (size_t t = 0; t < ctx.names.size(); ++t) {
    const std::string& name = ctx.names[t];
    const float* w = ctx.originals.tensor(t).data<float>();
    const float* g = g_lock.grads.at(name).data<float>();
    const float* g0 = g_zero.grads.at(name).data<float>();
    const float* g1 = g_median.grads.at(name).data<float>();
    const double med = medians.at(name);
    for (int64_t i = 0; i < ctx.originals.tensor(t).numel(); ++i) {
      if (!(g[i] != 0.0f) || locked.Holds(t, i)) continue;
      if (config.diversify_positions && PositionExcluded(config.seed, t, i)) {
        continue;
      }
      const auto [lo, hi] = BulkInterval(bulk[t], ctx.tails[t], limits, i);
      const double room = g[i] > 0 ? hi - w[i] : w[i] - lo;
      if (!(room > 0)) continue;
      LockCandidate c{t, i, std::abs(static_cast<double>(g[i])) * 0.75 * room};
      by_lock.Offer(c);
      c.score = static_cast<double>(g0[i]) * (0.0 - w[i]) +
                static_cast<double>(g1[i]) * (med - w[i]);
      if (c.score > 0) by_reset.Offer(c);
    }
  }
  const std::vector<LockCandidate> best_lock = by_lock.TakeSorted();
  std::vector<LockCandidate> trials = best_lock;
  for (const LockCandidate& c : by_reset.TakeSorted()) {
    bool dup = false;
    for (const LockCandidate& d : best_lock) {
      dup |= d.tensor == c.tensor && d.index == c.index;
    }
    if (!dup) trials.push_back(c);
  }
  std::sort(trials.begin(), trials.end(), HigherScoreFirst);
  return trials;
}

}  // namespace

absl::StatusOr<LockResult> HardenedLock(LockContext& ctx, SampleMeasure start,
                                        LockResult result) {
  const LockConfig& config = ctx.config;
  Engine& engine = ctx.engine;
  const double reset_target = config.repair_target >= 0
                                  ? config.repair_target
                                  : 1.0 / result.num_classes + 0.05;
  std::vector<BulkStats> bulk;
  std::map<std::string, float> medians;  // of the original values
  for (size_t t = 0; t < ctx.names.size(); ++t) {
    bulk.push_back(MakeBulkStats(ctx.originals.tensor(t)));
    medians[ctx.names[t]] = bulk.back().median;
  }
  const BulkLimits limits =
      MakeBulkLimits(ctx.originals, bulk, config.stealth_quantile);

  SeededGenerator rng(config.seed);
  LockedValues locked;
  std::vector<LockChange>& changes = result.changes;
  SampleMeasure current = start, zero = start, median = start;
  // Puts the locked set in `state` and measures the owner samples.
  auto measure_in = [&](LockState state) -> absl::StatusOr<SampleMeasure> {
    OC_RETURN_IF_ERROR(ApplyState(engine, changes, medians, state));
    return MeasureSamples(ctx);
  };
  auto gradients_in = [&](LockState state) -> absl::StatusOr<LossResult> {
    OC_RETURN_IF_ERROR(ApplyState(engine, changes, medians, state));
    return engine.LossAndGradients(ctx.feeds, ctx.labels, ctx.names);
  };
  // Trial order: lower max(acc_locked − 0.02, acc_zero, acc_median) first,
  // then larger summed loss.
  auto trial_key = [](const SampleMeasure& a, const SampleMeasure& z,
                      const SampleMeasure& m) {
    return std::make_pair(std::max({a.accuracy - 0.02, z.accuracy, m.accuracy}),
                          -(a.loss + z.loss + m.loss));
  };
  while (true) {
    const bool states_met = current.accuracy <= result.target_accuracy &&
                            zero.accuracy <= reset_target &&
                            median.accuracy <= reset_target;
    if (states_met) {
      OC_ASSIGN_OR_RETURN(
          result.repair_accuracy,
          SimulateRepair(ctx, medians, static_cast<int>(changes.size())));
      if (result.repair_accuracy <= reset_target) {
        result.stop_reason = "target";
        break;
      }
    }
    if (BudgetSpent(config, changes)) {
      result.stop_reason = "budget";
      break;
    }
    ++result.rounds;
    // Gradients in the three states (all the same while nothing is locked).
    OC_ASSIGN_OR_RETURN(
        LossResult g_lock,
        engine.LossAndGradients(ctx.feeds, ctx.labels, ctx.names));
    LossResult g_zero, g_median;
    if (!changes.empty()) {
      OC_ASSIGN_OR_RETURN(g_zero, gradients_in(LockState::kZero));
      OC_ASSIGN_OR_RETURN(g_median, gradients_in(LockState::kMedian));
      OC_RETURN_IF_ERROR(
          ApplyState(engine, changes, medians, LockState::kLocked));
    }
    const std::vector<LockCandidate> ranked = RankHardened(
        ctx, bulk, limits, medians, locked, g_lock,
        changes.empty() ? g_lock : g_zero, changes.empty() ? g_lock : g_median);
    if (ranked.empty()) {
      result.stop_reason = "budget";
      break;
    }

    struct Trial {
      LockCandidate c;
      std::pair<double, double> key;
    };
    std::vector<Trial> tried;
    for (LockCandidate c : ranked) {
      const std::string& name = ctx.names[c.tensor];
      const float theta = ctx.originals.value(c.tensor, c.index);
      const bool up = g_lock.grads.at(name).data<float>()[c.index] > 0;
      const auto [lo, hi] =
          BulkInterval(bulk[c.tensor], ctx.tails[c.tensor], limits, c.index);
      c.original = theta;
      c.value = ProposeValue(
          rng, ctx.tails[c.tensor], locked, theta, [&](double draw) {
            const double u = 0.5 + 0.45 * draw;
            return static_cast<float>(up ? theta + u * (hi - theta)
                                         : theta - u * (theta - lo));
          });
      if (c.value == theta) continue;  // no usable value
      // The candidate's value in each state, with the locked set in the same
      // state; then back to the locked state without the candidate.
      OC_RETURN_IF_ERROR(SetValue(engine, name, c.index, c.value));
      OC_ASSIGN_OR_RETURN(const SampleMeasure ml, MeasureSamples(ctx));
      OC_RETURN_IF_ERROR(
          ApplyState(engine, changes, medians, LockState::kZero));
      OC_RETURN_IF_ERROR(SetValue(engine, name, c.index, 0.0f));
      OC_ASSIGN_OR_RETURN(const SampleMeasure mz, MeasureSamples(ctx));
      OC_RETURN_IF_ERROR(
          ApplyState(engine, changes, medians, LockState::kMedian));
      OC_RETURN_IF_ERROR(SetValue(engine, name, c.index, medians.at(name)));
      OC_ASSIGN_OR_RETURN(const SampleMeasure mm, MeasureSamples(ctx));
      OC_RETURN_IF_ERROR(
          ApplyState(engine, changes, medians, LockState::kLocked));
      OC_RETURN_IF_ERROR(SetValue(engine, name, c.index, theta));
      tried.push_back({c, trial_key(ml, mz, mm)});
    }
    std::stable_sort(
        tried.begin(), tried.end(),
        [](const Trial& a, const Trial& b) { return a.key < b.key; });
    std::vector<LockCandidate> best;
    for (const Trial& t : tried) best.push_back(t.c);
    OC_ASSIGN_OR_RETURN(const int taken,
                        LockBest(ctx, best, result.rounds, &locked, &changes));
    if (taken == 0) {
      result.stop_reason = "budget";
      break;
    }
    OC_ASSIGN_OR_RETURN(zero, measure_in(LockState::kZero));
    OC_ASSIGN_OR_RETURN(median, measure_in(LockState::kMedian));
    OC_ASSIGN_OR_RETURN(current, measure_in(LockState::kLocked));
    ReportRound(config, result, current);
  }
  result.sample_accuracy_after = current.accuracy;
  result.loss_after = current.loss;
  result.reset_zero_accuracy = zero.accuracy;
  result.reset_median_accuracy = median.accuracy;
  return result;
}

}  // namespace onnx_crypt
