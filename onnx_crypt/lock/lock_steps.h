// The steps that the fast lock loop (default_lock.cc) and the hardened lock
// loop (hardened_lock.cc) share, and the two loops themselves. Internal to
// onnx_crypt/lock: callers use LockModel (locker.h).
//
// Both loops repeat one round until a stop condition holds:
//   rank:    score every eligible value that is not locked yet, and keep the
//            best few as candidates;
//   propose: give each candidate a locked value v drawn by the seeded
//            generator. A value is usable only if it is not its tensor's
//            minimum or maximum, not a value its tensor already holds, not the
//            bit pattern of a value locked earlier, and not the original value
//            itself (ProposeValue);
//   try:     set v in the engine, measure the owner samples, put the original
//            value back;
//   select:  lock the best tried candidates, at most `values_per_round` per
//            round and never past the `max_values` budget (LockBest);
//   stop:    "target" when the accuracy goal is met, "budget" when the budget
//            is spent or a round finds nothing to lock.
// The loops differ in how they rank, where they draw v from, how they judge a
// trial and what their target is. Everything here is deterministic for the
// same engine state, samples and config.
#ifndef ONNX_CRYPT_LOCK_LOCK_STEPS_H_
#define ONNX_CRYPT_LOCK_LOCK_STEPS_H_

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "onnx_crypt/attack/attack.h"
#include "onnx_crypt/engine/engine.h"
#include "onnx_crypt/engine/narrow_floats.h"
#include "onnx_crypt/ir/tensor.h"
#include "onnx_crypt/lock/locker.h"
#include "onnx_crypt/lock/random.h"
#include "onnx_crypt/lock/ranking.h"

