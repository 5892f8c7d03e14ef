// RunAttack: one attack on a model file, evaluated on held-out data (the CLI's
// `attack` command). Loads the model into an engine, measures it, runs the
// attack on the engine, measures again, and lists the parameters and results
// as JSON-ready fields.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "onnx_crypt/attack/attack.h"
#include "onnx_crypt/base/file.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/data/npz.h"
#include "onnx_crypt/engine/classifier.h"
#include "onnx_crypt/engine/evaluate.h"
#include "onnx_crypt/engine/factory.h"
#include "onnx_crypt/engine/samples.h"
#include "onnx_crypt/key/key.h"
#include "onnx_crypt/key/key_wrap.h"
#include "onnx_crypt/onnx/model.h"

namespace onnx_crypt {

namespace {

struct Labelled {
  Feeds x;  // one array per data input (engine/samples.h)
  std::vector<int64_t> y;
};

absl::StatusOr<Labelled> LoadLabelled(const Graph& graph,
                                      const std::string& path, int64_t limit,
                                      const char* flag) {
  if (path.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("attack needs ", flag, " FILE.npz"));
  }
  OC_ASSIGN_OR_RETURN(Dataset d, LoadDataset(path));
  if (d.y.dtype() == DType::kUndefined) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": attack needs labels (array y)"));
  }
  Labelled out;
  out.y = d.y.ToInt64Vector();
  OC_ASSIGN_OR_RETURN(out.x, BindSamples(graph, d.inputs, out.y, path));
  const int64_t n = SampleCount(out.x);
  if (limit > 0 && limit < n) {
    out.x = SliceSamples(out.x, 0, limit);
    out.y.resize(static_cast<size_t>(limit));
  }
  return out;
}

// A JSON number; JSON has no NaN or infinity (a diverged fine-tune's loss).
std::string Num(double v) {
  return std::isfinite(v) ? absl::StrFormat("%.6g", v) : "null";
}
std::string Str(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    out += c;
  }
  return out + "\"";
}

absl::StatusOr<std::vector<ValuePosition>> LockedPositions(
    const std::string& key_path, const std::optional<std::string>& passphrase) {
  OC_ASSIGN_OR_RETURN(std::string bytes, ReadFile(key_path));
  absl::StatusOr<keyfile::LockKey> opened = OpenKey(bytes, passphrase);
  if (!opened.ok()) return Annotate(opened.status(), key_path);
  const keyfile::LockKey& key = *opened;
  std::vector<ValuePosition> out;
  for (const keyfile::LockedValue& v : key.values())
    out.emplace_back(v.tensor(), v.index());
  return out;
}

}  // namespace

