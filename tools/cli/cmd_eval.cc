// onnx-crypt eval: top-1 accuracy and throughput of a model on an npz.
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
    R"(usage: onnx-crypt eval MODEL.onnx --data FILE.npz [--batch-size N] [--device cpu|cuda|auto]
                       [--threads N] [--output NAME] [--dump-outputs OUT.npz] [--json] [--quiet]

Runs the model on the samples of FILE.npz (array x, batch first, for a single-input model; a
model with several inputs takes one array per input, named after it, each with its input's
dtype and shape; optional y, int64 labels) and prints top-1 accuracy (when y is present) and
samples per second (forward passes only: the first batch runs once untimed first, to create the
kernels). --output NAME: the classification output, when the model has several
(default: the first); logits [N, C] or [N, 1, C]. With --json the
last line of stdout is one JSON object: accuracy, samples, seconds, samples_per_second, device.
--dump-outputs writes the first output of every sample ("out") and its argmax ("pred").
Progress goes to stderr: a bar on a terminal, otherwise "eval: DONE/TOTAL samples" about every
10 % (ONNX_CRYPT_PROGRESS=bar, plain or none overrides the choice); --quiet (-q): none.
)";

int Run(const Args& args) {
  auto parsed = ParseArgs(
      args, WithQuietFlag({{"--data", "--batch-size", "--device", "--threads",
                            "--dump-outputs", "--output"},
                           {"--json"}}));
  if (!parsed.ok()) return Usage(parsed.status().message(), kHelp);
  if (parsed->positionals.size() != 1)
    return Usage("eval takes one MODEL.onnx", kHelp);
  if (!parsed->Has("--data")) return Usage("eval needs --data FILE.npz", kHelp);
  EvalOptions options;
  auto bs = parsed->GetInt("--batch-size", 256);
  auto threads = ParseThreadsFlag(*parsed);
  auto device = ParseDeviceFlag(*parsed, "cpu");
  if (!bs.ok()) return Usage(bs.status().message(), kHelp);
  if (!threads.ok()) return Usage(threads.status().message(), kHelp);
  if (!device.ok()) return Usage(device.status().message(), kHelp);
  if (*bs <= 0) return Usage("--batch-size must be positive", kHelp);
  options.batch_size = *bs;
  options.threads = *threads;
  options.device = *device;
  Progress progress("eval", DetectProgressMode(QuietFlag(*parsed)),
                    StderrTerminal());
  options.progress = SampleProgress(progress, "eval");
  options.dump_outputs = parsed->Get("--dump-outputs");
  options.output = parsed->Get("--output");
  auto report =
      EvaluateFile(parsed->positionals[0], parsed->Get("--data"), options);
  progress.Finish(report.ok());
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
    JsonWriter json;
    json.BeginObject().Key("accuracy");
    if (report->has_labels) {
      json.Fixed(report->accuracy, 6);
    } else {
      json.Null();
    }
    json.Field("samples", report->samples)
        .Field("seconds", report->seconds, 6)
        .Field("samples_per_second", sps, 3)
        .Field("device", report->device)
        .EndObject();
    std::cout << json.str() << "\n";
  }
  return kExitOk;
}

}  // namespace

const Command kEvalCommand = {"eval", "MODEL.onnx --data FILE.npz",
                              "top-1 accuracy and throughput", kHelp, &Run};

}  // namespace onnx_crypt::cli
