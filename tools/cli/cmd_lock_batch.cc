// onnx-crypt lock-batch: many models, and per-customer variants, in one run.
#include <chrono>
#include <iostream>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "onnx_crypt/api.h"
#include "onnx_crypt/base/file.h"
#include "tools/cli/commands.h"
#include "tools/cli/flags.h"
#include "tools/cli/json.h"
#include "tools/cli/progress.h"

namespace onnx_crypt::cli {
namespace {

constexpr char kHelp[] =
    R"(usage: onnx-crypt lock-batch MODEL.onnx [MODEL.onnx ...] [--list FILE] [--variants N]
                       --data FILE.npz --output-dir DIR
                       [--max-values N] [--target-accuracy A] [--seed S] [--include-bias]
                       [--values-per-round K] [--candidates M] [--device cpu|cuda|auto]
                       [--threads N] [--stealth-quantile Q] [--repair-target R] [--fast]
                       [--output NAME] [--passphrase-file F] [--shard I/N] [--json] [--quiet]

Locks every MODEL (and those listed in FILE, one path per line, # for comments) with the owner
samples of FILE.npz (x, or one array per model input by input name, as for lock; --output NAME
picks the classification output as for lock). With --variants N, each model is locked N
times with seeds S, S+1, ... and a seeded half of the positions left out per variant, so
variants differ in positions and values and each key unlocks only its own variant. For NAME.onnx and variant i it writes
DIR/NAME-i.onnx and DIR/NAME-i.key. One engine per model serves all its variants; files are
written while the next variant is computed. A failing model is reported and skipped (nothing
half-written is left); the exit status is 1 if any item failed. With --json the last line is
one JSON object: items, failed, seconds, locks_per_second.
--shard I/N (0 <= I < N) does only the I-th of N equal, contiguous slices of the items
(models x variants, in the order above), with the outputs named as without it: N processes
(a Slurm job array, a Kubernetes Indexed Job; see tools/launch/) together write exactly the
files of one unsharded run, byte for byte, and never the same file.
The lock options are those of `onnx-crypt lock` (see its --help), with the same defaults:
--max-values N values at most, --target-accuracy A, --values-per-round K (at most K values
per round, default 4) out of at most --candidates M (default 16), --include-bias, the hardened
lock's --stealth-quantile Q and --repair-target R, and --fast for the fast, not
repair-resistant loop.
--passphrase-file F (or the file the environment variable ONNX_CRYPT_PASSPHRASE_FILE names):
wrap every key with that passphrase, each with its own random salt and nonce (see
`onnx-crypt lock --help`). Keys are written owner-only (mode 0600), wrapped or not.
Progress goes to stderr. On a terminal: one line redrawn in place with a bar over the items
(with the running lock's own progress), the items failed, the running item with its round
and values locked (or the items done), the time so far and an ETA; a failed item also gets
its own line above the bar. Otherwise (a file, a pipe) one line per item:
"lock-batch: [DONE/TOTAL] DIR/NAME-i.onnx: V values, sample accuracy X -> Y, S s", or
"lock-batch: [DONE/TOTAL] FAILED DIR/NAME-i.onnx: WHY". ONNX_CRYPT_PROGRESS=bar, plain or
none overrides the choice. --quiet (-q): no progress; errors and the summary on stdout (which
names every failed item) still print. Outputs and stdout are the same in every mode.
)";

// The plain progress line of a finished item.
std::string ItemLine(const BatchItem& item, int done, int total) {
  if (item.status.ok()) {
    return absl::StrFormat(
               "lock-batch: [%d/%d] %s: %d values, sample accuracy %.4f -> "
               "%.4f, "
               "%.2f s",
               done, total, item.locked_path, item.result.changes.size(),
               item.result.sample_accuracy_before,
               item.result.sample_accuracy_after, item.seconds) +
           (item.result.repair_accuracy >= 0
                ? absl::StrFormat(", simulated repair %.4f",
                                  item.result.repair_accuracy)
                : std::string());
  }
  return absl::StrFormat("lock-batch: [%d/%d] FAILED %s: %s", done, total,
                         item.locked_path, item.status.message());
}

// The batch's progress: a round of the running lock and each finished item
// move the bar (BatchFraction); in plain mode each item is one line, and a
// failed item is a line in bar mode too. Callbacks come on the calling thread.
class BatchProgressView {
 public:
  BatchProgressView(Progress& progress, int total, int max_values)
      : progress_(progress), total_(total), estimate_(total, max_values) {}

  void OnRound(const LockRound& r) {
    estimate_.OnRound(r);
    round_ =
        absl::StrFormat("item %d/%d round %d, %d values",
                        estimate_.current_item(), total_, r.round, r.locked);
    progress_.Update(estimate_.fraction(), Status());
  }

  void OnItem(const BatchItem& item, int done, int total) {
    estimate_.OnItem(done);
    done_ = done;
    failed_ += !item.status.ok();
    if (estimate_.current_item() == 0) round_.clear();
    const std::string line = ItemLine(item, done, total);
    progress_.Update(estimate_.fraction(), Status(),
                     item.status.ok() ? line : "");
    if (!item.status.ok()) progress_.Print(line);
  }

 private:
  // "[F failed; ]item K/T round R, V values" while item K locks, else
  // "[F failed; ]D/T done": what a narrow terminal cuts comes last.
  std::string Status() const {
    return absl::StrCat(
        failed_ ? absl::StrCat(failed_, " failed; ") : "",
        round_.empty() ? absl::StrCat(done_, "/", total_, " done") : round_);
  }

  Progress& progress_;
  const int total_;
  BatchFraction estimate_;
  int done_ = 0, failed_ = 0;
  std::string round_;
};

// The models named on the command line, then those of --list.
absl::StatusOr<std::vector<std::string>> Models(const ParsedArgs& parsed) {
  std::vector<std::string> models = parsed.positionals;
  if (parsed.Has("--list")) {
    absl::StatusOr<std::string> list = ReadFile(parsed.Get("--list"));
    if (!list.ok()) return list.status();
    for (absl::string_view line : absl::StrSplit(*list, '\n')) {
      line = absl::StripAsciiWhitespace(line);
      if (line.empty() || line[0] == '#') continue;
      models.emplace_back(line);
    }
  }
  return models;
}

// "I/N" with 0 <= I < N.
absl::StatusOr<std::pair<int, int>> ParseShard(const std::string& text) {
  const std::vector<std::string> parts = absl::StrSplit(text, '/');
  int index = 0, count = 0;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &index) ||
      !absl::SimpleAtoi(parts[1], &count) || count < 1 || index < 0 ||
      index >= count) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--shard: '", text, "' is not I/N with 0 <= I < N (e.g. 0/4)"));
  }
  return std::make_pair(index, count);
}

