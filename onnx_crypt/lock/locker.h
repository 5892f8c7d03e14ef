// Locks a model held by an engine (the AdvParams method): gradient rounds on
// the owner samples, first-order scoring, a trial of each candidate, and
// in-place perturbation of a few values inside each tensor's original range.
// The fast loop (--fast) is described in default_lock.cc, the hardened loop
// (the default) in hardened_lock.cc, and the steps they share in lock_steps.h.
#ifndef ONNX_CRYPT_LOCK_LOCKER_H_
#define ONNX_CRYPT_LOCK_LOCKER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "onnx_crypt/engine/engine.h"

namespace onnx_crypt {

struct LockRound {
  int round = 0;
  int locked = 0;              // values locked so far
  double sample_accuracy = 0;  // on the owner samples, after this round
  // The mean cross-entropy on the owner samples, after this round.
  double loss = 0;
  // The same for every round of one lock: the accuracy on the owner samples
  // before it, and the target it stops at (what a progress display needs to
  // estimate how far the lock has come).
  double sample_accuracy_before = 0;
  double target_accuracy = 0;
  // Hardened lock only (-1 otherwise), after this round: the higher of the
  // accuracies with the locked values reset to 0 and to their medians; the
  // best simulated repair so far measured (-1 until the first simulation, which
  // runs once the locked and reset states are at their targets); and the
  // repair target the lock stops at. The simulated repair lags one round: it
  // runs at the start of the next.
  double reset_accuracy = -1;
  double repair_accuracy = -1;
  double repair_target = -1;
};

// How far a lock has come after round `r`, in [0, 1]. The fast lock stops
// when the sample accuracy falls to the target or when `max_values` values are
// locked, so the larger of the two shares: the values locked of the budget,
// and the accuracy lost of what there is to lose down to the target. The
// hardened lock (r.repair_target >= 0) goes on past the accuracy target until
// its reset states and then its simulated repair fall to the repair target:
// the accuracy share counts half, and the attacks' share the other half (a
// quarter for the reset states, a quarter for the simulated repair). The
// simulated repair often stalls above its target for many rounds before it
// fails, so there the estimate runs ahead.
double LockFraction(const LockRound& r, int max_values);

struct LockConfig {
  // The budget of locked values. It is a safety limit: the target (and for
  // the hardened lock, the failed simulated repair) usually stops the loop
  // first. 1024 since the hardened lock became the default: mlp_softmax needs
  // 484 values.
  int max_values = 1024;
  double target_accuracy = -1.0;  // < 0: chance (1/C) + 0.02
  uint64_t seed = 0;
  bool include_bias = false;
  // At most this many values are locked per gradient round: the candidates
  // whose effects add up when tried together (default_lock.cc,
  // hardened_lock.cc).
  int values_per_round = 4;
  // At most this many of the best first-order candidates are tried each round
  // (the default lock tries those within half of the best score).
  int candidates = 16;
  // Plus the best few of each eligible tensor, so that a small but powerful
  // tensor (a first convolution among wide fully connected layers) is always
  // tried.
  int per_tensor_candidates = 2;
  // Per-customer variants: leave out a seeded half of all positions
  // (cuda/position_hash.h), so that variants with different seeds lock
  // different positions and diffing two variants reveals nothing shared.
  bool diversify_positions = false;
  std::function<void(const LockRound&)> progress;  // called after each round
  // Called after each round, after `progress`: a non-OK status (Cancelled
  // for a user's interrupt) stops the lock with that status, and the engine's
  // values are set back as for any error. Empty: never interrupted.
  std::function<absl::Status()> interrupt;

  // The hardened lock (hardened_lock.cc), the default since the fast loop
  // (default_lock.cc, harden = false) was shown to be removed by a plain
  // saliency repair (tools/bench/results/robustness/REPORT.md). Its locked
  // values stay inside the
  // bulk of the weight distribution: below the `stealth_quantile`, over all
  // eligible values, of |w|, of the per-tensor z-score and of the per-row
  // robust z-score. They are chosen so that resetting them to 0 or to their
  // tensor's median does not restore the model. And the loop keeps locking
  // until a simulated gradient-saliency repair on the owner samples (scores
  // |g·w| and |g|, resets to 0 and to the median, k up to `repair_multiple`
  // times the locked count) leaves the accuracy at most `repair_target`. It
  // costs about three times the passes of the fast lock, plus one repair
  // simulation per round.
  bool harden = true;
  double stealth_quantile = 0.999;
  double repair_target = -1.0;  // < 0: chance + 0.05
  int repair_multiple = 10;
};

struct LockChange {
  std::string tensor;
  int64_t index = 0;
  float original = 0.0f;
  float locked = 0.0f;
  int round = 0;
};

struct LockResult {
  std::vector<LockChange> changes;    // in the order they were locked
  std::vector<std::string> eligible;  // eligible tensors, model order
  int64_t total_parameters = 0;       // elements of the eligible tensors
  int64_t num_classes = 0;
  double target_accuracy = 0;
  double sample_accuracy_before = 0, sample_accuracy_after = 0;
  double loss_before = 0, loss_after = 0;
  std::string stop_reason;  // "target" or "budget"
  int rounds = 0;
  // Hardened lock only, on the owner samples at the end: the accuracy with
  // every locked value reset to 0 / to its tensor's median, and the best
  // accuracy a simulated saliency repair reached.
  double reset_zero_accuracy = -1, reset_median_accuracy = -1;
  double repair_accuracy = -1;
  // Hardened lock only: the repair target it used (config.repair_target, or
  // chance + 0.05). A lock that stopped at the budget with repair_accuracy
  // above it (or never simulated, -1) did not reach its own robustness aim.
  double repair_target = -1;
};

// Why a finished hardened lock is not known to resist a repair, as one
// sentence for the user, or "" when there is nothing to say (the fast loop, a
// lock that stopped at its target, or one whose last simulated repair failed).
// It stopped at the budget of `max_values` values, or ran out of candidates,
// before its own simulated saliency repair fell to its target. The advice
// names the options as the caller spells them (`budget_option`, "--max-values"
// on the command line, "max_values" in Python; `quantile_option` likewise),
// so the CLI and the Python module say the same thing.
std::string RepairShortfallWarning(const LockResult& r, int max_values,
                                   std::string_view budget_option,
                                   std::string_view quantile_option);

// Locks the model held by `engine` in place: its initializers are changed.
// `samples` are the owner samples, one batch-first array per data input
// (engine/samples.h: BindSamples); `labels` are their classes, or
// empty for pseudo-labels from the model. Deterministic for the same engine
// state, samples and config. Errors: InvalidArgument for a bad config, a
// model without eligible tensors, or a first output that is not [batch,
// classes]; FailedPrecondition when the accuracy on the samples is already at
// or below the target; and whatever the engine reports. On any error, every
// value the lock changed is set back to its original bits before LockModel
// returns, so the engine holds the model it was given (unless writing back
// fails too, which the error then says).
absl::StatusOr<LockResult> LockModel(Engine& engine, const Feeds& samples,
                                     std::vector<int64_t> labels,
                                     const LockConfig& config);

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_LOCK_LOCKER_H_
