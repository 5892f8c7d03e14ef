// LockModel: the checks and the set-up that both lock loops share, the choice
// of loop, and the restoration of the engine when a loop fails.
//
// Before the loop, LockModel fixes the labels (the given ones, or the original
// model's own predictions), the target accuracy (the configured one, or chance
// 1/C plus 2 points for C classes), the eligible tensors (eligibility.h), and
// a snapshot of their original values. It refuses to lock a model whose
// accuracy on the owner samples is already at or below the target. Then it
// runs the hardened loop (hardened_lock.cc; the default, `harden`) or the
// fast loop (default_lock.cc). If the loop fails, every value that it changed
// is written back (by the fast loop itself from its list of changes; for the
// hardened loop from the snapshot), so the engine holds the original model
// again, bit for bit.
#include "onnx_crypt/lock/locker.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/engine/evaluate.h"
#include "onnx_crypt/engine/loss.h"
#include "onnx_crypt/engine/samples.h"
#include "onnx_crypt/lock/eligibility.h"
#include "onnx_crypt/lock/lock_steps.h"

namespace onnx_crypt {

namespace {

absl::Status CheckConfig(const LockConfig& config) {
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
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<LockResult> LockModel(Engine& engine, const Feeds& samples,
                                     std::vector<int64_t> labels,
                                     const LockConfig& config) {
  OC_RETURN_IF_ERROR(CheckConfig(config));
  if (SampleCount(samples) == 0)
    return absl::InvalidArgumentError("no owner samples");
  LockResult result;

  // Labels: given, or the original model's own predictions.
  // Kept in slot 0: the first gradient pass reads these values.
  Feeds feeds = samples;
  OC_ASSIGN_OR_RETURN(std::vector<Tensor> outs0, engine.RunAndKeep(feeds, 0));
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
  std::vector<std::string> names;
  for (const EligibleTensor& e : eligible) names.push_back(e.name);
  // The hardened loop reads the original tensors throughout: it keeps a
  // snapshot of them (and sorted tails). The default loop keeps neither for
  // large models: its tails read the engine's own tensors (lock_steps.h).
  OC_ASSIGN_OR_RETURN(
      ValueSnapshot originals,
      ValueSnapshot::Take(engine,
                          config.harden ? names : std::vector<std::string>()));
  std::vector<TensorTails> tails;
  int64_t sorted_elements = 0;
  for (size_t t = 0; t < names.size(); ++t) {
    auto it = engine.graph().initializers.find(names[t]);
    if (it == engine.graph().initializers.end()) {
      return absl::InternalError(absl::StrCat("eligible tensor '", names[t],
                                              "' is not in the engine"));
    }
    const Tensor& w = it->second;
    const bool sorted = config.harden || sorted_elements + w.numel() <=
                                             kSortedTailsBudgetElements;
    if (sorted) sorted_elements += w.numel();
    auto narrow = engine.graph().narrow_storage.find(names[t]);
    tails.push_back(MakeTensorTails(
        names[t], w, t, sorted,
        narrow == engine.graph().narrow_storage.end() ? DType::kFloat32
                                                      : narrow->second));
    result.total_parameters += w.numel();
  }
  result.eligible = names;

  LockContext ctx{engine,
                  config,
                  std::move(feeds),
                  labels,
                  DetectOutputKind(engine.graph()),
                  std::move(names),
                  std::move(tails),
                  std::move(originals),
                  SampleSet{},
                  false};
  MakeScreenSet(ctx);
  OC_ASSIGN_OR_RETURN(const SampleMeasure m0,
                      MeasureOutput(ctx, ctx.labels, outs0[0]));
  result.sample_accuracy_before = m0.accuracy;
  result.loss_before = m0.loss;
  if (m0.accuracy <= result.target_accuracy) {
    return absl::FailedPreconditionError(
        absl::StrCat("accuracy on the owner samples is already ", m0.accuracy,
                     ", at or below the target ", result.target_accuracy,
                     ": nothing to lock"));
  }

  absl::StatusOr<LockResult> locked =
      config.harden ? HardenedLock(ctx, m0, std::move(result))
                    : DefaultLock(ctx, m0, std::move(result));
  if (!locked.ok() && config.harden) {
    const absl::Status restored = ctx.originals.RestoreAll(engine);
    if (!restored.ok()) {
      return absl::Status(
          locked.status().code(),
          absl::StrCat(locked.status().message(),
                       "; restoring the engine's original values also "
                       "failed: ",
                       restored.ToString()));
    }
  }
  return locked;
}

namespace {

double Clamp01Fraction(double f) {
  if (!(f > 0)) return 0;  // NaN too
  return std::min(f, 1.0);
}

}  // namespace

std::string RepairShortfallWarning(const LockResult& r, int max_values,
                                   std::string_view budget_option,
                                   std::string_view quantile_option) {
  if (r.repair_target < 0 || r.stop_reason != "budget") return "";
  if (r.repair_accuracy >= 0 && r.repair_accuracy <= r.repair_target) {
    return "";
  }
  const std::string reached =
      r.repair_accuracy < 0
          ? std::string(
                "never simulated: the locked or a reset state was still above "
                "its target")
          : absl::StrFormat("it reached %.4f", r.repair_accuracy);
  const std::string stopped =
      static_cast<int64_t>(r.changes.size()) >= max_values
          ? absl::StrFormat(
                "the budget of %d values stopped the hardened lock before",
                max_values)
          : absl::StrFormat(
                "the hardened lock ran out of candidates after %d values, "
                "before",
                r.changes.size());
  const std::string advice =
      static_cast<int64_t>(r.changes.size()) >= max_values
          ? "raise " + std::string(budget_option)
          : "a larger " + std::string(quantile_option) +
                " widens the candidates";
  return absl::StrFormat(
      "%s its simulated saliency repair failed (%s, target %.4f): a repair "
      "may restore the model; %s",
      stopped, reached, r.repair_target, advice);
}

double LockFraction(const LockRound& r, int max_values) {
  const double values =
      max_values > 0 ? static_cast<double>(r.locked) / max_values : 0;
  // How far `now` has come from the accuracy before the lock to `target`.
  auto toward = [&r](double now, double target) {
    const double span = r.sample_accuracy_before - target;
    return span > 0 ? Clamp01Fraction((r.sample_accuracy_before - now) / span)
                    : 0.0;
  };
  const double accuracy = toward(r.sample_accuracy, r.target_accuracy);
  if (r.repair_target < 0) return Clamp01Fraction(std::max(values, accuracy));
  // The hardened lock: half for the locked state, half for the attacks it
  // simulates. Those count a quarter while only the reset states are
  // measured, then a quarter more as the simulated repair falls to its target
  // (the repair starts higher than the reset states: counting it from 0 would
  // move the bar back).
  const double attacks =
      r.repair_accuracy < 0
          ? 0.5 * toward(r.reset_accuracy, r.repair_target)
          : 0.5 + 0.5 * toward(r.repair_accuracy, r.repair_target);
  return Clamp01Fraction(std::max(values, 0.5 * (accuracy + attacks)));
}

}  // namespace onnx_crypt
