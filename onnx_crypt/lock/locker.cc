// Round r of the lock:
//   1. g = dL/dθ on the owner samples S for every eligible, not yet locked
//   value θ_j.
//   2. score_j = |g_j| · (g_j > 0 ? max_t − θ_j : θ_j − min_t)   ("range gain":
//   the
//      first-order loss increase of moving θ_j to the end of its tensor's range
//      along g_j).
//   3. The `candidates` best scores (ties: tensor order, then flat index) each
//   get a proposed
//      locked value v_j drawn by the seeded generator from the outer tail of
//      the tensor's own distribution on the gradient's side (between the tail
//      quantile and the extreme, never the extreme itself), and are tried one
//      at a time with a forward pass on S.
//   4. The `values_per_round` candidates that lower the sample accuracy most
//   (then raise the
//      loss most) are locked. Stop when accuracy(S) <= target or the budget is
//      spent.
// Trying candidates costs a forward pass each but makes every locked value
// count: the first-order score alone often prefers values whose effect
// saturates.
#include "onnx_crypt/lock/locker.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/engine/evaluate.h"
#include "onnx_crypt/engine/loss.h"
#include "onnx_crypt/lock/eligibility.h"
#include "onnx_crypt/lock/random.h"

namespace onnx_crypt {

namespace {

struct TensorStats {
  std::string name;
  std::vector<float> sorted;  // original values, ascending
  float min = 0, max = 0;
  float tail_lo = 0,
        tail_hi = 0;  // tail quantiles: below tail_lo / above tail_hi
};

// Size of each tail: the outer 1 % of the tensor (at least 2 values, at most
// 256).
TensorStats MakeStats(const std::string& name, const Tensor& t) {
  TensorStats s;
  s.name = name;
  s.sorted.assign(t.data<float>(), t.data<float>() + t.numel());
  std::sort(s.sorted.begin(), s.sorted.end());
  const int64_t n = static_cast<int64_t>(s.sorted.size());
  const int64_t m = std::clamp<int64_t>(n / 100, 2, 256);
  s.min = s.sorted.front();
  s.max = s.sorted.back();
  s.tail_lo = s.sorted[std::min(m, n - 1)];
  s.tail_hi = s.sorted[std::max<int64_t>(n - 1 - m, 0)];
  return s;
}

uint32_t Bits(float v) {
  uint32_t b;
  std::memcpy(&b, &v, 4);
  return b;
}

// Seeded, position-keyed coin flip: the same (seed, tensor, index) always gives
// the same answer.
bool PositionExcluded(uint64_t seed, size_t tensor, int64_t index) {
  SeededGenerator g(seed ^ (static_cast<uint64_t>(tensor) << 48) ^
                    (static_cast<uint64_t>(index) * 0x9E3779B97F4A7C15ULL));
  return (g.Next() >> 63) != 0;
}

struct Candidate {
  size_t tensor = 0;  // index into eligible list
  int64_t index = 0;
  double score = 0;
  float value = 0;
  double accuracy = 0, loss = 0;
};

struct Measure {
  double accuracy = 0, loss = 0;
};

absl::StatusOr<Measure> MeasureSamples(Engine& engine, const std::string& input,
                                       const Tensor& x,
                                       const std::vector<int64_t>& labels,
                                       OutputKind kind) {
  Feeds feeds;
  feeds[input] = x;
  OC_ASSIGN_OR_RETURN(std::vector<Tensor> outs, engine.Run(feeds));
  OC_ASSIGN_OR_RETURN(LossAndGrad ce, CrossEntropy(outs[0], labels, kind));
  const std::vector<int64_t> pred = ArgmaxRows(outs[0]);
  int64_t correct = 0;
  for (size_t i = 0; i < pred.size(); ++i) correct += pred[i] == labels[i];
  Measure m;
  m.accuracy = static_cast<double>(correct) / labels.size();
  // A NaN/inf loss (a saturated model) ranks as the largest loss.
  m.loss = std::isfinite(ce.loss) ? ce.loss : 1e300;
  return m;
}

absl::Status SetValue(Engine& engine, const std::string& tensor, int64_t index,
                      float value) {
  return engine.SetInitializerValues(tensor, {index},
                                     Tensor::FromVector<float>({1}, {value}));
}

}  // namespace

absl::StatusOr<LockResult> LockModel(Engine& engine, const Tensor& x,
                                     std::vector<int64_t> labels,
                                     const LockConfig& config) {
  if (config.max_values < 1)
    return absl::InvalidArgumentError("--max-values must be >= 1");
  if (config.values_per_round < 1) {
    return absl::InvalidArgumentError("values per round must be >= 1");
  }
  OC_ASSIGN_OR_RETURN(const std::string input, SingleInputName(engine.graph()));
  const OutputKind kind = DetectOutputKind(engine.graph());
  LockResult result;

  // Labels: given, or the original model's own predictions.
  Feeds feeds;
  feeds[input] = x;
  OC_ASSIGN_OR_RETURN(std::vector<Tensor> outs0, engine.Run(feeds));
  if (outs0.empty() || outs0[0].rank() != 2) {
    return absl::InvalidArgumentError(
        "the first model output must be [batch, classes]");
  }
  result.num_classes = outs0[0].dim(1);
  if (labels.empty()) labels = ArgmaxRows(outs0[0]);
  result.target_accuracy =
      config.target_accuracy >= 0
          ? config.target_accuracy
          : 1.0 / static_cast<double>(result.num_classes) + 0.02;

  const std::vector<EligibleTensor> eligible =
      FindEligibleTensors(engine.graph(), config.include_bias);
  if (eligible.empty()) {
    return absl::InvalidArgumentError(
        "the model has no eligible tensors (float32 Conv/Gemm/MatMul weights)");
  }
  std::vector<TensorStats> stats;
  std::vector<std::string> names;
  for (const EligibleTensor& e : eligible) {
    OC_ASSIGN_OR_RETURN(Tensor t, engine.GetInitializer(e.name));
    stats.push_back(MakeStats(e.name, t));
    names.push_back(e.name);
    result.total_parameters += t.numel();
  }
  result.eligible = names;

  OC_ASSIGN_OR_RETURN(Measure m0,
                      MeasureSamples(engine, input, x, labels, kind));
  result.sample_accuracy_before = m0.accuracy;
  result.loss_before = m0.loss;
  if (m0.accuracy <= result.target_accuracy) {
    return absl::FailedPreconditionError(
        absl::StrCat("accuracy on the owner samples is already ", m0.accuracy,
                     ", at or below the target ", result.target_accuracy,
                     ": nothing to lock"));
  }

  SeededGenerator rng(config.seed);
  std::set<std::pair<size_t, int64_t>> locked;
  std::set<uint32_t> used_bits;  // locked values, so no two are equal
  Measure current = m0;
  while (true) {
    if (current.accuracy <= result.target_accuracy) {
      result.stop_reason = "target";
      break;
    }
    if (static_cast<int>(result.changes.size()) >= config.max_values) {
      result.stop_reason = "budget";
      break;
    }
    ++result.rounds;
    OC_ASSIGN_OR_RETURN(LossResult lr,
                        engine.LossAndGradients(feeds, labels, names));

    // First-order scores; keep the best `pool` (ties: tensor order, flat
    // index).
    const size_t pool = static_cast<size_t>(
        std::max(config.candidates, config.values_per_round));
    std::vector<Candidate> best;
    auto better = [](const Candidate& a, const Candidate& b) {
      if (a.score != b.score) return a.score > b.score;
      if (a.tensor != b.tensor) return a.tensor < b.tensor;
      return a.index < b.index;
    };
    std::vector<Tensor> weights;  // current values, fetched once per round
    for (size_t t = 0; t < names.size(); ++t) {
      OC_ASSIGN_OR_RETURN(Tensor w, engine.GetInitializer(names[t]));
      weights.push_back(std::move(w));
    }
    for (size_t t = 0; t < names.size(); ++t) {
      const Tensor& w = weights[t];
      const float* wv = w.data<float>();
      const Tensor& g = lr.grads.at(names[t]);
      const float* gv = g.data<float>();
      for (int64_t i = 0; i < w.numel(); ++i) {
        const double gi = gv[i];
        if (!(gi != 0.0) || locked.count({t, i})) continue;
        if (config.diversify_positions && PositionExcluded(config.seed, t, i))
          continue;
        const double room =
            gi > 0 ? stats[t].max - wv[i] : wv[i] - stats[t].min;
        Candidate c{t, i, std::abs(gi) * room};
        if (!(c.score > 0)) continue;
        if (best.size() < pool) {
          best.push_back(c);
          std::push_heap(best.begin(), best.end(), better);
        } else if (better(c, best.front())) {
          std::pop_heap(best.begin(), best.end(), better);
          best.back() = c;
          std::push_heap(best.begin(), best.end(), better);
        }
      }
    }
    if (best.empty()) {
      result.stop_reason = "budget";
      break;
    }
    std::sort(best.begin(), best.end(), better);

    // Proposed values from the tail on the gradient's side, then a trial
    // forward pass each.
    for (Candidate& c : best) {
      const TensorStats& s = stats[c.tensor];
      const float theta = weights[c.tensor].data<float>()[c.index];
      const bool up = lr.grads.at(names[c.tensor]).data<float>()[c.index] > 0;
      float lo = up ? std::max(s.tail_hi, theta) : s.min;
      float hi = up ? s.max : std::min(s.tail_lo, theta);
      float v = theta;
      for (int attempt = 0; attempt < 64; ++attempt) {
        const double u = rng.Uniform();
        v = static_cast<float>(lo + u * (static_cast<double>(hi) - lo));
        const bool is_extreme = v == s.min || v == s.max;
        const bool taken =
            used_bits.count(Bits(v)) ||
            std::binary_search(s.sorted.begin(), s.sorted.end(), v);
        if (!is_extreme && !taken && v != theta) break;
        v = theta;
      }
      c.value = v;
      if (v == theta) {
        c.accuracy = 2.0;  // no usable value: never chosen
        continue;
      }
      OC_RETURN_IF_ERROR(SetValue(engine, names[c.tensor], c.index, v));
      OC_ASSIGN_OR_RETURN(Measure m,
                          MeasureSamples(engine, input, x, labels, kind));
      OC_RETURN_IF_ERROR(SetValue(engine, names[c.tensor], c.index, theta));
      c.accuracy = m.accuracy;
      c.loss = m.loss;
    }
    std::stable_sort(best.begin(), best.end(),
                     [](const Candidate& a, const Candidate& b) {
                       if (a.accuracy != b.accuracy)
                         return a.accuracy < b.accuracy;
                       return a.loss > b.loss;
                     });
    int taken = 0;
    for (const Candidate& c : best) {
      if (taken >= config.values_per_round ||
          static_cast<int>(result.changes.size()) >= config.max_values) {
        break;
      }
      if (c.accuracy > 1.0 || used_bits.count(Bits(c.value))) continue;
      LockChange change{names[c.tensor], c.index,
                        weights[c.tensor].data<float>()[c.index], c.value,
                        result.rounds};
      OC_RETURN_IF_ERROR(SetValue(engine, change.tensor, c.index, c.value));
      locked.insert({c.tensor, c.index});
      used_bits.insert(Bits(c.value));
      result.changes.push_back(change);
      ++taken;
    }
    if (taken == 0) {
      result.stop_reason = "budget";
      break;
    }
    OC_ASSIGN_OR_RETURN(current,
                        MeasureSamples(engine, input, x, labels, kind));
    if (config.progress) {
      config.progress(LockRound{result.rounds,
                                static_cast<int>(result.changes.size()),
                                current.accuracy, current.loss});
    }
  }
  result.sample_accuracy_after = current.accuracy;
  result.loss_after = current.loss;
  return result;
}

}  // namespace onnx_crypt
