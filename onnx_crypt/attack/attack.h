// Attacks on a locked model, as an infringer without the key would run them
// (gradient-saliency repair, fine-tuning, pruning, clipping, outlier search),
// built on our own engine: it has backward, so it can fine-tune and rank values
// by gradient.
//
// Engine-level attacks change the engine's initializers in place and return
// what they did; RunAttack wraps them for files (load the model, attack,
// evaluate on held-out data). All functions return absl::Status(Or): a tensor
// that is not float32, labels that do not fit the data, or an option out of
// range is InvalidArgument naming the tensor or option. Deterministic for the
// same inputs and seed. Not thread-safe (they drive one engine).
#ifndef ONNX_CRYPT_ATTACK_ATTACK_H_
#define ONNX_CRYPT_ATTACK_ATTACK_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "onnx_crypt/engine/engine.h"

namespace onnx_crypt {

// (tensor name, flat index) of one value.
using ValuePosition = std::pair<std::string, int64_t>;

// The tensors the attacks act on: the lock's eligible weights, plus biases and
// BatchNormalization scale/bias when `include_bias` (lock/eligibility.h).
std::vector<std::string> AttackTensors(const Graph& graph, bool include_bias);

// Top-1 accuracy of `engine` on (x, labels), in batches. Here and below, x
// holds the samples, one batch-first array per data input (engine/samples.h).
absl::StatusOr<double> Accuracy(Engine& engine, const Feeds& x,
                                const std::vector<int64_t>& labels,
                                int64_t batch_size = 256);

// ---------------------------------------------------------------- prune
// Global magnitude pruning: over all `tensors` together, the
// floor(fraction · total) values of smallest |w| become 0 (ties: tensor order,
// then flat index). fraction in [0, 1]. Returns how many values were zeroed
// (values already 0 count when they are among the smallest).
absl::StatusOr<int64_t> PruneGlobal(Engine& engine,
                                    const std::vector<std::string>& tensors,
                                    double fraction);

// ---------------------------------------------------------------- clip
// Per-tensor clipping: c_t = the `percentile` (0..100, nearest rank) of |w|
// over tensor t; every value becomes clamp(w, -c_t, c_t). At 100 nothing
// changes. Returns how many values changed.
absl::StatusOr<int64_t> ClipTensors(Engine& engine,
                                    const std::vector<std::string>& tensors,
                                    double percentile);

// ---------------------------------------------------------------- repair
// The adaptive attacker who knows the method: g = dL/dw of the mean
// cross-entropy on a few labelled samples (on the locked model), every value
// scored by |g·w| or |g|, and the k best reset to 0 or to their tensor's
// median (ties: tensor order, flat index).
enum class SaliencyScore { kGradTimesWeight, kGrad };
enum class ResetValue { kZero, kMedian };
struct RepairOptions {
  int64_t k = 0;
  SaliencyScore score = SaliencyScore::kGradTimesWeight;
  ResetValue reset = ResetValue::kZero;
  int64_t batch_size = 256;  // gradients are averaged over batches
  // One forward and backward pass over all samples, whose float gradients are
  // used as the engine returns them, instead of the mean over batches (which
  // scales each batch's float gradient by its size before averaging, and so
  // may round). batch_size is then ignored. The hardened lock simulates its
  // repair this way.
  bool single_pass = false;
  // For kMedian: the value to reset to, by tensor name, instead of the median
  // of the tensor's current values. The hardened lock passes the medians of
  // the original, unlocked values. Tensors not named here use their current
  // median.
  std::map<std::string, float> medians;
};
// Returns the reset positions, best score first.
absl::StatusOr<std::vector<ValuePosition>> Repair(
    Engine& engine, const std::vector<std::string>& tensors, const Feeds& x,
    const std::vector<int64_t>& labels, const RepairOptions& options);
// Repair's two steps. RankBySaliency returns the options.k best positions by
// options.score, best first, and changes nothing. ResetPositions sets each of
// `positions` to 0 or to its tensor's median (options.reset and
// options.medians; the median is taken before any value of the tensor is
// reset).
absl::StatusOr<std::vector<ValuePosition>> RankBySaliency(
    Engine& engine, const std::vector<std::string>& tensors, const Feeds& x,
    const std::vector<int64_t>& labels, const RepairOptions& options);
// RankBySaliency's ranking over given values: `weights` (float32, one per
// tensor) and their mean gradients `grads`, the options.k best by
// options.score, best first.
std::vector<ValuePosition> RankSaliency(
    const std::vector<std::string>& tensors, const std::vector<Tensor>& weights,
    const std::vector<std::vector<double>>& grads,
    const RepairOptions& options);
absl::Status ResetPositions(Engine& engine,
                            const std::vector<ValuePosition>& positions,
                            const RepairOptions& options);

// ---------------------------------------------------------------- finetune
enum class Optimizer { kSgd, kAdam };
struct FineTuneOptions {
  int epochs = 5;
  double lr = 1e-3;
  Optimizer optimizer = Optimizer::kAdam;
  double momentum = 0.9;  // SGD only
  int64_t batch_size = 32;
  uint64_t seed = 0;  // shuffling (and the initialization, for the baseline)
  // Called after each epoch with the epoch's mean training loss.
  std::function<void(int epoch, double loss)> progress;
};
// Mini-batch training of `tensors` (all other initializers stay fixed) on
// (x, labels). Adam: β1 0.9, β2 0.999, ε 1e-8; SGD: heavy-ball momentum.
// Returns the mean training loss of each epoch.
absl::StatusOr<std::vector<double>> FineTune(
    Engine& engine, const std::vector<std::string>& tensors, const Feeds& x,
    const std::vector<int64_t>& labels, const FineTuneOptions& options);

// The from-scratch baseline's starting point: PyTorch's default
// initialization, U(-1/√fan_in, 1/√fan_in) for Conv/ConvTranspose/Gemm/MatMul
// weights and their biases, scale 1 and bias 0 for BatchNormalization (its
// running statistics stay as they are: the engine runs BN in inference form).
absl::Status ReinitializeTensors(Engine& engine,
                                 const std::vector<std::string>& tensors,
                                 uint64_t seed);

// ---------------------------------------------------------------- outliers
// The median of `v`: for an even count, the mean (in double) of the two middle
// values; 0 for none.
float Median(std::vector<float> v);

// The statistics the outlier detectors below measure one tensor's values
// against: the tensor's mean and standard deviation, and per row (a slice of
// the tensor's first axis; a tensor of rank below 2 is one row) the median and
// the spread 1.4826 · MAD. The hardened lock bounds its locked values by the
// same statistics.
struct DistributionStats {
  double mean = 0, sd = 0;
  int64_t rows = 1, row_len = 1;
  std::vector<float> row_median;
  std::vector<double> row_spread;
};
DistributionStats MakeDistributionStats(const Tensor& t);

// Stealth: where the locked positions rank among all values of `tensors` on
// the locked model, by detectors an attacker without the key could run:
//   magnitude: |w|;
//   zscore:    |w − mean_t| / std_t (per tensor);
//   local:     |w − median_r| / (1.4826 · MAD_r) over the row r holding w
//              (the slice of the tensor's first axis: an output channel of a
//              Conv, a row of a Gemm weight);
// and how many locked values repeat a value found elsewhere in their tensor.
struct OutlierDetector {
  std::string name;
  int64_t in_top_0_01 = 0;  // locked positions among the top 0.01 % values
  int64_t in_top_0_1 = 0;   // ... among the top 0.1 %
  int64_t best_rank = 0;    // 0 = the most outlying value of all
};
struct OutlierReport {
  int64_t total_values = 0;
  int64_t locked = 0;
  std::vector<OutlierDetector> detectors;
  int64_t any_in_top_0_1 = 0;  // locked positions in the top 0.1 % of any
  int64_t repeated = 0;
};
absl::StatusOr<OutlierReport> LockedOutliers(
    Engine& engine, const std::vector<std::string>& tensors,
    const std::vector<ValuePosition>& locked);

// ---------------------------------------------------------------- files
// One attack on a model file, evaluated on held-out data: what the CLI's
// `attack` command runs.
struct AttackRequest {
  std::string kind;  // finetune | prune | clip | repair | outliers
  std::string model_path;
  std::string data_path;       // the attacker's labelled data (npz x, y)
  std::string eval_data_path;  // held-out data (npz x, y)
  std::string key_path;        // outliers (required), repair (optional)
  std::string output_path;     // optional: write the attacked model here
  std::string output;          // the classification output ("" = first)
  bool include_bias = false;   // which tensors prune/clip/repair/outliers see
  int64_t limit = 0;           // use only the first N attacker samples (0 all)
  int64_t eval_limit = 0;      // use only the first N eval samples (0 all)
  double fraction = 0.5;       // prune
  double percentile = 99.0;    // clip
  RepairOptions repair;
  FineTuneOptions finetune;   // trains weights and biases
  bool from_scratch = false;  // finetune: re-initialize first (the baseline)
  // finetune: re-initialize only these tensors first (an infringer who
  // suspects one layer and trains it anew, keeping the rest).
  std::vector<std::string> reinit;
  int64_t batch_size = 256;  // evaluation
  std::string device = "cpu";
  int threads = 0;
  // The passphrase of a wrapped key_path (key/key_wrap.h); a plain key needs
  // none.
  std::optional<std::string> passphrase;
};
struct AttackReport {
  std::string kind;
  double accuracy_before = 0;  // the model as given, on the eval data
  double accuracy = 0;         // after the attack
  // The attack's parameters and results as (name, JSON value) pairs, in a
  // fixed order, for the CLI's --json line.
  std::vector<std::pair<std::string, std::string>> fields;
  double seconds = 0;
};
// InvalidArgument, before anything runs, for an unknown kind or an
// output_path that names one of the inputs (model, data, eval data, key).
absl::StatusOr<AttackReport> RunAttack(const AttackRequest& request);

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_ATTACK_ATTACK_H_
