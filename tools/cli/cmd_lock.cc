// onnx-crypt lock: locks one model, writes the locked model and its key.
#include <algorithm>
#include <iostream>

#include "absl/strings/str_format.h"
#include "onnx_crypt/api.h"
#include "tools/cli/commands.h"
#include "tools/cli/flags.h"
#include "tools/cli/json.h"
#include "tools/cli/progress.h"

namespace onnx_crypt::cli {
namespace {

constexpr char kHelp[] =
    R"(usage: onnx-crypt lock MODEL.onnx --data FILE.npz -o LOCKED.onnx --key KEY
                       [--max-values N] [--target-accuracy A] [--seed S] [--include-bias]
                       [--values-per-round K] [--candidates M] [--device cpu|cuda|auto]
                       [--threads N] [--stealth-quantile Q] [--repair-target R] [--fast]
                       [--output NAME] [--passphrase-file F] [--json] [--quiet]

Locks MODEL.onnx with the owner samples of FILE.npz (x, and y if present; without y the
model's own predictions are the labels). A model with several inputs (a text classifier's
input_ids and attention_mask, say) takes one array per input, named after it; a single-input
model takes x (or the array named after its input). Integer and NHWC inputs work alike: each
array must have its input's dtype and shape, batch first. --output NAME: the classification
output, when the model has several (default: the first); logits [N, C] or [N, 1, C].
By default the lock is the hardened one. Locked values stay inside the bulk of the weights
(below the Q quantile, default 0.999, of |w|, per-tensor z-score and per-row robust z-score), so
no outlier statistic points at them. Each round computes gradients on the samples in three
states of the values locked so far (locked, all reset to 0, all reset to their tensor's median),
tries up to M (default 16) of the best first-order candidates of each kind in all three states,
each with a re-run of only what lies downstream of it (screened on a 64-sample subset when there
are more than 128 samples), and locks up to K (default 4) that keep all three states broken and
whose effects add up when tried together. Once the sample accuracy is at most A (default: chance
+ 0.02) and both reset states at most R (default chance + 0.05), each round also simulates the
adaptive attacker's saliency repair on the samples (the top k values by |g*w| or |g| reset to 0
or to the tensor median, k = 1, 2, 5 and 10 times the locked count), and locking goes on until
every such repair stays at or below R, or N values are locked (default 1024, a safety budget).
The bundled CNNs stop after 24-65 values, the fully connected mlp_softmax after 484; a lock
that stops at the budget warns and prints how far its simulated repair got. See tools/bench/results/robustness/REPORT.md for what the attacks reach.
--fast: the fast loop of earlier versions instead: values pushed into their tensor's tails until
the sample accuracy is at most A (3-12 values on the CNNs, several times faster), but
a saliency repair removes it (tools/bench/results/robustness/REPORT.md): use it only where
speed matters more than resistance to a repair. --harden (the hardened lock's old switch) is
still accepted and changes nothing.
Writes LOCKED.onnx (same graph and storage, a few values changed) and KEY (keep it secret).
The same inputs and seed (default 0) give byte-identical outputs. With --json the last line of
stdout is one JSON object (locked_values, total_parameters, sample_accuracy_before/after,
seconds, stop_reason, harden, reset_zero/median_accuracy, repair_accuracy, repair_target,
...).
--passphrase-file F: wrap KEY with the passphrase in F (the whole file, one trailing newline
removed; empty is an error): scrypt (N=2^16, r=8, p=1) and AES-256-GCM, a fresh random salt and
nonce per key. Without the flag, the file the environment variable ONNX_CRYPT_PASSPHRASE_FILE
names, if set. unlock, verify, key and attack then need the same passphrase. A wrapped KEY
differs from run to run; LOCKED.onnx and the key inside stay byte-identical. KEY is written
owner-only (mode 0600), wrapped or not.
Progress goes to stderr. On a terminal: one line redrawn in place with a bar, the percent done
(the larger of the budget N spent and the accuracy lost on the way to A), the round, values
locked, sample accuracy, the time so far and an ETA. Otherwise (a file, a pipe) one line per
round: "lock: round R: V values locked, sample accuracy X, loss L". ONNX_CRYPT_PROGRESS=bar,
plain or none overrides the choice. --quiet (-q): no progress; errors still print. Outputs
and stdout are the same in every mode.
)";

std::string LockJson(const LockSummary& summary, const LockConfig& config,
                     double pct, bool wrapped) {
  const LockResult& r = summary.result;
  JsonWriter json;
  json.BeginObject()
      .Field("locked_values", static_cast<int64_t>(r.changes.size()))
      .Field("total_parameters", r.total_parameters)
      .Field("locked_percent", pct, 8)
      .Field("sample_accuracy_before", r.sample_accuracy_before, 6)
      .Field("sample_accuracy_after", r.sample_accuracy_after, 6)
      .Field("target_accuracy", r.target_accuracy, 6)
      .Field("loss_before", r.loss_before, 6)
      .Field("loss_after", r.loss_after, 6)
      .Field("rounds", r.rounds)
      .Field("seconds", summary.seconds, 4)
      .Field("stop_reason", r.stop_reason)
      .Field("device", summary.device)
      .Key("seed")
      .Uint(config.seed)
      .Field("harden", config.harden)
      .Field("reset_zero_accuracy", r.reset_zero_accuracy, 6)
      .Field("reset_median_accuracy", r.reset_median_accuracy, 6)
      .Field("repair_accuracy", r.repair_accuracy, 6)
      .Field("repair_target", r.repair_target, 6)
      .Field("key_wrapped", wrapped)
      .EndObject();
  return json.str();
}

int Run(const Args& args) {
  auto parsed = ParseArgs(
      args,
      WithQuietFlag(WithLockFlags({{"--data", "-o", "--key"}, {"--json"}})));
  if (!parsed.ok()) return Usage(parsed.status().message(), kHelp);
  if (parsed->positionals.size() != 1)
    return Usage("lock takes one MODEL.onnx", kHelp);
  const std::string out = parsed->Get("-o");
  if (!parsed->Has("--data") || out.empty() || !parsed->Has("--key")) {
    return Usage("lock needs --data FILE.npz, -o LOCKED.onnx and --key KEY",
                 kHelp);
  }
  absl::StatusOr<LockOptions> options = ParseLockOptions(*parsed);
  if (!options.ok()) return Usage(options.status().message(), kHelp);
  absl::StatusOr<std::optional<std::string>> passphrase =
      ReadPassphraseFlag(*parsed);
  if (!passphrase.ok()) return Fail(passphrase.status());
  options->passphrase = *std::move(passphrase);
  Progress progress("lock", DetectProgressMode(QuietFlag(*parsed)),
                    StderrTerminal());
  const int max_values = options->config.max_values;
  options->config.progress = [&progress, max_values](const LockRound& r) {
    progress.Update(
        LockFraction(r, max_values),
        absl::StrFormat("round %d: %d values, accuracy %.4f", r.round, r.locked,
                        r.sample_accuracy),
        absl::StrFormat(
            "lock: round %d: %d values locked, sample accuracy %.4f, loss %.4f",
            r.round, r.locked, r.sample_accuracy, r.loss));
  };
  auto summary = LockFile(parsed->positionals[0], parsed->Get("--data"), out,
                          parsed->Get("--key"), *options);
  progress.Finish(summary.ok());
  if (!summary.ok()) return Fail(summary.status());
  const LockResult& r = summary->result;
  const double pct =
      100.0 * r.changes.size() / std::max<int64_t>(1, r.total_parameters);
  std::cout << absl::StrFormat(
      "locked %d of %d eligible values (%.6f%%) in %d rounds; sample accuracy "
      "%.4f -> %.4f (target %.4f, stop: %s); %.2f s on %s\n",
      r.changes.size(), r.total_parameters, pct, r.rounds,
      r.sample_accuracy_before, r.sample_accuracy_after, r.target_accuracy,
      r.stop_reason, summary->seconds, summary->device);
  if (const std::string h = HardenedSummary(r); !h.empty()) {
    std::cout << h << "\n";
  }
  const bool wrapped = options->passphrase.has_value();
  std::cout << "wrote " << out << " and " << parsed->Get("--key")
            << (wrapped ? " (wrapped with the passphrase)" : "") << "\n";
  if (parsed->switches.count("--json")) {
    std::cout << LockJson(*summary, options->config, pct, wrapped) << "\n";
  }
  if (const std::string w = RepairShortfallWarning(
          r, max_values, "--max-values", "--stealth-quantile");
      !w.empty()) {
    std::cout.flush();
    std::cerr << "onnx-crypt: warning: " << w << "\n";
  }
  return kExitOk;
}

}  // namespace

const Command kLockCommand = {
    "lock", "MODEL.onnx --data FILE.npz -o LOCKED.onnx --key KEY",
    "lock a model; writes the locked model and its key", kHelp, &Run};

}  // namespace onnx_crypt::cli