int Run(const Args& args) {
  auto parsed = ParseArgs(
      args, WithQuietFlag(WithLockFlags(
                {{"--data", "--output-dir", "--list", "--variants", "--shard"},
                 {"--json"}})));
  if (!parsed.ok()) return Usage(parsed.status().message(), kHelp);
  absl::StatusOr<std::vector<std::string>> models = Models(*parsed);
  if (!models.ok()) return Fail(models.status());
  if (models->empty())
    return Usage("lock-batch needs at least one model", kHelp);
  if (!parsed->Has("--data") || !parsed->Has("--output-dir")) {
    return Usage("lock-batch needs --data FILE.npz and --output-dir DIR",
                 kHelp);
  }
  auto variants = parsed->GetInt("--variants", 1);
  if (!variants.ok()) return Usage(variants.status().message(), kHelp);
  if (*variants < 1) return Usage("--variants must be >= 1", kHelp);
  absl::StatusOr<LockOptions> lock = ParseLockOptions(*parsed);
  if (!lock.ok()) return Usage(lock.status().message(), kHelp);
  absl::StatusOr<std::optional<std::string>> passphrase =
      ReadPassphraseFlag(*parsed);
  if (!passphrase.ok()) return Fail(passphrase.status());
  lock->passphrase = *std::move(passphrase);
  BatchOptions options;
  if (parsed->Has("--shard")) {
    absl::StatusOr<std::pair<int, int>> shard =
        ParseShard(parsed->Get("--shard"));
    if (!shard.ok()) return Usage(shard.status().message(), kHelp);
    options.shard_index = shard->first;
    options.shard_count = shard->second;
  }
  options.variants = static_cast<int>(*variants);
  options.output_dir = parsed->Get("--output-dir");
  options.lock = *std::move(lock);
  const ShardRange shard = ShardOf(models->size() * options.variants,
                                   options.shard_index, options.shard_count);
  Progress progress("lock-batch", DetectProgressMode(QuietFlag(*parsed)),
                    StderrTerminal());
  BatchProgressView view(progress, static_cast<int>(shard.end - shard.begin),
                         options.lock.config.max_values);
  options.lock.config.progress = [&view](const LockRound& r) {
    view.OnRound(r);
  };
  const auto t0 = std::chrono::steady_clock::now();
  auto items = LockBatch(*models, parsed->Get("--data"), options,
                         [&view](const BatchItem& item, int done, int total) {
                           view.OnItem(item, done, total);
                         });
  progress.Finish(items.ok());
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
    } else if (const std::string w = RepairShortfallWarning(
                   item.result, options.lock.config.max_values, "--max-values",
                   "--stealth-quantile");
               !w.empty()) {
      std::cerr << "onnx-crypt: " << item.locked_path << ": warning: " << w
                << "\n";
    }
  }
  if (parsed->switches.count("--json")) {
    JsonWriter json;
    json.BeginObject()
        .Field("items", static_cast<int64_t>(items->size()))
        .Field("shard",
               absl::StrCat(options.shard_index, "/", options.shard_count))
        .Field("failed", failed)
        .Field("seconds", seconds, 4)
        .Field("locks_per_second", ok / seconds, 4)
        .EndObject();
    std::cout << json.str() << "\n";
  }
  return failed ? kExitFailure : kExitOk;
}

}  // namespace

const Command kLockBatchCommand = {
    "lock-batch",
    "MODEL.onnx [MODEL.onnx ...] [--list FILE] [--variants N] --data FILE.npz\n"
    "--output-dir DIR",
    "lock many models / per-customer variants in one run", kHelp, &Run};

}  // namespace onnx_crypt::cli
