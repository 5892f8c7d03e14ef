// The onnx-crypt command line: parses flags, calls onnx_crypt/api.h, maps
// Status to exit codes. Exit codes: 0 success, 1 failure of the operation, 2
// usage error.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "onnx_crypt/api.h"
#include "onnx_crypt/attack/attack.h"
#include "onnx_crypt/base/file.h"
#include "onnx_crypt/base/openblas_env.h"
#include "tools/cli/flags.h"

namespace onnx_crypt::cli {
namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
// A safety budget: the lock stops at the accuracy target first (about a dozen
// values on the bundled CNNs); fully-connected models, with no weight sharing,
// need a few hundred.
constexpr int kDefaultMaxValues = 256;

constexpr char kUsage[] =
    R"(onnx-crypt: lock ONNX models with adversarial parameter perturbations

usage: onnx-crypt COMMAND [options]        (onnx-crypt COMMAND --help for details)

commands:
  info    MODEL.onnx                       inputs, outputs, opsets, ops, parameters, lockable tensors
  eval    MODEL.onnx --data FILE.npz       top-1 accuracy and throughput
  lock    MODEL.onnx --data FILE.npz -o LOCKED.onnx --key KEY
                                           lock a model; writes the locked model and its key
  lock-batch MODEL.onnx [MODEL.onnx ...] [--list FILE] [--variants N] --data FILE.npz
             --output-dir DIR              lock many models / per-customer variants in one run
  unlock  LOCKED.onnx --key KEY -o MODEL.onnx
                                           restore the original model, bit for bit
  key     KEY                              summary of a key file
  verify  ORIGINAL.onnx LOCKED.onnx KEY    exit 0 only if KEY unlocks LOCKED into ORIGINAL exactly
  attack  KIND LOCKED.onnx --data TRAIN.npz --eval-data TEST.npz
                                           attack a locked model as an infringer would
                                           (finetune, prune, clip, repair, outliers)
)";

constexpr char kInfoHelp[] = R"(usage: onnx-crypt info MODEL.onnx [--json]

Prints the model's inputs and outputs with shapes, opsets, an op histogram, the parameter count,
and which tensors are eligible for locking (weights; biases only with lock --include-bias).
)";

constexpr char kEvalHelp[] =
    R"(usage: onnx-crypt eval MODEL.onnx --data FILE.npz [--batch-size N] [--device cpu|cuda|auto]
                       [--threads N] [--dump-outputs OUT.npz] [--json]

Runs the model on the samples of FILE.npz (array x, float32, batch first; optional y, int64
labels) and prints top-1 accuracy (when y is present) and samples per second. With --json the
last line of stdout is one JSON object: accuracy, samples, seconds, samples_per_second, device.
--dump-outputs writes the first output of every sample ("out") and its argmax ("pred").
)";

constexpr char kLockHelp[] =
    R"(usage: onnx-crypt lock MODEL.onnx --data FILE.npz -o LOCKED.onnx --key KEY
                       [--max-values N] [--target-accuracy A] [--seed S] [--include-bias]
                       [--values-per-round K] [--candidates M] [--device cpu|cuda|auto]
                       [--threads N] [--harden [--stealth-quantile Q] [--repair-target R]]
                       [--json]

Locks MODEL.onnx with the owner samples of FILE.npz (x, and y if present; without y the
model's own predictions are the labels). Each round computes gradients on the samples, tries
the M best first-order candidates and locks the K that hurt accuracy most, until the sample
accuracy is at most A (default: chance + 0.02) or N values are locked (default 256, a safety
budget: CNNs reach the target after about a dozen values).
Writes LOCKED.onnx (same graph and storage, a few values changed) and KEY (keep it secret).
The same inputs and seed (default 0) give byte-identical outputs. With --json the last line of
stdout is one JSON object (locked_values, total_parameters, sample_accuracy_before/after,
seconds, stop_reason, ...).
--harden: the hardened lock. Locked values stay inside the bulk of the weights (below the
Q quantile, default 0.999, of |w|, per-tensor z-score and per-row robust z-score), positions
are chosen so that resetting them to 0 or to the tensor median leaves the model broken, and
locking goes on until a simulated saliency repair (|g*w|, |g|; k up to 10x the locked count)
on the owner samples stays at or below R (default chance + 0.05). Usually locks more values
and takes longer than the default lock; see tools/bench/results/robustness/REPORT.md.
)";

