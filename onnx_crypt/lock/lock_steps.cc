// The shared lock steps (lock_steps.h). Nothing here decides a number on its
// own: the loops choose the scores, the value draws and the trial order, and
// these steps carry them out the same way for both.
#include "onnx_crypt/lock/lock_steps.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/engine/evaluate.h"
#include "onnx_crypt/engine/loss.h"
#include "onnx_crypt/engine/samples.h"

namespace onnx_crypt {

TensorTails MakeTensorTails(const std::string& name, const Tensor& t,
                            size_t tensor, bool sorted, DType storage) {
  TensorTails s;
  s.name = name;
  s.tensor = tensor;
  s.storage = storage;
  const int64_t n = t.numel();
  const int64_t m = std::clamp<int64_t>(n / 100, 2, 256);
  const float* v = t.data<float>();
  if (sorted) {
    s.sorted.assign(v, v + n);
    std::sort(s.sorted.begin(), s.sorted.end());
    s.min = s.sorted.front();
    s.max = s.sorted.back();
    s.tail_lo = s.sorted[std::min(m, n - 1)];
    s.tail_hi = s.sorted[std::max<int64_t>(n - 1 - m, 0)];
    return s;
  }
  s.current = &t;
  // The same order statistics without a sorted copy: the k + 1 smallest
  // (largest) values in a bounded heap give the element of rank k from the
  // bottom (top).
  const int64_t k_lo = std::min(m, n - 1);
  const int64_t k_hi = n - 1 - std::max<int64_t>(n - 1 - m, 0);
  std::vector<float> lo, hi;  // max-heap of the smallest, min-heap of largest
  const auto greater = [](float a, float b) { return a > b; };
  s.min = v[0];
  s.max = v[0];
  for (int64_t i = 0; i < n; ++i) {
    const float x = v[i];
    s.min = std::min(s.min, x);
    s.max = std::max(s.max, x);
    if (static_cast<int64_t>(lo.size()) <= k_lo) {
      lo.push_back(x);
      std::push_heap(lo.begin(), lo.end());
    } else if (x < lo.front()) {
      std::pop_heap(lo.begin(), lo.end());
      lo.back() = x;
      std::push_heap(lo.begin(), lo.end());
    }
    if (static_cast<int64_t>(hi.size()) <= k_hi) {
      hi.push_back(x);
      std::push_heap(hi.begin(), hi.end(), greater);
    } else if (x > hi.front()) {
      std::pop_heap(hi.begin(), hi.end(), greater);
      hi.back() = x;
      std::push_heap(hi.begin(), hi.end(), greater);
    }
  }
  s.tail_lo = lo.front();
  s.tail_hi = hi.front();
  return s;
}

bool HoldsOriginalValue(const TensorTails& tails, const LockedValues& locked,
                        float v) {
  if (tails.current == nullptr) {
    return std::binary_search(tails.sorted.begin(), tails.sorted.end(), v);
  }
  if (!(v >= tails.min && v <= tails.max)) return false;
  // Unlocked positions of the engine's tensor hold their original values.
  const float* w = tails.current->data<float>();
  const int64_t n = tails.current->numel();
  for (const float* p = std::find(w, w + n, v); p != w + n;
       p = std::find(p + 1, w + n, v)) {
    if (!locked.Holds(tails.tensor, p - w)) return true;
  }
  // Locked positions: their originals.
  for (auto it = locked.originals.lower_bound({tails.tensor, 0});
       it != locked.originals.end() && it->first.first == tails.tensor; ++it) {
    if (it->second == v) return true;
  }
  return false;
}

absl::StatusOr<ValueSnapshot> ValueSnapshot::Take(
    const Engine& engine, std::vector<std::string> names) {
  ValueSnapshot snapshot;
  for (const std::string& name : names) {
    OC_ASSIGN_OR_RETURN(Tensor t, engine.GetInitializer(name));
    snapshot.index_of_[name] = snapshot.tensors_.size();
    snapshot.tensors_.push_back(std::move(t));
  }
  snapshot.names_ = std::move(names);
  return snapshot;
}

absl::Status ValueSnapshot::Restore(
    Engine& engine, const std::vector<ValuePosition>& positions) const {
  for (const auto& [name, index] : positions) {
    auto it = index_of_.find(name);
    if (it == index_of_.end()) {
      return absl::InternalError(
          absl::StrCat("no snapshot of initializer '", name, "'"));
    }
    OC_RETURN_IF_ERROR(SetValue(engine, name, index, value(it->second, index)));
  }
  return absl::OkStatus();
}

absl::Status ValueSnapshot::RestoreAll(Engine& engine) const {
  for (size_t t = 0; t < names_.size(); ++t) {
    OC_ASSIGN_OR_RETURN(const Tensor now, engine.GetInitializer(names_[t]));
    const Tensor& before = tensors_[t];
    if (now.dtype() != before.dtype() || now.numel() != before.numel()) {
      return absl::InternalError(absl::StrCat("initializer '", names_[t],
                                              "' changed its type or size"));
    }
    const size_t width = DTypeSize(before.dtype());
    const uint8_t* a = now.raw();
    const uint8_t* b = before.raw();
    std::vector<int64_t> indices;
    for (int64_t i = 0; i < before.numel(); ++i) {
      if (std::memcmp(a + i * width, b + i * width, width) != 0) {
        indices.push_back(i);
      }
    }
    if (indices.empty()) continue;
    Tensor values(before.dtype(), {static_cast<int64_t>(indices.size())});
    uint8_t* out = values.mutable_raw();
    for (size_t j = 0; j < indices.size(); ++j) {
      std::memcpy(out + j * width, b + indices[j] * width, width);
    }
    OC_RETURN_IF_ERROR(engine.SetInitializerValues(names_[t], indices, values));
  }
  return absl::OkStatus();
}

absl::StatusOr<SampleMeasure> MeasureOutput(const LockContext& ctx,
                                            const std::vector<int64_t>& labels,
                                            const Tensor& out) {
  OC_ASSIGN_OR_RETURN(LossAndGrad ce, CrossEntropy(out, labels, ctx.kind));
  const std::vector<int64_t> pred = ArgmaxRows(out);
  int64_t correct = 0;
  for (size_t i = 0; i < pred.size(); ++i) correct += pred[i] == labels[i];
  SampleMeasure m;
  m.accuracy = static_cast<double>(correct) / labels.size();
  m.loss = std::isfinite(ce.loss) ? ce.loss : 1e300;
  return m;
}

absl::StatusOr<SampleMeasure> MeasureSamples(const LockContext& ctx) {
  OC_ASSIGN_OR_RETURN(std::vector<Tensor> outs,
                      ctx.engine.RunAndKeep(ctx.feeds, 0));
  return MeasureOutput(ctx, ctx.labels, outs[0]);
}

void ScreenOnRows(LockContext& ctx, const std::vector<int64_t>& rows) {
  ctx.screen.labels.clear();
  for (int64_t r : rows) ctx.screen.labels.push_back(ctx.labels[r]);
  ctx.screen.feeds = GatherSamples(ctx.feeds, rows);
  ctx.screen.slot = 1;
}

void MakeScreenSet(LockContext& ctx) {
  const int64_t n = SampleCount(ctx.feeds);
  ctx.screen_is_subset = n > 2 * kScreenSamples;
  if (!ctx.screen_is_subset) {
    // Screening reads the kept run on S in slot 0: no feeds of its own.
    ctx.screen = SampleSet{Feeds{}, ctx.labels, 0};
    return;
  }
  const int64_t stride = n / kScreenSamples;
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < kScreenSamples; ++i) rows.push_back(i * stride);
  ScreenOnRows(ctx, rows);
}