namespace onnx_crypt {

// The bit pattern of a float: locked values are compared by bits, so that two
// locked values are never equal.
inline uint32_t FloatBits(float v) {
  uint32_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

// The original values of one eligible tensor: their range, the two tail
// quantiles, and what ProposeValue needs to know whether a value is among
// them. Each tail is the outer 1 % of the tensor's values (at least 2 values
// and at most 256): the values below `tail_lo` and the values above
// `tail_hi`.
//
// Membership is answered from a sorted copy of the values (`sorted`), or, for
// a tensor made with `sorted = false` (large tensors, so that the lock does not
// hold a second copy of a model's weights: issue #12), by scanning the
// engine's own tensor (`current`, whose unlocked positions still hold the
// original values) together with the originals of the locked positions
// (LockedValues). Both give the same answer.
struct TensorTails {
  std::string name;
  std::vector<float> sorted;        // the original values, ascending; or empty
  const Tensor* current = nullptr;  // the engine's tensor, when not sorted
  size_t tensor = 0;                // its index among the eligible tensors
  float min = 0, max = 0;
  float tail_lo = 0, tail_hi = 0;
  // The type the file stores the tensor in: float32, or float16 / bfloat16
  // (computed in float32: engine/narrow_floats.h), whose values a locked
  // value must be one of.
  DType storage = DType::kFloat32;
};
// `t` holds the tensor's original values. With `sorted`, the tails keep a
// sorted copy; otherwise they keep `t` itself (which must be the engine's
// tensor and outlive them) and find the quantiles without a copy. `storage`:
// TensorTails::storage.
TensorTails MakeTensorTails(const std::string& name, const Tensor& t,
                            size_t tensor, bool sorted = true,
                            DType storage = DType::kFloat32);
// Tensors are given sorted tails while the sorted copies of all eligible
// tensors so far stay within this many elements (256 MiB); the rest are
// scanned. Which form a tensor gets changes no result, only memory and time.
inline constexpr int64_t kSortedTailsBudgetElements = int64_t{64} << 20;

// A copy of some initializers' values at one moment, to write back later.
class ValueSnapshot {
 public:
  // Copies the current values of `names` (in that order) from `engine`.
  static absl::StatusOr<ValueSnapshot> Take(const Engine& engine,
                                            std::vector<std::string> names);

  const std::vector<std::string>& names() const { return names_; }
  const Tensor& tensor(size_t t) const { return tensors_[t]; }
  // Element `index` of tensor t, which must be float32 (as every eligible
  // tensor is).
  float value(size_t t, int64_t index) const {
    return tensors_[t].data<float>()[index];
  }

  // Writes the snapshot's value back at each of `positions`, whose tensors
  // must be among names().
  absl::Status Restore(Engine& engine,
                       const std::vector<ValuePosition>& positions) const;
  // Writes back every value whose bits differ from the snapshot, so that every
  // tensor in the snapshot is bit for bit as it was.
  absl::Status RestoreAll(Engine& engine) const;

 private:
  std::vector<std::string> names_;
  std::map<std::string, size_t> index_of_;  // into names_
  std::vector<Tensor> tensors_;
};

// A set of owner samples that trials are measured on, and the engine's
// kept-run slot (Engine::RunAndKeep) that holds its values.
struct SampleSet {
  Feeds feeds;
  std::vector<int64_t> labels;
  int slot = 0;
};

// The screening subset of the owner samples S (LockContext::screen): every
// k-th sample, k = |S| / kScreenSamples, so that every part of S is
// represented. It is S itself when S has at most 2 · kScreenSamples samples.
constexpr int64_t kScreenSamples = 64;

// What both loops work on. `names`, `tails` and `originals` list the eligible
// tensors in model order.
struct LockContext {
  Engine& engine;
  const LockConfig& config;
  Feeds feeds;  // the owner samples, one array per data input (samples.h)
  const std::vector<int64_t>& labels;
  OutputKind kind;
  std::vector<std::string> names;
  std::vector<TensorTails> tails;
  // Every eligible tensor before locking, for the hardened loop, which reads
  // them throughout. Empty for the fast loop, which reads the originals
  // from the engine's unlocked positions and from its own changes (so a lock
  // holds one copy of the weights: the engine's).
  ValueSnapshot originals;
  // Where trials are screened before the best are confirmed on all samples:
  // a subset of S in slot 1, or S itself in slot 0 (then with the labels
  // above and no feeds: the kept run on S is read). MakeScreenSet fills it.
  SampleSet screen;
  bool screen_is_subset = false;
};

// Fills ctx.screen from ctx.feeds and ctx.labels (see kScreenSamples).
void MakeScreenSet(LockContext& ctx);

// Makes ctx.screen the owner samples at `rows` (indices into S, in the order
// given), in slot 1. For a loop that chooses its own screening subset.
void ScreenOnRows(LockContext& ctx, const std::vector<int64_t>& rows);

// Accuracy and mean cross-entropy on the owner samples.
struct SampleMeasure {
  double accuracy = 0, loss = 0;
};
// The measure of a first graph output `out` against `labels` (as
// MeasureSamples measures it).
absl::StatusOr<SampleMeasure> MeasureOutput(const LockContext& ctx,
                                            const std::vector<int64_t>& labels,
                                            const Tensor& out);
// Runs the owner samples through the engine as it is now, keeping their
// values in slot 0 (the gradient pass's slot: it re-runs only what changed
// since, so the next gradient pass on S does not repeat this forward pass).
// A NaN or infinite loss (a saturated model) is reported as 1e300, the
// largest loss.
absl::StatusOr<SampleMeasure> MeasureSamples(const LockContext& ctx);

// The edit that sets element `index` of eligible tensor `tensor` to `value`.
InitializerEdit EditOf(const LockContext& ctx, size_t tensor, int64_t index,
                       float value);
// The measure of each trial (Engine::RunTrials) over the values the engine
// kept from its last kept run on the owner samples: what MeasureSamples would
// return with the trial's edits set, bit for bit, at the cost of re-running
// only the steps downstream of the edits.
absl::StatusOr<std::vector<SampleMeasure>> MeasureTrials(
    const LockContext& ctx, const std::vector<Trial>& trials);
// Trials over the values kept in `slot`, measured against `labels` (the
// labels of the samples that slot was run on).
absl::StatusOr<std::vector<SampleMeasure>> MeasureTrialsIn(
    const LockContext& ctx, const std::vector<Trial>& trials, int slot,
    const std::vector<int64_t>& labels);
// Runs `set` through the engine as it is now, keeps its values in `slot`, and
// returns its measure.
absl::StatusOr<SampleMeasure> KeepValues(const LockContext& ctx,
                                         const SampleSet& set, int slot);

// MeasureTrials on the screening set, whose values KeepScreenValues kept for
// the engine's current state (when the screening set is S itself, the values
// of the last kept run on S are used). KeepScreenValues returns the screening
// set's measure in that state; `current` is the measure on S, which it
// returns when the screening set is S.
absl::StatusOr<SampleMeasure> KeepScreenValues(const LockContext& ctx,
                                               const SampleMeasure& current);
absl::StatusOr<std::vector<SampleMeasure>> ScreenTrials(
    const LockContext& ctx, const std::vector<Trial>& trials);

// Sets one float value of initializer `tensor` in the engine.
absl::Status SetValue(Engine& engine, const std::string& tensor, int64_t index,
                      float value);

// The positions (tensor index, flat index) and the bit patterns locked so far.
struct LockedValues {
  std::set<std::pair<size_t, int64_t>> positions;
  std::set<uint32_t> bits;
  // The original value at each locked position (TensorTails membership).
  std::map<std::pair<size_t, int64_t>, float> originals;
  bool Holds(size_t tensor, int64_t index) const {
    return positions.count({tensor, index}) > 0;
  }
  bool BitsTaken(float v) const { return bits.count(FloatBits(v)) > 0; }
};

// Whether `v` equals (as a float) one of the original values of the tensor
// of `tails`.
bool HoldsOriginalValue(const TensorTails& tails, const LockedValues& locked,
                        float v);

// One value considered for locking in a round.
struct LockCandidate {
  size_t tensor = 0;  // index into LockContext::names
  int64_t index = 0;  // flat index into the tensor
  double score = 0;   // the loop's ranking score, higher is better
  float original = 0;
  float value = 0;  // the proposed locked value
};
// Higher score first; ties by tensor order, then flat index.
bool HigherScoreFirst(const LockCandidate& a, const LockCandidate& b);

// The fast loop's ranking: the first-order range-gain scores of
// lock/ranking.h over every eligible value that is not locked yet (and, for a
// diversified variant, not left out by PositionExcluded), with the gradient
// on the screening set ctx.screen, whose kept run it reads (call
// KeepScreenValues first when the set is a subset). It returns the best
// `candidates` overall plus the best `per_tensor_candidates` of each tensor,
// best first.
absl::StatusOr<RankResult> RankUnlockedValues(const LockContext& ctx,
                                              const LockedValues& locked);

// The propose step. It draws u ~ U[0, 1) from `rng` up to 64 times, maps each
// draw to a value with `to_value(u)` (rounded to the tensor's storage type),
// and returns the first usable value (see
// the file comment). It returns `theta` when none of the 64 draws is usable.
template <typename ToValue>
float ProposeValue(SeededGenerator& rng, const TensorTails& tails,
                   const LockedValues& locked, float theta, ToValue to_value) {
  for (int attempt = 0; attempt < 64; ++attempt) {
    const float v = RoundToStorage(to_value(rng.Uniform()), tails.storage);
    const bool is_extreme = v == tails.min || v == tails.max;
    const bool taken =
        locked.BitsTaken(v) || HoldsOriginalValue(tails, locked, v);
    if (!is_extreme && !taken && v != theta) return v;
  }
  return theta;
}

// The select step. It walks `ranked` (tried candidates, best first) and locks
// each one, in the engine and in `locked` and `changes`, until
// `values_per_round` were locked this round or `max_values` in all. A
// candidate whose value has the bits of a value locked earlier in this round
// is skipped. Returns how many values were locked.
absl::StatusOr<int> LockBest(const LockContext& ctx,
                             const std::vector<LockCandidate>& ranked,
                             int round, LockedValues* locked,
                             std::vector<LockChange>* changes);

// The stop step's budget condition: `max_values` values are locked.
inline bool BudgetSpent(const LockConfig& config,
                        const std::vector<LockChange>& changes) {
  return static_cast<int>(changes.size()) >= config.max_values;
}

// Calls the config's progress callback, if any, after round `result.rounds`,
// then its interrupt check: a non-OK status from it ends the lock.
absl::Status ReportRound(const LockConfig& config, const LockResult& result,
                         const SampleMeasure& current);

// The two loops. Each starts from the unlocked engine, whose owner-sample
// measure is `start`, and from `result` with the fields that LockModel fills
// before the loop. Each leaves the locked values in the engine. On an error
// the default loop writes back the values it locked before returning; the
// hardened loop may leave the engine half locked, and LockModel restores it
// from ctx.originals.
absl::StatusOr<LockResult> DefaultLock(LockContext& ctx, SampleMeasure start,
                                       LockResult result);
absl::StatusOr<LockResult> HardenedLock(LockContext& ctx, SampleMeasure start,
                                        LockResult result);

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_LOCK_LOCK_STEPS_H_
