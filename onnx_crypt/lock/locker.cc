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
#include "onnx_crypt/lock/ranking.h"

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

// ---------------------------------------------------------------- hardened
// Hardened lock (config.harden). What it defends against, and how:
//  - outlier search: a value pushed to its tensor's tail is among the largest
//    |w| of the whole model. Every locked value v_j here lies inside the bulk
//    interval [lo_j, hi_j] = [max(−M, μ_t − Z σ_t, med_r − L s_r, min_t),
//    min(M, μ_t + Z σ_t, med_r + L s_r, max_t)] where M, Z, L are the
//    `stealth_quantile` quantiles over all eligible values of |w|,
//    |w − μ_t|/σ_t and |w − med_r|/s_r (s_r = 1.4826 · MAD of the row r holding
//    w, a row being a slice of the tensor's first axis);
//  - repair by resetting salient values to 0 or to the tensor median: the
//    positions are chosen so that the model stays broken in those reset
//    states too. Each round keeps three states of the locked set — locked
//    values, zeros, tensor medians — takes gradients in each, and scores a
//    position by  |g_j| · (v̄_j − θ_j)  (locked state, v̄ three quarters of the
//    way to the bound on the gradient's side) and by
//    g⁰_j · (0 − θ_j) + gᵐ_j · (med_t − θ_j)  (reset states). The best
//    `candidates` of each score are tried in all three states; the one with
//    the lowest max(acc_locked − 0.02, acc_zero, acc_median) (then the
//    largest summed loss) is locked, at v_j = θ_j + u (bound − θ_j),
//    u ~ U[0.5, 0.95) from the seeded generator;
//  - the adaptive attacker: once the three states are at or below their
//    targets, a saliency repair (|g·w| and |g|, reset to 0 and to the median,
//    k = N, 2N, 5N and repair_multiple·N for N locked values) is simulated on
//    the owner samples; locking goes on while it recovers more than
//    `repair_target`.
namespace {

struct BulkStats {
  double mean = 0, sd = 0;
  int64_t row_len = 1;
  std::vector<float> row_median, row_spread;  // per row: median, 1.4826 MAD
  float median = 0;                           // the whole tensor's
};

float MedianOf(std::vector<float> v) {
  if (v.empty()) return 0.0f;
  const size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + mid, v.end());
  if (v.size() % 2) return v[mid];
  const float hi = v[mid];
  const float lo = *std::max_element(v.begin(), v.begin() + mid);
  return static_cast<float>((static_cast<double>(lo) + hi) / 2);
}

BulkStats MakeBulkStats(const Tensor& t) {
  BulkStats b;
  const int64_t n = t.numel();
  const float* w = t.data<float>();
  for (int64_t i = 0; i < n; ++i) b.mean += w[i];
  b.mean /= std::max<int64_t>(1, n);
  for (int64_t i = 0; i < n; ++i) b.sd += (w[i] - b.mean) * (w[i] - b.mean);
  b.sd = std::sqrt(b.sd / std::max<int64_t>(1, n));
  const int64_t rows = t.rank() >= 2 ? t.dim(0) : 1;
  b.row_len = n / std::max<int64_t>(1, rows);
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<float> row(w + r * b.row_len, w + (r + 1) * b.row_len);
    const float med = MedianOf(row);
    for (float& a : row) a = std::abs(a - med);
    b.row_median.push_back(med);
    b.row_spread.push_back(static_cast<float>(1.4826 * MedianOf(row)));
  }
  b.median = MedianOf(std::vector<float>(w, w + n));
  return b;
}

struct BulkLimits {
  double magnitude = 0, z = 0, local = 0;
};

double Quantile(std::vector<float>& v, double q) {
  if (v.empty()) return 0;
  const size_t k = std::min(v.size() - 1, static_cast<size_t>(q * v.size()));
  std::nth_element(v.begin(), v.begin() + k, v.end());
  return v[k];
}