InitializerEdit EditOf(const LockContext& ctx, size_t tensor, int64_t index,
                       float value) {
  return InitializerEdit{ctx.names[tensor], index,
                         Tensor::FromVector<float>({1}, {value})};
}

absl::StatusOr<std::vector<SampleMeasure>> MeasureTrialsIn(
    const LockContext& ctx, const std::vector<Trial>& trials, int slot,
    const std::vector<int64_t>& labels) {
  std::vector<SampleMeasure> measures;
  if (trials.empty()) return measures;
  OC_ASSIGN_OR_RETURN(const std::vector<std::vector<Tensor>> outs,
                      ctx.engine.RunTrials(trials, slot));
  for (const std::vector<Tensor>& out : outs) {
    OC_ASSIGN_OR_RETURN(const SampleMeasure m,
                        MeasureOutput(ctx, labels, out[0]));
    measures.push_back(m);
  }
  return measures;
}

absl::StatusOr<std::vector<SampleMeasure>> MeasureTrials(
    const LockContext& ctx, const std::vector<Trial>& trials) {
  return MeasureTrialsIn(ctx, trials, 0, ctx.labels);
}

absl::StatusOr<SampleMeasure> KeepValues(const LockContext& ctx,
                                         const SampleSet& set, int slot) {
  OC_ASSIGN_OR_RETURN(const std::vector<Tensor> outs,
                      ctx.engine.RunAndKeep(set.feeds, slot));
  return MeasureOutput(ctx, set.labels, outs[0]);
}

