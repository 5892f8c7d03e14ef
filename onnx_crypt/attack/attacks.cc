// Engine-level attacks (attack.h). The formulas:
//   prune:    zero the m = floor(p · N) values of smallest |w| over all
//             tensors together;
//   clip:     w ← clamp(w, −c_t, c_t), where c_t is the ⌈q/100 · n⌉-th
//             smallest |w| of tensor t (n values);
//   repair:   s_j = |g_j · w_j| or |g_j|, where g = dL/dw is averaged over
//             batches (weighted by batch size), or taken from one pass over
//             all samples; the k best s_j are reset;
//   finetune: Adam  m ← β1 m + (1−β1) g, v ← β2 v + (1−β2) g²,
//                   w ← w − lr · (m / (1−β1^t)) / (√(v / (1−β2^t)) + ε);
//             SGD   u ← μ u + g, w ← w − lr · u;
//   outliers: see attack.h.
// Every ranking breaks ties by (tensor order, flat index), so results do not
// depend on the sort implementation.
#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <set>

#include "absl/strings/str_cat.h"
#include "onnx_crypt/attack/attack.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/engine/evaluate.h"
#include "onnx_crypt/engine/samples.h"
#include "onnx_crypt/lock/eligibility.h"
#include "onnx_crypt/lock/random.h"
#include "onnx_crypt/lock/ranking.h"

namespace onnx_crypt {

namespace {

// A value's place in the concatenation of the attacked tensors.
struct Ranked {
  double score;
  size_t tensor;
  int64_t index;
};
// Higher score first; ties by tensor order, then index.
bool HigherFirst(const Ranked& a, const Ranked& b) {
  if (a.score != b.score) return a.score > b.score;
  if (a.tensor != b.tensor) return a.tensor < b.tensor;
  return a.index < b.index;
}

absl::StatusOr<std::vector<Tensor>> FetchFloat(
    Engine& engine, const std::vector<std::string>& tensors) {
  std::vector<Tensor> out;
  for (const std::string& name : tensors) {
    OC_ASSIGN_OR_RETURN(Tensor t, engine.GetInitializer(name));
    if (t.dtype() != DType::kFloat32) {
      return absl::InvalidArgumentError(
          absl::StrCat("attack: tensor '", name, "' is not float32"));
    }
    out.push_back(std::move(t));
  }
  return out;
}

absl::Status StoreWhole(Engine& engine, const std::string& name,
                        const Tensor& t) {
  std::vector<int64_t> all(static_cast<size_t>(t.numel()));
  std::iota(all.begin(), all.end(), 0);
  return engine.SetInitializerValues(name, all, t);
}

absl::Status CheckLabels(const Feeds& x, const std::vector<int64_t>& labels) {
  if (SampleCount(x) != static_cast<int64_t>(labels.size()) || labels.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "attack: ", labels.size(), " labels for ", SampleCount(x), " samples"));
  }
  return absl::OkStatus();
}

// Mean loss gradient over all samples, accumulated batch by batch; or, with
// `single_pass`, the engine's gradients of one pass over all samples.
absl::StatusOr<std::vector<std::vector<double>>> MeanGradients(
    Engine& engine, const std::vector<std::string>& tensors, const Feeds& x,
    const std::vector<int64_t>& labels, int64_t batch_size, bool single_pass) {
  std::vector<std::vector<double>> sum(tensors.size());
  if (single_pass) {
    OC_ASSIGN_OR_RETURN(LossResult lr,
                        engine.LossAndGradients(x, labels, tensors));
    for (size_t t = 0; t < tensors.size(); ++t) {
      const absl::Span<const float> g = lr.grads.at(tensors[t]).span<float>();
      sum[t].assign(g.begin(), g.end());
    }
    return sum;
  }
  const int64_t n = SampleCount(x);
  for (int64_t b = 0; b < n; b += batch_size) {
    const int64_t e = std::min(n, b + batch_size);
    const Feeds feeds = SliceSamples(x, b, e);
    OC_ASSIGN_OR_RETURN(
        LossResult lr,
        engine.LossAndGradients(
            feeds, absl::MakeConstSpan(labels).subspan(b, e - b), tensors));
    for (size_t t = 0; t < tensors.size(); ++t) {
      const Tensor& g = lr.grads.at(tensors[t]);
      if (sum[t].empty()) sum[t].assign(static_cast<size_t>(g.numel()), 0.0);
      const float* gv = g.data<float>();
      for (int64_t i = 0; i < g.numel(); ++i) sum[t][i] += gv[i] * (e - b);
    }
  }
  for (auto& s : sum)
    for (double& v : s) v /= static_cast<double>(n);
  return sum;
}