constexpr char kLockBatchHelp[] =
    R"(usage: onnx-crypt lock-batch MODEL.onnx [MODEL.onnx ...] [--list FILE] [--variants N]
                       --data FILE.npz --output-dir DIR [--device cpu|cuda|auto] [--seed S]
                       [--max-values N] [--target-accuracy A] [--include-bias]
                       [--candidates M] [--threads N] [--json]

Locks every MODEL (and those listed in FILE, one path per line, # for comments) with the owner
samples of FILE.npz. With --variants N, each model is locked N times with seeds S, S+1, ...
and a seeded half of the positions left out per variant, so variants differ in positions and
values and each key unlocks only its own variant. For NAME.onnx and variant i it writes
DIR/NAME-i.onnx and DIR/NAME-i.key. One engine per model serves all its variants; files are
written while the next variant is computed. A failing model is reported and skipped (nothing
half-written is left); the exit status is 1 if any item failed. With --json the last line is
one JSON object: items, failed, seconds, locks_per_second.
)";

constexpr char kUnlockHelp[] =
    R"(usage: onnx-crypt unlock LOCKED.onnx --key KEY -o MODEL.onnx

Restores the original model exactly. The key's fingerprints are checked first: a key made for
another model, a corrupted or truncated key, or a locked model changed since locking is an
error, and nothing is written.
)";

constexpr char kKeyHelp[] = R"(usage: onnx-crypt key KEY [--values]

Prints a summary of a key: format version, options, seed, number of values, tensors touched;
the values themselves with --values.
)";

constexpr char kVerifyHelp[] =
    R"(usage: onnx-crypt verify ORIGINAL.onnx LOCKED.onnx KEY

Exit status 0 only when KEY unlocks LOCKED.onnx into exactly ORIGINAL.onnx (every field, every
bit); otherwise a message saying what differs and exit status 1.
)";

constexpr char kAttackHelp[] =
    R"(usage: onnx-crypt attack KIND LOCKED.onnx --eval-data TEST.npz [--data TRAIN.npz] [options]

Attacks LOCKED.onnx as an infringer without the key would, and prints its accuracy on
TEST.npz before and after. KIND:
  finetune  train all weights and biases on TRAIN.npz (labelled):
            [--epochs 5] [--lr 0.001] [--optimizer adam|sgd] [--momentum 0.9]
            [--batch-size 32] [--seed 0] [--from-scratch] (re-initialize first: the baseline)
            [--reinit NAME[,NAME...]] (re-initialize only these tensors first, keep the rest)
  prune     global magnitude pruning of the weights: [--fraction 0.5] (0..1)
  clip      clip each weight tensor at a percentile of its |w|: [--percentile 99] (0..100)
  repair    gradients on TRAIN.npz, then reset the k values of highest saliency:
            [--k 0] [--score gw|g] (|g*w| or |g|) [--reset zero|median]
            [--key KEY] (only to count how many locked values the reset hit)
  outliers  where the locked values rank by magnitude, z-score and row statistics among
            all weights: --key KEY (needs the key: it measures stealth)
Common: [--limit N] first N training samples, [--eval-limit N] first N test samples,
[--include-bias] (prune/clip/repair/outliers also see biases), [-o OUT.onnx] write the
attacked model, [--device cpu|cuda|auto] [--threads N] [--json]. With --json the last line
of stdout is one JSON object: accuracy (after), accuracy_before, and the attack's parameters.
)";

int Fail(const absl::Status& status) {
  std::cerr << "onnx-crypt: error: " << status.message() << "\n";
  return kExitFailure;
}

int Usage(const std::string& message, const char* help) {
  std::cerr << "onnx-crypt: " << message << "\n\n" << help;
  return kExitUsage;
}