BulkLimits MakeBulkLimits(const std::vector<Tensor>& ws,
                          const std::vector<BulkStats>& bs, double q) {
  std::vector<float> mag, z, local;
  for (size_t t = 0; t < ws.size(); ++t) {
    const float* w = ws[t].data<float>();
    for (int64_t i = 0; i < ws[t].numel(); ++i) {
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

// The bulk interval of value i of a tensor (see above).
std::pair<double, double> BulkInterval(const BulkStats& b, const TensorStats& s,
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

// The simulated saliency repair on the owner samples (engine in the locked
// state, left in it): the best accuracy over scores, resets and k.
absl::StatusOr<double> SimulateRepair(
    Engine& engine, const std::string& input, const Feeds& feeds,
    const Tensor& x, const std::vector<int64_t>& labels, OutputKind kind,
    const std::vector<std::string>& names,
    const std::map<std::string, float>& medians, int locked, int multiple) {
  OC_ASSIGN_OR_RETURN(LossResult lr,
                      engine.LossAndGradients(feeds, labels, names));
  std::vector<Tensor> ws;
  for (const std::string& n : names) {
    OC_ASSIGN_OR_RETURN(Tensor w, engine.GetInitializer(n));
    ws.push_back(std::move(w));
  }
  std::vector<int> ks = {locked, 2 * locked, 5 * locked, multiple * locked};
  const size_t kmax =
      static_cast<size_t>(*std::max_element(ks.begin(), ks.end()));
  double best = 0;
  for (int score = 0; score < 2; ++score) {
    std::vector<Candidate> all;
    for (size_t t = 0; t < names.size(); ++t) {
      const float* w = ws[t].data<float>();
      const float* g = lr.grads.at(names[t]).data<float>();
      for (int64_t i = 0; i < ws[t].numel(); ++i) {
        const double s = score == 0 ? std::abs(static_cast<double>(g[i]) * w[i])
                                    : std::abs(static_cast<double>(g[i]));
        all.push_back(Candidate{t, i, s});
      }
    }
    const size_t top = std::min(kmax, all.size());
    std::partial_sort(all.begin(), all.begin() + top, all.end(),
                      [](const Candidate& a, const Candidate& b) {
                        if (a.score != b.score) return a.score > b.score;
                        if (a.tensor != b.tensor) return a.tensor < b.tensor;
                        return a.index < b.index;
                      });
    for (int reset = 0; reset < 2; ++reset) {
      for (int k : ks) {
        const size_t kk = std::min(top, static_cast<size_t>(k));
        for (size_t j = 0; j < kk; ++j) {
          const float v = reset == 0 ? 0.0f : medians.at(names[all[j].tensor]);
          OC_RETURN_IF_ERROR(
              SetValue(engine, names[all[j].tensor], all[j].index, v));
        }
        OC_ASSIGN_OR_RETURN(Measure m,
                            MeasureSamples(engine, input, x, labels, kind));
        best = std::max(best, m.accuracy);
        for (size_t j = 0; j < kk; ++j) {
          OC_RETURN_IF_ERROR(
              SetValue(engine, names[all[j].tensor], all[j].index,
                       ws[all[j].tensor].data<float>()[all[j].index]));
        }
      }
    }
  }
  return best;
}

absl::StatusOr<LockResult> HardenedLoop(
    Engine& engine, const std::string& input, const Feeds& feeds,
    const Tensor& x, const std::vector<int64_t>& labels, OutputKind kind,
    const LockConfig& config, const std::vector<std::string>& names,
    const std::vector<TensorStats>& stats, Measure current, LockResult result) {
  const double reset_target = config.repair_target >= 0
                                  ? config.repair_target
                                  : 1.0 / result.num_classes + 0.05;
  std::vector<Tensor> originals;
  std::vector<BulkStats> bulk;
  std::map<std::string, float> medians;
  for (const std::string& n : names) {
    OC_ASSIGN_OR_RETURN(Tensor t, engine.GetInitializer(n));
    bulk.push_back(MakeBulkStats(t));
    medians[n] = bulk.back().median;
    originals.push_back(std::move(t));
  }
  const BulkLimits limits =
      MakeBulkLimits(originals, bulk, config.stealth_quantile);

  SeededGenerator rng(config.seed);
  std::set<std::pair<size_t, int64_t>> locked;
  std::set<uint32_t> used_bits;
  std::vector<LockChange>& changes = result.changes;
  Measure zero = current, median = current;
  auto measure = [&]() -> absl::StatusOr<Measure> {
    return MeasureSamples(engine, input, x, labels, kind);
  };
  auto key = [](const Measure& a, const Measure& z, const Measure& m) {
    return std::make_pair(std::max({a.accuracy - 0.02, z.accuracy, m.accuracy}),
                          -(a.loss + z.loss + m.loss));
  };
  while (true) {
    const bool base_met = current.accuracy <= result.target_accuracy &&
                          zero.accuracy <= reset_target &&
                          median.accuracy <= reset_target;
    if (base_met) {
      OC_ASSIGN_OR_RETURN(
          result.repair_accuracy,
          SimulateRepair(engine, input, feeds, x, labels, kind, names, medians,
                         static_cast<int>(changes.size()),
                         config.repair_multiple));
      if (result.repair_accuracy <= reset_target) {
        result.stop_reason = "target";
        break;
      }
    }
    if (static_cast<int>(changes.size()) >= config.max_values) {
      result.stop_reason = "budget";
      break;
    }
    ++result.rounds;
    // Gradients in the three states (the same state while nothing is locked).
    OC_ASSIGN_OR_RETURN(LossResult g_lock,
                        engine.LossAndGradients(feeds, labels, names));
    LossResult g_zero, g_median;
    if (!changes.empty()) {
      OC_RETURN_IF_ERROR(
          ApplyState(engine, changes, medians, LockState::kZero));
      OC_ASSIGN_OR_RETURN(g_zero,
                          engine.LossAndGradients(feeds, labels, names));
      OC_RETURN_IF_ERROR(
          ApplyState(engine, changes, medians, LockState::kMedian));
      OC_ASSIGN_OR_RETURN(g_median,
                          engine.LossAndGradients(feeds, labels, names));
      OC_RETURN_IF_ERROR(
          ApplyState(engine, changes, medians, LockState::kLocked));
    }
    const LossResult& gz = changes.empty() ? g_lock : g_zero;
    const LossResult& gm = changes.empty() ? g_lock : g_median;

    const size_t pool = static_cast<size_t>(
        std::max(config.candidates, config.values_per_round));
    auto better = [](const Candidate& a, const Candidate& b) {
      if (a.score != b.score) return a.score > b.score;
      if (a.tensor != b.tensor) return a.tensor < b.tensor;
      return a.index < b.index;
    };
    std::vector<Candidate> by_lock, by_reset;
    auto offer = [&](std::vector<Candidate>& heap, const Candidate& c) {
      if (heap.size() < pool) {
        heap.push_back(c);
        std::push_heap(heap.begin(), heap.end(), better);
      } else if (better(c, heap.front())) {
        std::pop_heap(heap.begin(), heap.end(), better);
        heap.back() = c;
        std::push_heap(heap.begin(), heap.end(), better);
      }
    };
    for (size_t t = 0; t < names.size(); ++t) {
      const float* w = originals[t].data<float>();
      const float* g = g_lock.grads.at(names[t]).data<float>();
      const float* g0 = gz.grads.at(names[t]).data<float>();
      const float* g1 = gm.grads.at(names[t]).data<float>();
      const double med = medians[names[t]];
      for (int64_t i = 0; i < originals[t].numel(); ++i) {
        if (!(g[i] != 0.0f) || locked.count({t, i})) continue;
        if (config.diversify_positions && PositionExcluded(config.seed, t, i))
          continue;
        const auto [lo, hi] = BulkInterval(bulk[t], stats[t], limits, i);
        const double room = g[i] > 0 ? hi - w[i] : w[i] - lo;
        if (!(room > 0)) continue;
        const Candidate a{t, i,
                          std::abs(static_cast<double>(g[i])) * 0.75 * room};
        offer(by_lock, a);
        const double reset_gain = static_cast<double>(g0[i]) * (0.0 - w[i]) +
                                  static_cast<double>(g1[i]) * (med - w[i]);
        if (reset_gain > 0) offer(by_reset, Candidate{t, i, reset_gain});
      }
    }
    std::vector<Candidate> trials = by_lock;
    for (const Candidate& c : by_reset) {
      bool dup = false;
      for (const Candidate& d : by_lock)
        dup |= d.tensor == c.tensor && d.index == c.index;
      if (!dup) trials.push_back(c);
    }
    if (trials.empty()) {
      result.stop_reason = "budget";
      break;
    }
    std::sort(trials.begin(), trials.end(), better);

    struct Trial {
      Candidate c;
      std::pair<double, double> key;
    };
    std::vector<Trial> tried;
    for (Candidate& c : trials) {
      const float theta = originals[c.tensor].data<float>()[c.index];
      const bool up =
          g_lock.grads.at(names[c.tensor]).data<float>()[c.index] > 0;
      const auto [lo, hi] =
          BulkInterval(bulk[c.tensor], stats[c.tensor], limits, c.index);
      const TensorStats& s = stats[c.tensor];
      float v = theta;
      for (int attempt = 0; attempt < 64; ++attempt) {
        const double u = 0.5 + 0.45 * rng.Uniform();
        v = static_cast<float>(up ? theta + u * (hi - theta)
                                  : theta - u * (theta - lo));
        const bool taken =
            used_bits.count(Bits(v)) ||
            std::binary_search(s.sorted.begin(), s.sorted.end(), v);
        if (v != s.min && v != s.max && !taken && v != theta) break;
        v = theta;
      }
      if (v == theta) continue;
      c.value = v;
      const std::string& name = names[c.tensor];
      OC_RETURN_IF_ERROR(SetValue(engine, name, c.index, v));
      OC_ASSIGN_OR_RETURN(Measure ml, measure());
      OC_RETURN_IF_ERROR(
          ApplyState(engine, changes, medians, LockState::kZero));
      OC_RETURN_IF_ERROR(SetValue(engine, name, c.index, 0.0f));
      OC_ASSIGN_OR_RETURN(Measure mz, measure());
      OC_RETURN_IF_ERROR(
          ApplyState(engine, changes, medians, LockState::kMedian));
      OC_RETURN_IF_ERROR(SetValue(engine, name, c.index, medians[name]));
      OC_ASSIGN_OR_RETURN(Measure mm, measure());
      OC_RETURN_IF_ERROR(
          ApplyState(engine, changes, medians, LockState::kLocked));
      OC_RETURN_IF_ERROR(SetValue(engine, name, c.index, theta));
      tried.push_back({c, key(ml, mz, mm)});
    }
    std::stable_sort(
        tried.begin(), tried.end(),
        [](const Trial& a, const Trial& b) { return a.key < b.key; });
    int taken = 0;
    for (const Trial& t : tried) {
      if (taken >= config.values_per_round ||
          static_cast<int>(changes.size()) >= config.max_values) {
        break;
      }
      if (used_bits.count(Bits(t.c.value))) continue;
      const std::string& name = names[t.c.tensor];
      changes.push_back(LockChange{
          name, t.c.index, originals[t.c.tensor].data<float>()[t.c.index],
          t.c.value, result.rounds});
      OC_RETURN_IF_ERROR(SetValue(engine, name, t.c.index, t.c.value));
      locked.insert({t.c.tensor, t.c.index});
      used_bits.insert(Bits(t.c.value));
      ++taken;
    }
    if (taken == 0) {
      result.stop_reason = "budget";
      break;
    }
    OC_RETURN_IF_ERROR(ApplyState(engine, changes, medians, LockState::kZero));
    OC_ASSIGN_OR_RETURN(zero, measure());
    OC_RETURN_IF_ERROR(
        ApplyState(engine, changes, medians, LockState::kMedian));
    OC_ASSIGN_OR_RETURN(median, measure());
    OC_RETURN_IF_ERROR(
        ApplyState(engine, changes, medians, LockState::kLocked));
    OC_ASSIGN_OR_RETURN(current, measure());
    if (config.progress) {
      config.progress(LockRound{result.rounds, static_cast<int>(changes.size()),
                                current.accuracy, current.loss});
    }
  }
  result.sample_accuracy_after = current.accuracy;
  result.loss_after = current.loss;
  result.reset_zero_accuracy = zero.accuracy;
  result.reset_median_accuracy = median.accuracy;
  return result;
}

}  // namespace

absl::StatusOr<LockResult> LockModel(Engine& engine, const Tensor& x,
                                     std::vector<int64_t> labels,
                                     const LockConfig& config) {
  if (config.max_values < 1)
    return absl::InvalidArgumentError("--max-values must be >= 1");
  if (config.harden &&
      !(config.stealth_quantile > 0.0 && config.stealth_quantile <= 1.0)) {
    return absl::InvalidArgumentError("stealth quantile must be in (0, 1]");
  }
  if (config.harden && config.repair_multiple < 1) {
    return absl::InvalidArgumentError("repair multiple must be >= 1");
  }
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

  if (config.harden) {
    return HardenedLoop(engine, input, feeds, x, labels, kind, config, names,
                        stats, m0, std::move(result));
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
    // First-order scores, ranked by the engine where the gradients are (on the
    // device for CUDA): the best `candidates` overall plus the best
    // `per_tensor_candidates` of each tensor (ties: tensor order, flat index).
    RankRequest request;
    for (size_t t = 0; t < names.size(); ++t) {
      request.lo.push_back(stats[t].min);
      request.hi.push_back(stats[t].max);
    }
    request.excluded.assign(names.size(), {});
    for (const auto& [t, i] : locked)
      request.excluded[t].push_back(i);  // sorted
    request.diversify = config.diversify_positions;
    request.diversify_seed = config.seed;
    request.k = std::max(config.candidates, config.values_per_round);
    request.k_per_param = config.per_tensor_candidates;
    OC_ASSIGN_OR_RETURN(RankResult ranked,
                        RankByRangeGain(engine, feeds, labels, names, request));
    std::vector<Candidate> best;
    std::map<std::pair<size_t, int64_t>, RankedValue> info;
    for (const RankedValue& r : ranked.top) {
      Candidate c;
      c.tensor = static_cast<size_t>(r.param);
      c.index = r.index;
      c.score = r.score;
      best.push_back(c);
      info[{c.tensor, c.index}] = r;
    }
    if (best.empty()) {
      result.stop_reason = "budget";
      break;
    }

    // Proposed values from the tail on the gradient's side, then a trial
    // forward pass each.
    for (Candidate& c : best) {
      const TensorStats& s = stats[c.tensor];
      const RankedValue& r = info.at({c.tensor, c.index});
      const float theta = r.weight;
      const bool up = r.grad > 0;
      const float lo = up ? std::max(s.tail_hi, theta) : s.min;
      const float hi = up ? s.max : std::min(s.tail_lo, theta);
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
                        info.at({c.tensor, c.index}).weight, c.value,
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