absl::StatusOr<SampleMeasure> KeepScreenValues(const LockContext& ctx,
                                               const SampleMeasure& current) {
  if (!ctx.screen_is_subset) return current;
  return KeepValues(ctx, ctx.screen, ctx.screen.slot);
}

absl::StatusOr<std::vector<SampleMeasure>> ScreenTrials(
    const LockContext& ctx, const std::vector<Trial>& trials) {
  return MeasureTrialsIn(ctx, trials, ctx.screen.slot, ctx.screen.labels);
}

absl::Status SetValue(Engine& engine, const std::string& tensor, int64_t index,
                      float value) {
  return engine.SetInitializerValues(tensor, {index},
                                     Tensor::FromVector<float>({1}, {value}));
}

bool HigherScoreFirst(const LockCandidate& a, const LockCandidate& b) {
  if (a.score != b.score) return a.score > b.score;
  if (a.tensor != b.tensor) return a.tensor < b.tensor;
  return a.index < b.index;
}

// The request for the ranking module (lock/ranking.h), from the loop's state.
absl::StatusOr<RankResult> RankUnlockedValues(const LockContext& ctx,
                                              const LockedValues& locked) {
  const LockConfig& config = ctx.config;
  RankRequest request;
  for (size_t t = 0; t < ctx.names.size(); ++t) {
    request.lo.push_back(ctx.tails[t].min);
    request.hi.push_back(ctx.tails[t].max);
  }
  request.excluded.assign(ctx.names.size(), {});
  // `positions` is ordered, so each tensor's list comes out ascending.
  for (const auto& [t, i] : locked.positions) request.excluded[t].push_back(i);
  request.diversify = config.diversify_positions;
  request.diversify_seed = config.seed;
  request.k = std::max(config.candidates, config.values_per_round);
  request.k_per_param = config.per_tensor_candidates;
  // The screening set's kept run (slot 0 when the set is S itself).
  request.keep_slot = ctx.screen.slot;
  const bool all = !ctx.screen_is_subset;
  return RankByRangeGain(ctx.engine, all ? ctx.feeds : ctx.screen.feeds,
                         ctx.screen.labels, ctx.names, request);
}

absl::StatusOr<int> LockBest(const LockContext& ctx,
                             const std::vector<LockCandidate>& ranked,
                             int round, LockedValues* locked,
                             std::vector<LockChange>* changes) {
  int taken = 0;
  for (const LockCandidate& c : ranked) {
    if (taken >= ctx.config.values_per_round ||
        BudgetSpent(ctx.config, *changes)) {
      break;
    }
    if (locked->BitsTaken(c.value)) continue;
    const std::string& name = ctx.names[c.tensor];
    changes->push_back(LockChange{name, c.index, c.original, c.value, round});
    OC_RETURN_IF_ERROR(SetValue(ctx.engine, name, c.index, c.value));
    locked->positions.insert({c.tensor, c.index});
    locked->bits.insert(FloatBits(c.value));
    locked->originals[{c.tensor, c.index}] = c.original;
    ++taken;
  }
  return taken;
}

absl::Status ReportRound(const LockConfig& config, const LockResult& result,
                         const SampleMeasure& current) {
  if (config.progress) {
    config.progress(LockRound{
        result.rounds, static_cast<int>(result.changes.size()),
        current.accuracy, current.loss, result.sample_accuracy_before,
        result.target_accuracy,
        std::max(result.reset_zero_accuracy, result.reset_median_accuracy),
        result.repair_accuracy, result.repair_target});
  }
  return config.interrupt ? config.interrupt() : absl::OkStatus();
}

}  // namespace onnx_crypt