bool WantsHelp(const std::vector<std::string>& args) {
  for (const std::string& a : args) {
    if (a == "--help" || a == "-h") return true;
  }
  return false;
}

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += absl::StrFormat("\\u%04x", c);
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// Prints "label: done/total" lines to stderr, at most about every 10 %.
std::function<void(int64_t, int64_t)> Progress(const std::string& label) {
  auto last = std::make_shared<int64_t>(-1);
  return [label, last](int64_t done, int64_t total) {
    const int64_t decile = total > 0 ? done * 10 / total : 10;
    if (decile == *last) return;
    *last = decile;
    std::cerr << label << ": " << done << "/" << total << " samples\n";
  };
}

int CmdInfo(const std::vector<std::string>& args) {
  if (WantsHelp(args)) return std::cout << kInfoHelp, 0;
  auto parsed = ParseArgs(args, {{}, {"--json"}});
  if (!parsed.ok())
    return Usage(std::string(parsed.status().message()), kInfoHelp);
  if (parsed->positionals.size() != 1)
    return Usage("info takes one MODEL.onnx", kInfoHelp);
  auto info = InspectModel(parsed->positionals[0]);
  if (!info.ok()) return Fail(info.status());
  int64_t eligible = 0;
  for (const EligibleTensor& e : info->eligible) eligible += e.numel;
  if (parsed->switches.count("--json")) {
    std::vector<std::string> hist, elig;
    for (const auto& [op, n] : info->op_histogram)
      hist.push_back(absl::StrCat(JsonString(op), ":", n));
    for (const EligibleTensor& e : info->eligible) {
      elig.push_back(absl::StrCat("{\"name\":", JsonString(e.name),
                                  ",\"numel\":", e.numel, "}"));
    }
    std::cout << "{\"parameters\":" << info->parameters
              << ",\"eligible_parameters\":" << eligible << ",\"ops\":{"
              << absl::StrJoin(hist, ",") << "},\"eligible\":["
              << absl::StrJoin(elig, ",")
              << "],\"unsupported_ops\":" << info->unsupported_ops.size()
              << "}\n";
    return 0;
  }
  std::cout << "model: " << parsed->positionals[0] << "\n";
  std::cout << "ir_version: " << info->ir_version
            << "   producer: " << info->producer << "\n";
  std::cout << "opsets:";
  for (const auto& [domain, v] : info->opsets) {
    std::cout << " " << (domain.empty() ? "ai.onnx" : domain) << "=" << v;
  }
  std::cout << "\ninputs:\n";
  for (const auto& io : info->inputs)
    std::cout << "  " << io.name << " " << io.dtype << io.shape << "\n";
  std::cout << "outputs:\n";
  for (const auto& io : info->outputs)
    std::cout << "  " << io.name << " " << io.dtype << io.shape << "\n";
  std::cout << "ops:\n";
  for (const auto& [op, n] : info->op_histogram)
    std::cout << "  " << op << " x" << n << "\n";
  std::cout << "parameters: " << info->parameters << " in "
            << info->initializers << " initializers\n";
  std::cout << "eligible for locking: " << info->eligible.size() << " tensors, "
            << eligible << " values\n";
  for (const EligibleTensor& e : info->eligible) {
    std::cout << "  " << e.name << " (" << e.numel << " values, " << e.consumer
              << ")\n";
  }
  if (!info->eligible_bias.empty()) {
    std::cout << "with --include-bias also:\n";
    for (const EligibleTensor& e : info->eligible_bias) {
      std::cout << "  " << e.name << " (" << e.numel << " values, "
                << e.consumer << ")\n";
    }
  }
  if (!info->unsupported_ops.empty()) {
    std::cout << "not supported by the engine:\n";
    for (const std::string& s : info->unsupported_ops)
      std::cout << "  " << s << "\n";
  }
  return 0;
}