// The node reading `name` and at which input, for fan-in.
const Node* ConsumerOf(const Graph& graph, const std::string& name,
                       size_t* input) {
  for (const Node& node : graph.nodes) {
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      if (node.inputs[i] == name) {
        *input = i;
        return &node;
      }
    }
  }
  return nullptr;
}

// Fan-in of a weight tensor as PyTorch computes it for the layer that owns it.
int64_t FanIn(const Graph& graph, const Node& node, size_t input) {
  auto weight_shape = [&](size_t i) -> Shape {
    if (i >= node.inputs.size()) return {};
    auto it = graph.initializers.find(node.inputs[i]);
    return it == graph.initializers.end() ? Shape{} : it->second.shape();
  };
  if (node.op_type == "Conv" || node.op_type == "ConvTranspose") {
    const Shape w = weight_shape(1);
    if (w.size() < 2) return 1;
    int64_t fan = node.op_type == "Conv" ? w[1] : w[0];
    for (size_t d = 2; d < w.size(); ++d) fan *= w[d];
    if (node.op_type == "ConvTranspose")
      fan = fan / std::max<int64_t>(1, w[0]) * w[1];
    return std::max<int64_t>(1, fan);
  }
  if (node.op_type == "Gemm") {
    // Input 0 is [M, K] (or [K, M] with transA): K is the fan-in.
    const size_t w_input = (input == 2) ? 1 : input;
    const Shape w = weight_shape(w_input);
    if (w.size() != 2) return 1;
    const bool trans = w_input == 1 ? node.GetInt("transB", 0) != 0
                                    : node.GetInt("transA", 0) == 0;
    return std::max<int64_t>(1, trans ? w[1] : w[0]);
  }
  if (node.op_type == "MatMul") {
    const Shape w = weight_shape(input);
    if (w.size() < 2) return 1;
    return std::max<int64_t>(1, input == 1 ? w[w.size() - 2] : w.back());
  }
  return 1;
}

}  // namespace

float Median(std::vector<float> v) {
  if (v.empty()) return 0.0f;
  const size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + mid, v.end());
  if (v.size() % 2) return v[mid];
  const float hi = v[mid];
  const float lo = *std::max_element(v.begin(), v.begin() + mid);
  return static_cast<float>((static_cast<double>(lo) + hi) / 2);
}

DistributionStats MakeDistributionStats(const Tensor& t) {
  DistributionStats d;
  const int64_t n = t.numel();
  const float* w = t.data<float>();
  for (int64_t i = 0; i < n; ++i) d.mean += w[i];
  d.mean /= std::max<int64_t>(1, n);
  double sq = 0;
  for (int64_t i = 0; i < n; ++i) sq += (w[i] - d.mean) * (w[i] - d.mean);
  d.sd = std::sqrt(sq / std::max<int64_t>(1, n));
  d.rows = t.rank() >= 2 ? t.dim(0) : 1;
  d.row_len = n / std::max<int64_t>(1, d.rows);
  for (int64_t r = 0; r < d.rows; ++r) {
    std::vector<float> row(w + r * d.row_len, w + (r + 1) * d.row_len);
    const float med = Median(row);
    for (float& a : row) a = std::abs(a - med);
    d.row_median.push_back(med);
    d.row_spread.push_back(1.4826 * Median(row));
  }
  return d;
}

