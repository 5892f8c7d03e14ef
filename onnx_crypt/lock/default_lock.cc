// The fast lock loop (LockConfig::harden = false, `onnx-crypt lock --fast`;
// the default until 2026-12-03, when the hardened loop replaced it).
//
// Before: the engine holds the unlocked model, and the owner samples S are
// classified above the target accuracy. After: the engine holds the locked
// model, and the result lists every locked value in the order it was locked.
//
// Round r of the lock:
//   0. Screening set. When S has more than 2 · kScreenSamples samples, the
//      round works on a subset of kScreenSamples of the samples that the
//      current state still classifies correctly, a different subset each
//      round (ScreenOnCorrectSamples); otherwise on S itself.
//   1. Rank. The engine computes g = dL/dθ on the screening set (keeping the
//      forward values) and scores every eligible value θ_j that is not locked
//      yet by its "range gain", the first-order loss increase of moving θ_j to
//      the end of its tensor's original range [min_t, max_t] in the direction
//      of g_j:
//          score_j = |g_j| · (g_j > 0 ? max_t − θ_j : θ_j − min_t).
//      The ranking keeps the `candidates` best scores overall plus the
//      `per_tensor_candidates` best of each tensor (ties: tensor order, then
//      flat index); the round tries those, best first, whose score is at least
//      kTriedScoreFraction of the best, at most `candidates` of them.
//   2. Propose. Each candidate gets a locked value v_j drawn uniformly by the
//      seeded generator from the outer tail of its tensor's own distribution
//      on the gradient's side: [max(tail_hi, θ_j), max_t] when g_j > 0 and
//      [min_t, min(tail_lo, θ_j)] otherwise. The extreme itself is never used
//      (lock_steps.h lists every condition a value must meet).
//   3. Try. Each candidate, best score first, is a trial (Engine::RunTrials)
//      on the screening set: only the steps downstream of the changed tensor
//      are re-run over kept values, and nothing in the engine changes. A
//      candidate that alone reaches the target (on a subset, the screening
//      accuracy that stands for it) ends the trials.
//   4. Select. The candidate that lowers the screening accuracy the most is
//      chosen (equal accuracies: the larger loss). Then the next most harmful
//      ones, in order, join if a trial of the chosen set plus it lowers the
//      accuracy by at least kAdditiveShare of what it did alone (on an
//      accuracy plateau, where a candidate alone leaves the accuracy as it was:
//      if the set's accuracy does not rise and its loss rises by at least
//      kAdditiveShare of the candidate's own loss increase), up to
//      `values_per_round` values, the budget or the target (on a subset, the
//      screening accuracy that stands for it). The chosen set is locked and
//      the locked model measured on all of S, re-running only what the new
//      values change (Engine::RunAndKeep); the next round's subset is drawn
//      from this run.
//   5. Stop when the accuracy on S is at or below the target ("target"), or
//      when the budget of `max_values` is spent or a round has nothing to lock
//      ("budget").
// Trying candidates makes every locked value count (the first-order score
// alone often prefers values whose effect saturates); re-running only what is
// downstream, screening on a subset and locking several values per round keep
// the trials cheap and the gradient passes few.
#include <algorithm>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/engine/loss.h"
#include "onnx_crypt/lock/lock_steps.h"
#include "onnx_crypt/lock/random.h"