int CmdEval(const std::vector<std::string>& args) {
  if (WantsHelp(args)) return std::cout << kEvalHelp, 0;
  auto parsed = ParseArgs(args, {{"--data", "--batch-size", "--device",
                                  "--threads", "--dump-outputs"},
                                 {"--json"}});
  if (!parsed.ok())
    return Usage(std::string(parsed.status().message()), kEvalHelp);
  if (parsed->positionals.size() != 1)
    return Usage("eval takes one MODEL.onnx", kEvalHelp);
  if (!parsed->Has("--data"))
    return Usage("eval needs --data FILE.npz", kEvalHelp);
  EvalOptions options;
  auto bs = parsed->GetInt("--batch-size", 256);
  auto threads = parsed->GetInt("--threads", 0);
  if (!bs.ok()) return Usage(std::string(bs.status().message()), kEvalHelp);
  if (!threads.ok())
    return Usage(std::string(threads.status().message()), kEvalHelp);
  if (*bs <= 0) return Usage("--batch-size must be positive", kEvalHelp);
  options.batch_size = *bs;
  options.threads = static_cast<int>(*threads);
  options.device = parsed->Get("--device", "cpu");
  options.progress = Progress("eval");
  options.dump_outputs = parsed->Get("--dump-outputs");
  auto report =
      EvaluateFile(parsed->positionals[0], parsed->Get("--data"), options);
  if (!report.ok()) return Fail(report.status());
  const double sps =
      report->seconds > 0 ? report->samples / report->seconds : 0;
  if (report->has_labels) {
    std::cout << absl::StrFormat("accuracy: %.4f (%d samples)\n",
                                 report->accuracy, report->samples);
  } else {
    std::cout << "accuracy: n/a (the data has no labels y)\n";
  }
  std::cout << absl::StrFormat(
      "throughput: %.1f samples/s (%.3f s, device %s)\n", sps, report->seconds,
      report->device);
  if (parsed->switches.count("--json")) {
    std::cout << absl::StrFormat(
        "{\"accuracy\":%s,\"samples\":%d,\"seconds\":%.6f,\"samples_per_"
        "second\":%.3f,"
        "\"device\":%s}\n",
        report->has_labels ? absl::StrFormat("%.6f", report->accuracy) : "null",
        report->samples, report->seconds, sps, JsonString(report->device));
  }
  return 0;
}