std::vector<std::string> AttackTensors(const Graph& graph, bool include_bias) {
  std::vector<std::string> out;
  for (const EligibleTensor& e : FindEligibleTensors(graph, include_bias))
    out.push_back(e.name);
  return out;
}

absl::StatusOr<double> Accuracy(Engine& engine, const Feeds& x,
                                const std::vector<int64_t>& labels,
                                int64_t batch_size) {
  OC_RETURN_IF_ERROR(CheckLabels(x, labels));
  OC_ASSIGN_OR_RETURN(EvalStats stats,
                      EvaluateDataset(engine, x, labels, batch_size));
  return stats.accuracy();
}

absl::StatusOr<int64_t> PruneGlobal(Engine& engine,
                                    const std::vector<std::string>& tensors,
                                    double fraction) {
  if (!(fraction >= 0.0 && fraction <= 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("prune: fraction ", fraction, " is not in [0, 1]"));
  }
  OC_ASSIGN_OR_RETURN(std::vector<Tensor> ws, FetchFloat(engine, tensors));
  int64_t total = 0;
  for (const Tensor& w : ws) total += w.numel();
  const int64_t m = static_cast<int64_t>(std::floor(fraction * total + 1e-9));
  if (m == 0) return 0;
  // The m-th smallest |w| is the threshold; values equal to it are taken in
  // (tensor, index) order until m are zeroed.
  std::vector<float> mags;
  mags.reserve(static_cast<size_t>(total));
  for (const Tensor& w : ws)
    for (float v : w.span<float>()) mags.push_back(std::abs(v));
  std::nth_element(mags.begin(), mags.begin() + (m - 1), mags.end());
  const float threshold = mags[m - 1];
  int64_t below = 0;
  for (const Tensor& w : ws)
    for (float v : w.span<float>()) below += std::abs(v) < threshold;
  int64_t ties_left = m - below;
  for (size_t t = 0; t < ws.size(); ++t) {
    float* v = ws[t].mutable_data<float>();
    for (int64_t i = 0; i < ws[t].numel(); ++i) {
      const float a = std::abs(v[i]);
      if (a < threshold) {
        v[i] = 0.0f;
      } else if (a == threshold && ties_left > 0) {
        v[i] = 0.0f;
        --ties_left;
      }
    }
    OC_RETURN_IF_ERROR(StoreWhole(engine, tensors[t], ws[t]));
  }
  return m;
}

absl::StatusOr<int64_t> ClipTensors(Engine& engine,
                                    const std::vector<std::string>& tensors,
                                    double percentile) {
  if (!(percentile >= 0.0 && percentile <= 100.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("clip: percentile ", percentile, " is not in [0, 100]"));
  }
  OC_ASSIGN_OR_RETURN(std::vector<Tensor> ws, FetchFloat(engine, tensors));
  int64_t changed = 0;
  for (size_t t = 0; t < ws.size(); ++t) {
    const int64_t n = ws[t].numel();
    if (n == 0) continue;
    std::vector<float> mags;
    for (float v : ws[t].span<float>()) mags.push_back(std::abs(v));
    const int64_t rank = std::clamp<int64_t>(
        static_cast<int64_t>(std::ceil(percentile / 100.0 * n - 1e-9)) - 1, 0,
        n - 1);
    std::nth_element(mags.begin(), mags.begin() + rank, mags.end());
    const float c = mags[rank];
    int64_t here = 0;
    for (float& v : ws[t].mutable_span<float>()) {
      const float clipped = std::clamp(v, -c, c);
      if (clipped != v) {
        v = clipped;
        ++here;
      }
    }
    if (here) OC_RETURN_IF_ERROR(StoreWhole(engine, tensors[t], ws[t]));
    changed += here;
  }
  return changed;
}

