// onnx-crypt attack: attacks a locked model as an infringer without the key
// would, and reports the accuracy before and after.
#include <iostream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "onnx_crypt/attack/attack.h"
#include "onnx_crypt/base/status.h"
#include "tools/cli/commands.h"
#include "tools/cli/flags.h"
#include "tools/cli/json.h"
#include "tools/cli/progress.h"

namespace onnx_crypt::cli {
namespace {

constexpr char kHelp[] =
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
A passphrase-wrapped KEY needs --passphrase-file F (whole file, one trailing newline removed)
or, without the flag, the file the environment variable ONNX_CRYPT_PASSPHRASE_FILE names.
Common: [--limit N] first N training samples, [--eval-limit N] first N test samples,
[--include-bias] (prune/clip/repair/outliers also see biases), [-o OUT.onnx] write the
attacked model, [--output NAME] the classification output of a model with several,
[--device cpu|cuda|auto] [--threads N] [--json] [--quiet]. The data files hold x (or one
array per model input, by input name) and y. With --json the
last line of stdout is one JSON object: accuracy (after), accuracy_before, and the attack's
parameters.
finetune reports its progress on stderr: on a terminal, one line redrawn in place with a bar
over the epochs, the epoch, its training loss, the time so far and an ETA; otherwise (a file,
a pipe) one line per epoch, "finetune: epoch E, train loss L". ONNX_CRYPT_PROGRESS=bar, plain
or none overrides the choice. --quiet (-q): no progress; errors still print. Outputs and
stdout are the same in every mode.
)";

FlagSpec Flags() {
  return WithQuietFlag(WithPassphraseFlag(
      {{"--data",       "--eval-data", "--key",        "-o",
        "--output",     "--limit",     "--eval-limit", "--fraction",
        "--percentile", "--k",         "--score",      "--reset",
        "--epochs",     "--lr",        "--optimizer",  "--momentum",
        "--batch-size", "--seed",      "--device",     "--threads",
        "--reinit"},
       {"--json", "--from-scratch", "--include-bias"}}));
}

// The request the flags describe; any error is a usage error.
absl::StatusOr<AttackRequest> ParseRequest(const ParsedArgs& parsed) {
  AttackRequest r;
  r.kind = parsed.positionals[0];
  if (r.kind != "finetune" && r.kind != "prune" && r.kind != "clip" &&
      r.kind != "repair" && r.kind != "outliers") {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown attack '", r.kind,
                     "' (finetune, prune, clip, repair, outliers)"));
  }
  r.model_path = parsed.positionals[1];
  r.data_path = parsed.Get("--data");
  r.eval_data_path = parsed.Get("--eval-data");
  r.key_path = parsed.Get("--key");
  r.output_path = parsed.Get("-o");
  r.output = parsed.Get("--output");
  r.include_bias = parsed.switches.count("--include-bias") > 0;
  r.from_scratch = parsed.switches.count("--from-scratch") > 0;
  if (parsed.Has("--reinit")) {
    for (absl::string_view name :
         absl::StrSplit(parsed.Get("--reinit"), ',', absl::SkipEmpty())) {
      r.reinit.emplace_back(name);
    }
    if (r.reinit.empty()) {
      return absl::InvalidArgumentError(
          "--reinit needs tensor names (comma-separated)");
    }
    if (r.kind != "finetune") {
      return absl::InvalidArgumentError(
          "--reinit applies to attack finetune only");
    }
  }
  OC_ASSIGN_OR_RETURN(r.device, ParseDeviceFlag(parsed, "cpu"));
  OC_ASSIGN_OR_RETURN(r.threads, ParseThreadsFlag(parsed));
  auto limit = parsed.GetInt("--limit", 0);
  auto eval_limit = parsed.GetInt("--eval-limit", 0);
  auto fraction = parsed.GetDouble("--fraction", 0.5);
  auto percentile = parsed.GetDouble("--percentile", 99.0);
  auto k = parsed.GetInt("--k", 0);
  auto epochs = parsed.GetInt("--epochs", 5);
  auto lr = parsed.GetDouble("--lr", 1e-3);
  auto momentum = parsed.GetDouble("--momentum", 0.9);
  auto batch = parsed.GetInt("--batch-size", 32);
  auto seed = parsed.GetInt("--seed", 0);
  for (const absl::Status& s :
       {limit.status(), eval_limit.status(), fraction.status(),
        percentile.status(), k.status(), epochs.status(), lr.status(),
        momentum.status(), batch.status(), seed.status()}) {
    if (!s.ok()) return s;
  }
  if (r.kind == "prune" && !(*fraction >= 0 && *fraction <= 1))
    return absl::InvalidArgumentError("--fraction must be in [0, 1]");
  if (r.kind == "clip" && !(*percentile >= 0 && *percentile <= 100))
    return absl::InvalidArgumentError("--percentile must be in [0, 100]");
  if (*k < 0 || *epochs < 0 || *batch < 1 || *lr < 0) {
    return absl::InvalidArgumentError(
        "--k, --epochs, --lr must be >= 0 and --batch-size >= 1");
  }
  const std::string score = parsed.Get("--score", "gw");
  const std::string reset = parsed.Get("--reset", "zero");
  const std::string optimizer = parsed.Get("--optimizer", "adam");
  if (score != "gw" && score != "g")
    return absl::InvalidArgumentError("--score must be gw or g");
  if (reset != "zero" && reset != "median")
    return absl::InvalidArgumentError("--reset must be zero or median");
  if (optimizer != "adam" && optimizer != "sgd")
    return absl::InvalidArgumentError("--optimizer must be adam or sgd");
  r.limit = *limit;
  r.eval_limit = *eval_limit;
  r.fraction = *fraction;
  r.percentile = *percentile;
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
  return r;
}