int CmdLock(const std::vector<std::string>& args) {
  if (WantsHelp(args)) return std::cout << kLockHelp, 0;
  auto parsed = ParseArgs(
      args,
      {{"--data", "-o", "--output", "--key", "--max-values",
        "--target-accuracy", "--seed", "--values-per-round", "--candidates",
        "--device", "--threads", "--stealth-quantile", "--repair-target"},
       {"--include-bias", "--json", "--harden"}});
  if (!parsed.ok())
    return Usage(std::string(parsed.status().message()), kLockHelp);
  if (parsed->positionals.size() != 1)
    return Usage("lock takes one MODEL.onnx", kLockHelp);
  const std::string out = parsed->Get("-o", parsed->Get("--output"));
  if (!parsed->Has("--data") || out.empty() || !parsed->Has("--key")) {
    return Usage("lock needs --data FILE.npz, -o LOCKED.onnx and --key KEY",
                 kLockHelp);
  }
  LockOptions options;
  auto max_values = parsed->GetInt("--max-values", kDefaultMaxValues);
  auto target = parsed->GetDouble("--target-accuracy", -1.0);
  auto seed = parsed->GetInt("--seed", 0);
  auto per_round = parsed->GetInt("--values-per-round", 1);
  auto candidates = parsed->GetInt("--candidates", 16);
  auto threads = parsed->GetInt("--threads", 0);
  auto stealth_q = parsed->GetDouble("--stealth-quantile", 0.999);
  auto repair_target = parsed->GetDouble("--repair-target", -1.0);
  for (const absl::Status& s :
       {max_values.status(), target.status(), seed.status(), per_round.status(),
        candidates.status(), threads.status(), stealth_q.status(),
        repair_target.status()}) {
    if (!s.ok()) return Usage(std::string(s.message()), kLockHelp);
  }
  if (!(*stealth_q > 0 && *stealth_q <= 1))
    return Usage("--stealth-quantile must be in (0, 1]", kLockHelp);
  options.config.harden = parsed->switches.count("--harden") > 0;
  options.config.stealth_quantile = *stealth_q;
  options.config.repair_target = *repair_target;
  if (*max_values < 1) return Usage("--max-values must be >= 1", kLockHelp);
  if (*target > 1.0)
    return Usage("--target-accuracy must be in [0, 1]", kLockHelp);
  if (*per_round < 1 || *candidates < 1) {
    return Usage("--values-per-round and --candidates must be >= 1", kLockHelp);
  }
  options.config.max_values = static_cast<int>(*max_values);
  options.config.target_accuracy = *target;
  options.config.seed = static_cast<uint64_t>(*seed);
  options.config.include_bias = parsed->switches.count("--include-bias") > 0;
  options.config.values_per_round = static_cast<int>(*per_round);
  options.config.candidates = static_cast<int>(*candidates);
  options.config.progress = [](const LockRound& r) {
    std::cerr << absl::StrFormat(
        "lock: round %d: %d values locked, sample accuracy %.4f, loss %.4f\n",
        r.round, r.locked, r.sample_accuracy, r.loss);
  };
  options.device = parsed->Get("--device", "cpu");
  options.threads = static_cast<int>(*threads);
  auto summary = LockFile(parsed->positionals[0], parsed->Get("--data"), out,
                          parsed->Get("--key"), options);
  if (!summary.ok()) return Fail(summary.status());
  const LockResult& r = summary->result;
  const double pct =
      100.0 * r.changes.size() / std::max<int64_t>(1, r.total_parameters);
  std::cout << absl::StrFormat(
      "locked %d of %d eligible values (%.6f%%) in %d rounds; sample accuracy "
      "%.4f -> %.4f "
      "(target %.4f, stop: %s); %.2f s on %s\n",
      r.changes.size(), r.total_parameters, pct, r.rounds,
      r.sample_accuracy_before, r.sample_accuracy_after, r.target_accuracy,
      r.stop_reason, summary->seconds, summary->device);
  std::cout << "wrote " << out << " and " << parsed->Get("--key") << "\n";
  if (parsed->switches.count("--json")) {
    std::cout << absl::StrFormat(
        "{\"locked_values\":%d,\"total_parameters\":%d,\"locked_percent\":%.8f,"
        "\"sample_accuracy_before\":%.6f,\"sample_accuracy_after\":%.6f,"
        "\"target_accuracy\":%.6f,\"loss_before\":%.6f,\"loss_after\":%.6f,"
        "\"rounds\":%d,"
        "\"seconds\":%.4f,\"stop_reason\":%s,\"device\":%s,\"seed\":%d,"
        "\"harden\":%s,\"reset_zero_accuracy\":%.6f,"
        "\"reset_median_accuracy\":%.6f,\"repair_accuracy\":%.6f}\n",
        r.changes.size(), r.total_parameters, pct, r.sample_accuracy_before,
        r.sample_accuracy_after, r.target_accuracy, r.loss_before, r.loss_after,
        r.rounds, summary->seconds, JsonString(r.stop_reason),
        JsonString(summary->device), options.config.seed,
        options.config.harden ? "true" : "false", r.reset_zero_accuracy,
        r.reset_median_accuracy, r.repair_accuracy);
  }
  return 0;
}