absl::StatusOr<std::vector<ValuePosition>> RankBySaliency(
    Engine& engine, const std::vector<std::string>& tensors, const Feeds& x,
    const std::vector<int64_t>& labels, const RepairOptions& options) {
  if (options.k < 0)
    return absl::InvalidArgumentError("repair: k must be >= 0");
  if (options.batch_size < 1)
    return absl::InvalidArgumentError("repair: batch size must be >= 1");
  OC_RETURN_IF_ERROR(CheckLabels(x, labels));
  std::vector<ValuePosition> ranked;
  if (options.k == 0) return ranked;
  OC_ASSIGN_OR_RETURN(std::vector<Tensor> ws, FetchFloat(engine, tensors));
  OC_ASSIGN_OR_RETURN(std::vector<std::vector<double>> g,
                      MeanGradients(engine, tensors, x, labels,
                                    options.batch_size, options.single_pass));
  return RankSaliency(tensors, ws, g, options);
}

std::vector<ValuePosition> RankSaliency(
    const std::vector<std::string>& tensors, const std::vector<Tensor>& weights,
    const std::vector<std::vector<double>>& grads,
    const RepairOptions& options) {
  std::vector<Ranked> all;
  for (size_t t = 0; t < weights.size(); ++t) {
    const float* w = weights[t].data<float>();
    const std::vector<double>& g = grads[t];
    for (int64_t i = 0; i < weights[t].numel(); ++i) {
      const double s = options.score == SaliencyScore::kGrad
                           ? std::abs(g[i])
                           : std::abs(g[i] * w[i]);
      all.push_back({s, t, i});
    }
  }
  all = SelectTopK(std::move(all), static_cast<size_t>(options.k), HigherFirst);
  std::vector<ValuePosition> ranked;
  for (const Ranked& r : all) ranked.emplace_back(tensors[r.tensor], r.index);
  return ranked;
}