namespace onnx_crypt {

namespace {

// A round tries the candidates whose first-order score is at least this
// fraction of the round's best score (at most `candidates` of them).
constexpr double kTriedScoreFraction = 0.5;

// A candidate joins the round's set only if, tried with the set, it lowers
// the accuracy by at least this share of what it did alone.
constexpr double kAdditiveShare = 0.5;

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

// The values a round locks, and the owner-sample measure with all of them set.
struct RoundChoice {
  std::vector<LockCandidate> chosen;
  SampleMeasure measure;
};

// The select step with several values per round, on the screening set.
// `trials` are the round's single-value trials, most harmful first, and
// `before` is the measure of the round's starting state. The first is always
// chosen; each next one joins only if a trial of the whole set so far plus it
// lowers the accuracy by at least kAdditiveShare of what it did alone
// (effects are re-measured together, never assumed to add up). It stops at
// `values_per_round` values, at `budget`, or at the target accuracy.
absl::StatusOr<RoundChoice> CombineTrials(
    const LockContext& ctx, const std::vector<DefaultTrial>& trials,
    const SampleMeasure& before, double target, int budget) {
  RoundChoice choice;
  choice.chosen.push_back(trials[0].candidate);
  choice.measure = trials[0].measure;
  const int limit = std::min(ctx.config.values_per_round, budget);
  std::set<uint32_t> bits = {FloatBits(trials[0].candidate.value)};
  Trial together = {EditOf(ctx, trials[0].candidate.tensor,
                           trials[0].candidate.index,
                           trials[0].candidate.value)};
  for (size_t k = 1; k < trials.size(); ++k) {
    if (static_cast<int>(choice.chosen.size()) >= limit ||
        choice.measure.accuracy <= target) {
      break;
    }
    const LockCandidate& c = trials[k].candidate;
    const double alone = before.accuracy - trials[k].measure.accuracy;
    // On an accuracy plateau (c alone leaves the accuracy as it was) its
    // effect is its loss increase.
    const double alone_loss = trials[k].measure.loss - before.loss;
    const bool plateau = alone == 0 && alone_loss > 0;
    if ((alone <= 0 && !plateau) || bits.count(FloatBits(c.value)) > 0) {
      continue;
    }
    Trial more = together;
    more.push_back(EditOf(ctx, c.tensor, c.index, c.value));
    OC_ASSIGN_OR_RETURN(const std::vector<SampleMeasure> m,
                        ScreenTrials(ctx, {more}));
    if (plateau) {
      if (m[0].accuracy > choice.measure.accuracy ||
          m[0].loss - choice.measure.loss < kAdditiveShare * alone_loss) {
        continue;
      }
    } else {
      // What c can still add is bounded by the way left to the target.
      const double expected =
          std::min(alone, choice.measure.accuracy - std::max(target, 0.0));
      if (choice.measure.accuracy - m[0].accuracy < kAdditiveShare * expected) {
        continue;
      }
    }
    choice.chosen.push_back(c);
    choice.measure = m[0];
    bits.insert(FloatBits(c.value));
    together = std::move(more);
  }
  return choice;
}

// Screens one trial per candidate, in the given (score) order, and returns
// the candidates tried with their measures, most harmful first (stable: equal
// trials keep their order). A candidate that alone brings the screening
// accuracy to `stop_at` or below ends the screening: the round needs no more.
absl::StatusOr<std::vector<DefaultTrial>> SortedTrials(
    const std::vector<LockCandidate>& candidates, const LockContext& ctx,
    double stop_at) {
  std::vector<DefaultTrial> trials;
  for (const LockCandidate& c : candidates) {
    OC_ASSIGN_OR_RETURN(
        const std::vector<SampleMeasure> measure,
        ScreenTrials(ctx, {{EditOf(ctx, c.tensor, c.index, c.value)}}));
    trials.push_back({c, measure[0]});
    if (measure[0].accuracy <= stop_at) break;
  }
  std::stable_sort(trials.begin(), trials.end(), HurtsMore);
  return trials;
}

// When the screening set is a subset of S: makes it up to kScreenSamples of
// the owner samples the engine's current state still classifies correctly
// (read from the kept run on S in slot 0; every k-th of them, the first one
// shifted by the round, so that rounds see different samples), and returns
// the screening accuracy that stands for `target` on S (the target's count of
// correct samples over the set's share of them). The samples already
// misclassified carry most of the loss and of its gradient once a few values
// are locked; ranking and screening on the ones left to flip keep each
// round's values aimed at those. When the set is S itself, it stays so and
// `target` is returned.
absl::StatusOr<double> ScreenOnCorrectSamples(LockContext& ctx, int round,
                                              double target) {
  if (!ctx.screen_is_subset) return target;
  OC_ASSIGN_OR_RETURN(const std::vector<Tensor> outs,
                      ctx.engine.RunAndKeep(ctx.feeds, 0));
  const std::vector<int64_t> pred = ArgmaxRows(outs[0]);
  std::vector<int64_t> correct;
  for (size_t i = 0; i < pred.size(); ++i) {
    if (pred[i] == ctx.labels[i]) correct.push_back(static_cast<int64_t>(i));
  }
  const int64_t n = static_cast<int64_t>(correct.size());
  std::vector<int64_t> rows = correct;
  if (n > kScreenSamples) {
    const int64_t stride = n / kScreenSamples;
    rows.clear();
    for (int64_t i = 0; i < kScreenSamples; ++i) {
      rows.push_back(correct[i * stride + (round - 1) % stride]);
    }
  }
  ScreenOnRows(ctx, rows);
  return std::min(1.0, target * static_cast<double>(pred.size()) /
                           static_cast<double>(std::max<int64_t>(n, 1)));
}

}  // namespace

namespace {

// The rounds; on an error `result.changes` lists every value locked so far.
absl::Status DefaultLockRounds(LockContext& ctx, SampleMeasure start,
                               LockResult& result) {
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
    // The round's screening set; the gradient pass on it keeps its forward
    // values, and every trial below re-runs only what is downstream of its
    // edits.
    OC_ASSIGN_OR_RETURN(
        const double screen_target,
        ScreenOnCorrectSamples(ctx, result.rounds, result.target_accuracy));
    OC_ASSIGN_OR_RETURN(const SampleMeasure screen_before,
                        KeepScreenValues(ctx, current));
    OC_ASSIGN_OR_RETURN(const RankResult ranked,
                        RankUnlockedValues(ctx, locked));
    if (ranked.top.empty()) {
      result.stop_reason = "budget";
      break;
    }

    std::vector<LockCandidate> candidates;
    const double floor = ranked.top[0].score * kTriedScoreFraction;
    for (const RankedValue& r : ranked.top) {
      if (r.score < floor ||
          static_cast<int>(candidates.size()) >= ctx.config.candidates) {
        break;
      }
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
      candidates.push_back(c);
    }
    if (candidates.empty()) {
      result.stop_reason = "budget";
      break;
    }
    // Screen the candidates (until one alone reaches the target) and combine
    // the most harmful on the screening set, then lock the chosen set and
    // measure it on all owner samples.
    OC_ASSIGN_OR_RETURN(const std::vector<DefaultTrial> screened,
                        SortedTrials(candidates, ctx, screen_target));
    OC_ASSIGN_OR_RETURN(
        RoundChoice choice,
        CombineTrials(
            ctx, screened, screen_before, screen_target,
            ctx.config.max_values - static_cast<int>(result.changes.size())));
    OC_ASSIGN_OR_RETURN(
        const int taken,
        LockBest(ctx, choice.chosen, result.rounds, &locked, &result.changes));
    if (taken == 0) {
      result.stop_reason = "budget";
      break;
    }
    if (ctx.screen_is_subset) {
      // Re-runs what the locked values change, in the slot the next
      // gradient pass reads: that pass then starts from these values.
      OC_ASSIGN_OR_RETURN(current, MeasureSamples(ctx));
    } else {
      // The chosen set's screening trial measured exactly this state.
      current = choice.measure;
    }
    OC_RETURN_IF_ERROR(ReportRound(ctx.config, result, current));
  }
  result.sample_accuracy_after = current.accuracy;
  result.loss_after = current.loss;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<LockResult> DefaultLock(LockContext& ctx, SampleMeasure start,
                                       LockResult result) {
  const absl::Status status = DefaultLockRounds(ctx, start, result);
  if (status.ok()) return result;
  // Put back every value this loop locked, newest first (trials restore
  // themselves), so the engine holds the original model again.
  for (auto it = result.changes.rbegin(); it != result.changes.rend(); ++it) {
    const absl::Status undo =
        SetValue(ctx.engine, it->tensor, it->index, it->original);
    if (!undo.ok()) {
      return absl::Status(
          status.code(),
          absl::StrCat(status.message(),
                       "; restoring the engine's original values also "
                       "failed: ",
                       undo.ToString()));
    }
  }
  return status;
}

}  // namespace onnx_crypt