int CmdLockBatch(const std::vector<std::string>& args) {
  if (WantsHelp(args)) return std::cout << kLockBatchHelp, 0;
  auto parsed = ParseArgs(
      args,
      {{"--data", "--output-dir", "--list", "--variants", "--max-values",
        "--target-accuracy", "--seed", "--candidates", "--device", "--threads"},
       {"--include-bias", "--json"}});
  if (!parsed.ok())
    return Usage(std::string(parsed.status().message()), kLockBatchHelp);
  std::vector<std::string> models = parsed->positionals;
  if (parsed->Has("--list")) {
    auto list = ReadFile(parsed->Get("--list"));
    if (!list.ok()) return Fail(list.status());
    for (absl::string_view line : absl::StrSplit(*list, '\n')) {
      line = absl::StripAsciiWhitespace(line);
      if (line.empty() || line[0] == '#') continue;
      models.emplace_back(line);
    }
  }
  if (models.empty())
    return Usage("lock-batch needs at least one model", kLockBatchHelp);
  if (!parsed->Has("--data") || !parsed->Has("--output-dir")) {
    return Usage("lock-batch needs --data FILE.npz and --output-dir DIR",
                 kLockBatchHelp);
  }
  auto variants = parsed->GetInt("--variants", 1);
  auto max_values = parsed->GetInt("--max-values", kDefaultMaxValues);
  auto target = parsed->GetDouble("--target-accuracy", -1.0);
  auto seed = parsed->GetInt("--seed", 0);
  auto candidates = parsed->GetInt("--candidates", 16);
  auto threads = parsed->GetInt("--threads", 0);
  for (const absl::Status& s :
       {variants.status(), max_values.status(), target.status(), seed.status(),
        candidates.status(), threads.status()}) {
    if (!s.ok()) return Usage(std::string(s.message()), kLockBatchHelp);
  }
  if (*variants < 1 || *max_values < 1 || *candidates < 1) {
    return Usage("--variants, --max-values and --candidates must be >= 1",
                 kLockBatchHelp);
  }
  BatchOptions options;
  options.variants = static_cast<int>(*variants);
  options.output_dir = parsed->Get("--output-dir");
  options.lock.config.max_values = static_cast<int>(*max_values);
  options.lock.config.target_accuracy = *target;
  options.lock.config.seed = static_cast<uint64_t>(*seed);
  options.lock.config.candidates = static_cast<int>(*candidates);
  options.lock.config.include_bias =
      parsed->switches.count("--include-bias") > 0;
  options.lock.device = parsed->Get("--device", "cpu");
  options.lock.threads = static_cast<int>(*threads);
  const auto t0 = std::chrono::steady_clock::now();
  auto items = LockBatch(
      models, parsed->Get("--data"), options,
      [](const BatchItem& item, int done, int total) {
        if (item.status.ok()) {
          std::cerr << absl::StrFormat(
              "lock-batch: [%d/%d] %s: %d values, sample accuracy %.4f -> "
              "%.4f, %.2f s\n",
              done, total, item.locked_path, item.result.changes.size(),
              item.result.sample_accuracy_before,
              item.result.sample_accuracy_after, item.seconds);
        } else {
          std::cerr << absl::StrFormat("lock-batch: [%d/%d] FAILED %s: %s\n",
                                       done, total, item.locked_path,
                                       item.status.message());
        }
      });
  if (!items.ok()) return Fail(items.status());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  int failed = 0;
  for (const BatchItem& item : *items) failed += !item.status.ok();
  const int ok = static_cast<int>(items->size()) - failed;
  std::cout << absl::StrFormat(
      "locked %d of %d items in %.2f s (%.3f locks/s)%s\n", ok, items->size(),
      seconds, ok / seconds,
      failed ? absl::StrCat("; ", failed, " FAILED") : "");
  for (const BatchItem& item : *items) {
    if (!item.status.ok()) {
      std::cout << "failed: " << item.model << " variant " << item.variant
                << ": " << item.status.message() << "\n";
    }
  }
  if (parsed->switches.count("--json")) {
    std::cout << absl::StrFormat(
        "{\"items\":%d,\"failed\":%d,\"seconds\":%.4f,\"locks_per_second\":%."
        "4f}\n",
        items->size(), failed, seconds, ok / seconds);
  }
  return failed ? kExitFailure : 0;
}

int CmdUnlock(const std::vector<std::string>& args) {
  if (WantsHelp(args)) return std::cout << kUnlockHelp, 0;
  auto parsed = ParseArgs(args, {{"--key", "-o", "--output"}, {}});
  if (!parsed.ok())
    return Usage(std::string(parsed.status().message()), kUnlockHelp);
  const std::string out = parsed->Get("-o", parsed->Get("--output"));
  if (parsed->positionals.size() != 1 || !parsed->Has("--key") || out.empty()) {
    return Usage("unlock takes LOCKED.onnx --key KEY -o MODEL.onnx",
                 kUnlockHelp);
  }
  const absl::Status s =
      UnlockFile(parsed->positionals[0], parsed->Get("--key"), out);
  if (!s.ok()) return Fail(s);
  std::cout << "wrote " << out << "\n";
  return 0;
}

