// The default lock loop.
//
// Before: the engine holds the unlocked model, and the owner samples S are
// classified above the target accuracy. After: the engine holds the locked
// model, and the result lists every locked value in the order it was locked.
//
// Round r of the lock:
//   1. Rank. The engine computes g = dL/dθ on S and scores every eligible value
//      θ_j that is not locked yet by its "range gain", the first-order loss
//      increase of moving θ_j to the end of its tensor's original range
//      [min_t, max_t] in the direction of g_j:
//          score_j = |g_j| · (g_j > 0 ? max_t − θ_j : θ_j − min_t).
//      It keeps the `candidates` best scores overall plus the
//      `per_tensor_candidates` best of each tensor (ties: tensor order, then
//      flat index).
//   2. Propose. Each candidate gets a locked value v_j drawn uniformly by the
//      seeded generator from the outer tail of its tensor's own distribution
//      on the gradient's side: [max(tail_hi, θ_j), max_t] when g_j > 0 and
//      [min_t, min(tail_lo, θ_j)] otherwise. The extreme itself is never used
//      (lock_steps.h lists every condition a value must meet).
//   3. Try. Each candidate with a usable value is set in the engine, S is
//      measured with one forward pass, and θ_j is put back.
//   4. Select. The `values_per_round` candidates that lower the accuracy on S
//      the most are locked; equal accuracies go to the larger loss.
//   5. Stop when the accuracy on S is at or below the target ("target"), or
//      when the budget of `max_values` is spent or a round has nothing to lock
//      ("budget").
// Trying the candidates costs one forward pass each, but it makes every locked
// value count: the first-order score alone often prefers values whose effect
// saturates.
#include <algorithm>
#include <vector>

#include "onnx_crypt/base/status.h"
#include "onnx_crypt/lock/lock_steps.h"
#include "onnx_crypt/lock/random.h"

namespace onnx_crypt {

namespace {

// A tried candidate and what it did to the owner samples.
struct DefaultTrial {
  LockCandidate candidate;
  SampleMeasure measure;
};

// Lower accuracy first; equal accuracies: larger loss first.
bool HurtsMore(const DefaultTrial& a, const DefaultTrial& b) {
  if (a.measure.accuracy != b.measure.accuracy) {
    return a.measure.accuracy < b.measure.accuracy;
  }
  return a.measure.loss > b.measure.loss;
}

}  // namespace

absl::StatusOr<LockResult> DefaultLock(LockContext& ctx, SampleMeasure start,
                                       LockResult result) {
  SeededGenerator rng(ctx.config.seed);
  LockedValues locked;
  SampleMeasure current = start;
  while (true) {
    if (current.accuracy <= result.target_accuracy) {
      result.stop_reason = "target";
      break;
    }
    if (BudgetSpent(ctx.config, result.changes)) {
      result.stop_reason = "budget";
      break;
    }
    ++result.rounds;
    OC_ASSIGN_OR_RETURN(const RankResult ranked,
                        RankUnlockedValues(ctx, locked));
    if (ranked.top.empty()) {
      result.stop_reason = "budget";
      break;
    }

    std::vector<DefaultTrial> trials;
    for (const RankedValue& r : ranked.top) {
      LockCandidate c;
      c.tensor = static_cast<size_t>(r.param);
      c.index = r.index;
      c.score = r.score;
      c.original = r.weight;
      const TensorTails& s = ctx.tails[c.tensor];
      const float theta = r.weight;
      const bool up = r.grad > 0;
      const float lo = up ? std::max(s.tail_hi, theta) : s.min;
      const float hi = up ? s.max : std::min(s.tail_lo, theta);
      c.value = ProposeValue(rng, s, locked, theta, [&](double u) {
        return static_cast<float>(lo + u * (static_cast<double>(hi) - lo));
      });
      if (c.value == theta) continue;  // no usable value
      const std::string& name = ctx.names[c.tensor];
      OC_RETURN_IF_ERROR(SetValue(ctx.engine, name, c.index, c.value));
      OC_ASSIGN_OR_RETURN(const SampleMeasure m, MeasureSamples(ctx));
      OC_RETURN_IF_ERROR(SetValue(ctx.engine, name, c.index, theta));
      trials.push_back({c, m});
    }
    std::stable_sort(trials.begin(), trials.end(), HurtsMore);
    std::vector<LockCandidate> best;
    for (const DefaultTrial& t : trials) best.push_back(t.candidate);
    OC_ASSIGN_OR_RETURN(const int taken, LockBest(ctx, best, result.rounds,
                                                  &locked, &result.changes));
    if (taken == 0) {
      result.stop_reason = "budget";
      break;
    }
    OC_ASSIGN_OR_RETURN(current, MeasureSamples(ctx));
    ReportRound(ctx.config, result, current);
  }
  result.sample_accuracy_after = current.accuracy;
  result.loss_after = current.loss;
  return result;
}

}  // namespace onnx_crypt