absl::Status ResetPositions(Engine& engine,
                            const std::vector<ValuePosition>& positions,
                            const RepairOptions& options) {
  std::map<std::string, std::vector<int64_t>> by_tensor;
  for (const auto& [name, index] : positions) by_tensor[name].push_back(index);
  for (const auto& [name, indices] : by_tensor) {
    float value = 0.0f;
    if (options.reset == ResetValue::kMedian) {
      auto given = options.medians.find(name);
      if (given != options.medians.end()) {
        value = given->second;
      } else {
        OC_ASSIGN_OR_RETURN(std::vector<Tensor> w, FetchFloat(engine, {name}));
        value = Median(std::vector<float>(w[0].data<float>(),
                                          w[0].data<float>() + w[0].numel()));
      }
    }
    OC_RETURN_IF_ERROR(engine.SetInitializerValues(
        name, indices,
        Tensor::FromVector<float>({static_cast<int64_t>(indices.size())},
                                  std::vector<float>(indices.size(), value))));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ValuePosition>> Repair(
    Engine& engine, const std::vector<std::string>& tensors, const Feeds& x,
    const std::vector<int64_t>& labels, const RepairOptions& options) {
  OC_ASSIGN_OR_RETURN(std::vector<ValuePosition> reset,
                      RankBySaliency(engine, tensors, x, labels, options));
  OC_RETURN_IF_ERROR(ResetPositions(engine, reset, options));
  return reset;
}

absl::StatusOr<std::vector<double>> FineTune(
    Engine& engine, const std::vector<std::string>& tensors, const Feeds& x,
    const std::vector<int64_t>& labels, const FineTuneOptions& options) {
  if (options.epochs < 0 || options.batch_size < 1 || !(options.lr >= 0)) {
    return absl::InvalidArgumentError(
        "finetune: epochs >= 0, batch size >= 1 and lr >= 0 are required");
  }
  OC_RETURN_IF_ERROR(CheckLabels(x, labels));
  OC_ASSIGN_OR_RETURN(std::vector<Tensor> ws, FetchFloat(engine, tensors));
  std::vector<std::vector<float>> m(ws.size()), v(ws.size());
  for (size_t t = 0; t < ws.size(); ++t) {
    m[t].assign(static_cast<size_t>(ws[t].numel()), 0.0f);
    v[t].assign(static_cast<size_t>(ws[t].numel()), 0.0f);
  }
  constexpr double kBeta1 = 0.9, kBeta2 = 0.999, kEps = 1e-8;
  SeededGenerator rng(options.seed);
  const int64_t n = SampleCount(x);
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::vector<double> epoch_loss;
  int64_t step = 0;
  for (int epoch = 0; epoch < options.epochs; ++epoch) {
    for (int64_t i = n - 1; i > 0; --i) {  // Fisher-Yates
      const int64_t j = static_cast<int64_t>(rng.Next() % (i + 1));
      std::swap(order[i], order[j]);
    }
    double loss_sum = 0;
    for (int64_t b = 0; b < n; b += options.batch_size) {
      const int64_t e = std::min(n, b + options.batch_size);
      std::vector<int64_t> rows(order.begin() + b, order.begin() + e);
      std::vector<int64_t> y;
      for (int64_t r : rows) y.push_back(labels[r]);
      const Feeds feeds = GatherSamples(x, rows);
      OC_ASSIGN_OR_RETURN(LossResult lr,
                          engine.LossAndGradients(feeds, y, tensors));
      loss_sum += lr.loss * (e - b);
      ++step;
      const double c1 = 1.0 - std::pow(kBeta1, static_cast<double>(step));
      const double c2 = 1.0 - std::pow(kBeta2, static_cast<double>(step));
      for (size_t t = 0; t < ws.size(); ++t) {
        const float* g = lr.grads.at(tensors[t]).data<float>();
        float* w = ws[t].mutable_data<float>();
        for (int64_t i = 0; i < ws[t].numel(); ++i) {
          if (options.optimizer == Optimizer::kAdam) {
            m[t][i] =
                static_cast<float>(kBeta1 * m[t][i] + (1 - kBeta1) * g[i]);
            v[t][i] = static_cast<float>(kBeta2 * v[t][i] +
                                         (1 - kBeta2) * g[i] * g[i]);
            w[i] -= static_cast<float>(options.lr * (m[t][i] / c1) /
                                       (std::sqrt(v[t][i] / c2) + kEps));
          } else {
            m[t][i] = static_cast<float>(options.momentum * m[t][i] + g[i]);
            w[i] -= static_cast<float>(options.lr * m[t][i]);
          }
        }
        OC_RETURN_IF_ERROR(StoreWhole(engine, tensors[t], ws[t]));
      }
    }
    epoch_loss.push_back(loss_sum / static_cast<double>(n));
    if (options.progress) options.progress(epoch + 1, epoch_loss.back());
  }
  return epoch_loss;
}

absl::Status ReinitializeTensors(Engine& engine,
                                 const std::vector<std::string>& tensors,
                                 uint64_t seed) {
  const Graph& graph = engine.graph();
  SeededGenerator rng(seed);
  OC_ASSIGN_OR_RETURN(std::vector<Tensor> ws, FetchFloat(engine, tensors));
  for (size_t t = 0; t < ws.size(); ++t) {
    size_t input = 0;
    const Node* node = ConsumerOf(graph, tensors[t], &input);
    float* w = ws[t].mutable_data<float>();
    if (node && node->op_type == "BatchNormalization") {
      std::fill(w, w + ws[t].numel(), input == 1 ? 1.0f : 0.0f);
    } else {
      const int64_t fan = node ? FanIn(graph, *node, input) : 1;
      const double bound = 1.0 / std::sqrt(static_cast<double>(fan));
      for (int64_t i = 0; i < ws[t].numel(); ++i)
        w[i] = static_cast<float>((2.0 * rng.Uniform() - 1.0) * bound);
    }
    OC_RETURN_IF_ERROR(StoreWhole(engine, tensors[t], ws[t]));
  }
  return absl::OkStatus();
}

absl::StatusOr<OutlierReport> LockedOutliers(
    Engine& engine, const std::vector<std::string>& tensors,
    const std::vector<ValuePosition>& locked) {
  OC_ASSIGN_OR_RETURN(std::vector<Tensor> ws, FetchFloat(engine, tensors));
  std::map<std::string, size_t> tensor_of;
  for (size_t t = 0; t < tensors.size(); ++t) tensor_of[tensors[t]] = t;
  for (const ValuePosition& p : locked) {
    auto it = tensor_of.find(p.first);
    if (it == tensor_of.end() || p.second < 0 ||
        p.second >= ws[it->second].numel()) {
      return absl::InvalidArgumentError(
          absl::StrCat("outliers: locked position ", p.first, "[", p.second,
                       "] is not among the attacked tensors"));
    }
  }
  OutlierReport report;
  report.locked = static_cast<int64_t>(locked.size());
  // Per-value scores for the three detectors.
  const char* kNames[] = {"magnitude", "zscore", "local"};
  std::vector<std::vector<std::vector<double>>> scores(3);
  for (size_t t = 0; t < ws.size(); ++t) {
    const int64_t n = ws[t].numel();
    const float* w = ws[t].data<float>();
    report.total_values += n;
    const DistributionStats d = MakeDistributionStats(ws[t]);
    std::vector<double> mag(n), z(n), local(n);
    for (int64_t r = 0; r < d.rows; ++r) {
      const float med = d.row_median[r];
      const double mad = d.row_spread[r];
      for (int64_t i = r * d.row_len; i < (r + 1) * d.row_len; ++i) {
        const double dev = std::abs(w[i] - med);
        local[i] = mad > 0 ? dev / mad : (dev > 0 ? 1e30 : 0.0);
      }
    }
    for (int64_t i = 0; i < n; ++i) {
      mag[i] = std::abs(w[i]);
      z[i] = d.sd > 0 ? std::abs(w[i] - d.mean) / d.sd : 0.0;
    }
    scores[0].push_back(std::move(mag));
    scores[1].push_back(std::move(z));
    scores[2].push_back(std::move(local));
  }
  const auto top_count = [&](double fraction) {
    return std::max<int64_t>(
        1, static_cast<int64_t>(std::floor(fraction * report.total_values)));
  };
  std::set<size_t> any;
  for (int d = 0; d < 3; ++d) {
    OutlierDetector det;
    det.name = kNames[d];
    det.best_rank = report.total_values;
    for (size_t j = 0; j < locked.size(); ++j) {
      const size_t t = tensor_of[locked[j].first];
      const Ranked me{scores[d][t][locked[j].second], t, locked[j].second};
      // Rank = values that come before this one (higher score, or the same
      // score earlier in (tensor, index) order).
      int64_t rank = 0;
      for (size_t u = 0; u < scores[d].size(); ++u) {
        const std::vector<double>& s = scores[d][u];
        for (int64_t i = 0; i < static_cast<int64_t>(s.size()); ++i) {
          rank += HigherFirst(Ranked{s[i], u, i}, me);
        }
      }
      det.best_rank = std::min(det.best_rank, rank);
      if (rank < top_count(0.0001)) ++det.in_top_0_01;
      if (rank < top_count(0.001)) {
        ++det.in_top_0_1;
        any.insert(j);
      }
    }
    report.detectors.push_back(det);
  }
  report.any_in_top_0_1 = static_cast<int64_t>(any.size());
  for (const ValuePosition& p : locked) {
    const size_t t = tensor_of[p.first];
    const float* w = ws[t].data<float>();
    const float mine = w[p.second];
    for (int64_t i = 0; i < ws[t].numel(); ++i) {
      if (i != p.second && w[i] == mine) {
        ++report.repeated;
        break;
      }
    }
  }
  return report;
}

}  // namespace onnx_crypt