int CmdKey(const std::vector<std::string>& args) {
  if (WantsHelp(args)) return std::cout << kKeyHelp, 0;
  auto parsed = ParseArgs(args, {{}, {"--values"}});
  if (!parsed.ok())
    return Usage(std::string(parsed.status().message()), kKeyHelp);
  if (parsed->positionals.size() != 1)
    return Usage("key takes one KEY file", kKeyHelp);
  auto bytes = ReadFile(parsed->positionals[0]);
  if (!bytes.ok()) return Fail(bytes.status());
  auto text = DescribeKey(*bytes, parsed->switches.count("--values") > 0);
  if (!text.ok()) {
    return Fail(absl::Status(
        text.status().code(),
        absl::StrCat(parsed->positionals[0], ": ", text.status().message())));
  }
  std::cout << *text;
  return 0;
}

int CmdVerify(const std::vector<std::string>& args) {
  if (WantsHelp(args)) return std::cout << kVerifyHelp, 0;
  auto parsed = ParseArgs(args, {{}, {}});
  if (!parsed.ok())
    return Usage(std::string(parsed.status().message()), kVerifyHelp);
  if (parsed->positionals.size() != 3) {
    return Usage("verify takes ORIGINAL.onnx LOCKED.onnx KEY", kVerifyHelp);
  }
  const absl::Status s = VerifyFiles(
      parsed->positionals[0], parsed->positionals[1], parsed->positionals[2]);
  if (!s.ok()) return Fail(s);
  std::cout << "OK: the key unlocks " << parsed->positionals[1]
            << " into exactly " << parsed->positionals[0] << "\n";
  return 0;
}