int Run(const Args& args) {
  auto parsed = ParseArgs(args, Flags());
  if (!parsed.ok()) return Usage(parsed.status().message(), kHelp);
  if (parsed->positionals.size() != 2)
    return Usage("attack takes KIND and LOCKED.onnx", kHelp);
  if (!parsed->Has("--eval-data"))
    return Usage("attack needs --eval-data TEST.npz", kHelp);
  absl::StatusOr<AttackRequest> request = ParseRequest(*parsed);
  if (!request.ok()) return Usage(request.status().message(), kHelp);
  if (parsed->Has("--key")) {  // only a key needs a passphrase
    absl::StatusOr<std::optional<std::string>> passphrase =
        ReadPassphraseFlag(*parsed);
    if (!passphrase.ok()) return Fail(passphrase.status());
    request->passphrase = *std::move(passphrase);
  }
  // Only finetune reports progress (one call per epoch); the other attacks
  // are a single pass.
  std::unique_ptr<Progress> progress;
  if (request->kind == "finetune" && request->finetune.epochs > 0) {
    progress = std::make_unique<Progress>(
        "finetune", DetectProgressMode(QuietFlag(*parsed)), StderrTerminal());
    const int epochs = request->finetune.epochs;
    request->finetune.progress = [p = progress.get(), epochs](int epoch,
                                                              double loss) {
      p->Update(
          static_cast<double>(epoch) / epochs,
          absl::StrFormat("epoch %d/%d, train loss %.4f", epoch, epochs, loss),
          absl::StrFormat("finetune: epoch %d, train loss %.4f", epoch, loss));
    };
  }
  auto report = RunAttack(*request);
  if (progress) progress->Finish(report.ok());
  if (!report.ok()) return Fail(report.status());
  std::cout << absl::StrFormat("attack %s: accuracy %.4f -> %.4f (%.2f s)\n",
                               report->kind, report->accuracy_before,
                               report->accuracy, report->seconds);
  const bool as_json = parsed->switches.count("--json") > 0;
  JsonWriter json;
  json.BeginObject();
  for (const auto& [name, value] : report->fields) {
    if (!as_json) std::cout << "  " << name << ": " << value << "\n";
    json.Key(name).Raw(value);  // the report's values are JSON already
  }
  json.EndObject();
  if (as_json) std::cout << json.str() << "\n";
  return kExitOk;
}

}  // namespace

const Command kAttackCommand = {
    "attack", "KIND LOCKED.onnx --data TRAIN.npz --eval-data TEST.npz",
    "attack a locked model as an infringer would\n"
    "(finetune, prune, clip, repair, outliers)",
    kHelp, &Run};

}  // namespace onnx_crypt::cli