absl::StatusOr<AttackReport> RunAttack(const AttackRequest& request) {
  static const std::set<std::string> kKinds = {"finetune", "prune", "clip",
                                               "repair", "outliers"};
  if (!kKinds.count(request.kind)) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown attack '", request.kind,
                     "' (finetune, prune, clip, repair, outliers)"));
  }
  // -o must not name an input: the attacked model would replace it.
  if (!request.output_path.empty()) {
    const std::pair<const std::string*, const char*> inputs[] = {
        {&request.model_path, "model"},
        {&request.data_path, "training data"},
        {&request.eval_data_path, "evaluation data"},
        {&request.key_path, "key"}};
    for (const auto& [input, what] : inputs) {
      if (!input->empty() && SamePath(request.output_path, *input)) {
        return absl::InvalidArgumentError(
            absl::StrCat("refusing to overwrite the ", what, " ", *input,
                         " with the attacked model"));
      }
    }
  }
  const auto start = std::chrono::steady_clock::now();
  OC_ASSIGN_OR_RETURN(OnnxModel model, OnnxModel::Load(request.model_path));
  OC_ASSIGN_OR_RETURN(Graph graph, model.ToGraph());
  OC_RETURN_IF_ERROR(
      PrepareClassifierGraph(graph, request.output, model.inferred_values()));
  OC_ASSIGN_OR_RETURN(
      std::unique_ptr<Engine> engine,
      CreateEngine(std::move(graph), request.device, request.threads));
  OC_ASSIGN_OR_RETURN(Labelled eval,
                      LoadLabelled(engine->graph(), request.eval_data_path,
                                   request.eval_limit, "--eval-data"));

  AttackReport report;
  report.kind = request.kind;
  auto& f = report.fields;
  f.emplace_back("attack", Str(request.kind));
  f.emplace_back("model", Str(request.model_path));
  OC_ASSIGN_OR_RETURN(report.accuracy_before,
                      Accuracy(*engine, eval.x, eval.y, request.batch_size));

  std::vector<ValuePosition> locked;
  if (!request.key_path.empty()) {
    OC_ASSIGN_OR_RETURN(locked,
                        LockedPositions(request.key_path, request.passphrase));
  }
  const bool bias = request.include_bias || request.kind == "finetune";
  const std::vector<std::string> tensors = AttackTensors(engine->graph(), bias);
  f.emplace_back("include_bias", bias ? "true" : "false");

  if (request.kind == "prune") {
    OC_ASSIGN_OR_RETURN(int64_t zeroed,
                        PruneGlobal(*engine, tensors, request.fraction));
    f.emplace_back("fraction", Num(request.fraction));
    f.emplace_back("zeroed", absl::StrCat(zeroed));
  } else if (request.kind == "clip") {
    OC_ASSIGN_OR_RETURN(int64_t changed,
                        ClipTensors(*engine, tensors, request.percentile));
    f.emplace_back("percentile", Num(request.percentile));
    f.emplace_back("changed", absl::StrCat(changed));
  } else if (request.kind == "repair" || request.kind == "finetune") {
    OC_ASSIGN_OR_RETURN(Labelled train,
                        LoadLabelled(engine->graph(), request.data_path,
                                     request.limit, "--data"));
    f.emplace_back("data", Str(request.data_path));
    f.emplace_back("samples", absl::StrCat(SampleCount(train.x)));
    if (request.kind == "repair") {
      const RepairOptions& o = request.repair;
      OC_ASSIGN_OR_RETURN(std::vector<ValuePosition> reset,
                          Repair(*engine, tensors, train.x, train.y, o));
      f.emplace_back("k", absl::StrCat(o.k));
      f.emplace_back("score",
                     Str(o.score == SaliencyScore::kGrad ? "g" : "gw"));
      f.emplace_back("reset",
                     Str(o.reset == ResetValue::kZero ? "zero" : "median"));
      if (!locked.empty()) {
        const std::set<ValuePosition> hit(reset.begin(), reset.end());
        int64_t found = 0;
        for (const ValuePosition& p : locked) found += hit.count(p);
        f.emplace_back("locked_values", absl::StrCat(locked.size()));
        f.emplace_back("locked_reset", absl::StrCat(found));
      }
    } else {
      const FineTuneOptions& o = request.finetune;
      if (request.from_scratch && !request.reinit.empty()) {
        return absl::InvalidArgumentError(
            "attack finetune: --from-scratch and --reinit exclude each other");
      }
      if (request.from_scratch) {
        OC_RETURN_IF_ERROR(ReinitializeTensors(*engine, tensors, o.seed));
      }
      if (!request.reinit.empty()) {
        for (const std::string& name : request.reinit) {
          if (std::find(tensors.begin(), tensors.end(), name) ==
              tensors.end()) {
            return absl::InvalidArgumentError(
                absl::StrCat("attack finetune --reinit: '", name,
                             "' is not a trainable float weight or bias of ",
                             request.model_path));
          }
        }
        OC_RETURN_IF_ERROR(
            ReinitializeTensors(*engine, request.reinit, o.seed));
      }
      OC_ASSIGN_OR_RETURN(std::vector<double> losses,
                          FineTune(*engine, tensors, train.x, train.y, o));
      f.emplace_back("from_scratch", request.from_scratch ? "true" : "false");
      std::string reinit = "[";
      for (size_t i = 0; i < request.reinit.size(); ++i)
        absl::StrAppend(&reinit, i ? "," : "", Str(request.reinit[i]));
      f.emplace_back("reinit", reinit + "]");
      f.emplace_back("optimizer",
                     Str(o.optimizer == Optimizer::kAdam ? "adam" : "sgd"));
      f.emplace_back("lr", Num(o.lr));
      f.emplace_back("epochs", absl::StrCat(o.epochs));
      f.emplace_back("batch_size", absl::StrCat(o.batch_size));
      f.emplace_back("seed", absl::StrCat(o.seed));
      f.emplace_back("final_train_loss",
                     losses.empty() ? "null" : Num(losses.back()));
    }
  } else {  // outliers
    if (locked.empty()) {
      return absl::InvalidArgumentError(
          "attack outliers needs --key KEY (the locked positions)");
    }
    OC_ASSIGN_OR_RETURN(OutlierReport o,
                        LockedOutliers(*engine, tensors, locked));
    f.emplace_back("locked_values", absl::StrCat(o.locked));
    f.emplace_back("total_values", absl::StrCat(o.total_values));
    for (const OutlierDetector& d : o.detectors) {
      f.emplace_back(d.name + "_top_0_01", absl::StrCat(d.in_top_0_01));
      f.emplace_back(d.name + "_top_0_1", absl::StrCat(d.in_top_0_1));
      f.emplace_back(d.name + "_best_rank", absl::StrCat(d.best_rank));
    }
    f.emplace_back("any_top_0_1", absl::StrCat(o.any_in_top_0_1));
    f.emplace_back("repeated", absl::StrCat(o.repeated));
  }

  OC_ASSIGN_OR_RETURN(report.accuracy,
                      Accuracy(*engine, eval.x, eval.y, request.batch_size));
  if (!request.output_path.empty()) {
    for (const std::string& name : tensors) {
      OC_ASSIGN_OR_RETURN(Tensor t, engine->GetInitializer(name));
      // In the file's type (a float16 tensor computes in float32 here).
      auto narrow = engine->graph().narrow_storage.find(name);
      if (narrow != engine->graph().narrow_storage.end())
        t = t.CastTo(narrow->second);
      OC_RETURN_IF_ERROR(model.WriteInitializer(name, t));
    }
    OC_RETURN_IF_ERROR(model.Save(request.output_path));
  }
  report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  f.emplace_back("eval_samples", absl::StrCat(SampleCount(eval.x)));
  f.emplace_back("accuracy_before", Num(report.accuracy_before));
  f.emplace_back("accuracy", Num(report.accuracy));
  f.emplace_back("seconds", Num(report.seconds));
  return report;
}

}  // namespace onnx_crypt