int CmdAttack(const std::vector<std::string>& args) {
  if (WantsHelp(args)) return std::cout << kAttackHelp, 0;
  auto parsed = ParseArgs(
      args, {{"--data",       "--eval-data", "--key",        "-o",
              "--output",     "--limit",     "--eval-limit", "--fraction",
              "--percentile", "--k",         "--score",      "--reset",
              "--epochs",     "--lr",        "--optimizer",  "--momentum",
              "--batch-size", "--seed",      "--device",     "--threads",
              "--reinit"},
             {"--json", "--from-scratch", "--include-bias"}});
  if (!parsed.ok())
    return Usage(std::string(parsed.status().message()), kAttackHelp);
  if (parsed->positionals.size() != 2)
    return Usage("attack takes KIND and LOCKED.onnx", kAttackHelp);
  if (!parsed->Has("--eval-data"))
    return Usage("attack needs --eval-data TEST.npz", kAttackHelp);
  AttackRequest r;
  r.kind = parsed->positionals[0];
  r.model_path = parsed->positionals[1];
  r.data_path = parsed->Get("--data");
  r.eval_data_path = parsed->Get("--eval-data");
  r.key_path = parsed->Get("--key");
  r.output_path = parsed->Get("-o", parsed->Get("--output"));
  r.include_bias = parsed->switches.count("--include-bias") > 0;
  r.from_scratch = parsed->switches.count("--from-scratch") > 0;
  if (parsed->Has("--reinit")) {
    for (absl::string_view name :
         absl::StrSplit(parsed->Get("--reinit"), ',', absl::SkipEmpty())) {
      r.reinit.emplace_back(name);
    }
    if (r.reinit.empty())
      return Usage("--reinit needs tensor names (comma-separated)",
                   kAttackHelp);
    if (r.kind != "finetune")
      return Usage("--reinit applies to attack finetune only", kAttackHelp);
  }
  r.device = parsed->Get("--device", "cpu");
  auto limit = parsed->GetInt("--limit", 0);
  auto eval_limit = parsed->GetInt("--eval-limit", 0);
  auto fraction = parsed->GetDouble("--fraction", 0.5);
  auto percentile = parsed->GetDouble("--percentile", 99.0);
  auto k = parsed->GetInt("--k", 0);
  auto epochs = parsed->GetInt("--epochs", 5);
  auto lr = parsed->GetDouble("--lr", 1e-3);
  auto momentum = parsed->GetDouble("--momentum", 0.9);
  auto batch = parsed->GetInt("--batch-size", 32);
  auto seed = parsed->GetInt("--seed", 0);
  auto threads = parsed->GetInt("--threads", 0);
  for (const absl::Status& s :
       {limit.status(), eval_limit.status(), fraction.status(),
        percentile.status(), k.status(), epochs.status(), lr.status(),
        momentum.status(), batch.status(), seed.status(), threads.status()}) {
    if (!s.ok()) return Usage(std::string(s.message()), kAttackHelp);
  }
  if (r.kind == "prune" && !(*fraction >= 0 && *fraction <= 1))
    return Usage("--fraction must be in [0, 1]", kAttackHelp);
  if (r.kind == "clip" && !(*percentile >= 0 && *percentile <= 100))
    return Usage("--percentile must be in [0, 100]", kAttackHelp);
  if (*k < 0 || *epochs < 0 || *batch < 1 || *lr < 0)
    return Usage("--k, --epochs, --lr must be >= 0 and --batch-size >= 1",
                 kAttackHelp);
  const std::string score = parsed->Get("--score", "gw");
  const std::string reset = parsed->Get("--reset", "zero");
  const std::string optimizer = parsed->Get("--optimizer", "adam");
  if (score != "gw" && score != "g")
    return Usage("--score must be gw or g", kAttackHelp);
  if (reset != "zero" && reset != "median")
    return Usage("--reset must be zero or median", kAttackHelp);
  if (optimizer != "adam" && optimizer != "sgd")
    return Usage("--optimizer must be adam or sgd", kAttackHelp);
  r.limit = *limit;
  r.eval_limit = *eval_limit;
  r.fraction = *fraction;
  r.percentile = *percentile;
  r.threads = static_cast<int>(*threads);
  r.repair.k = *k;
  r.repair.score =
      score == "g" ? SaliencyScore::kGrad : SaliencyScore::kGradTimesWeight;
  r.repair.reset = reset == "median" ? ResetValue::kMedian : ResetValue::kZero;
  r.finetune.epochs = static_cast<int>(*epochs);
  r.finetune.lr = *lr;
  r.finetune.momentum = *momentum;
  r.finetune.batch_size = *batch;
  r.finetune.seed = static_cast<uint64_t>(*seed);
  r.finetune.optimizer =
      optimizer == "sgd" ? Optimizer::kSgd : Optimizer::kAdam;
  r.finetune.progress = [](int epoch, double loss) {
    std::cerr << absl::StrFormat("finetune: epoch %d, train loss %.4f\n", epoch,
                                 loss);
  };
  auto report = RunAttack(r);
  if (!report.ok()) return Fail(report.status());
  std::cout << absl::StrFormat("attack %s: accuracy %.4f -> %.4f (%.2f s)\n",
                               report->kind, report->accuracy_before,
                               report->accuracy, report->seconds);
  std::vector<std::string> fields;
  for (const auto& [name, value] : report->fields) {
    if (!parsed->switches.count("--json")) {
      std::cout << "  " << name << ": " << value << "\n";
    }
    fields.push_back(absl::StrCat(JsonString(name), ":", value));
  }
  if (parsed->switches.count("--json")) {
    std::cout << "{" << absl::StrJoin(fields, ",") << "}\n";
  }
  return 0;
}

}  // namespace
}  // namespace onnx_crypt::cli

int main(int argc, char** argv) {
  using namespace onnx_crypt::cli;
  onnx_crypt::ReexecWithBetterOpenBlasKernels(argv);
  if (argc < 2) return std::cerr << kUsage, kExitUsage;
  const std::string cmd = argv[1];
  const std::vector<std::string> args(argv + 2, argv + argc);
  if (cmd == "--help" || cmd == "-h" || cmd == "help")
    return std::cout << kUsage, 0;
  if (cmd == "info") return CmdInfo(args);
  if (cmd == "eval") return CmdEval(args);
  if (cmd == "lock") return CmdLock(args);
  if (cmd == "lock-batch") return CmdLockBatch(args);
  if (cmd == "unlock") return CmdUnlock(args);
  if (cmd == "key") return CmdKey(args);
  if (cmd == "verify") return CmdVerify(args);
  if (cmd == "attack") return CmdAttack(args);
  std::cerr << "onnx-crypt: unknown command '" << cmd << "'\n\n" << kUsage;
  return kExitUsage;
}
