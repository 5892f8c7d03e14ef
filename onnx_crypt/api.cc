#include "onnx_crypt/api.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/message_differencer.h"
#include "onnx/onnx_pb.h"
#include "onnx_crypt/base/file.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/data/npz.h"
#include "onnx_crypt/engine/classifier.h"
#include "onnx_crypt/engine/evaluate.h"
#include "onnx_crypt/engine/factory.h"
#include "onnx_crypt/engine/samples.h"
#include "onnx_crypt/ir/half.h"
#include "onnx_crypt/key/key.h"
#include "onnx_crypt/key/key_wrap.h"
#include "onnx_crypt/lock/model_lock.h"
#include "onnx_crypt/onnx/model.h"
#include "onnx_crypt/ops/registry.h"

namespace onnx_crypt {

namespace {

std::string ShapeText(const ValueInfo& v) {
  if (!v.has_shape) return "?";
  std::vector<std::string> dims;
  for (size_t i = 0; i < v.dims.size(); ++i) {
    if (v.dims[i] >= 0) {
      dims.push_back(absl::StrCat(v.dims[i]));
    } else if (i < v.dim_params.size() && !v.dim_params[i].empty()) {
      dims.push_back(v.dim_params[i]);
    } else {
      dims.push_back("?");
    }
  }
  return absl::StrCat("[", absl::StrJoin(dims, ", "), "]");
}

std::vector<int64_t> LabelsOf(const Dataset& data) {
  if (!data.y.defined()) return {};
  return data.y.ToInt64Vector();
}

// An output whose folder does not exist fails here, before minutes of locking
// rather than after.
absl::Status CheckOutputFolder(const std::string& path) {
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) dir = ".";
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return absl::NotFoundError(absl::StrCat(path,
                                            ": cannot write there, folder '",
                                            dir.string(), "' does not exist"));
  }
  return absl::OkStatus();
}

absl::Status RefuseSame(const std::string& output, const std::string& input,
                        absl::string_view what) {
  if (SamePath(output, input)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "refusing to overwrite the ", what, " ", input, " with an output"));
  }
  return absl::OkStatus();
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since)
      .count();
}

absl::StatusOr<OnnxModel> UnlockedModel(OnnxModel locked,
                                        const keyfile::LockKey& key) {
  OC_RETURN_IF_ERROR(ApplyKey(locked, key));
  return locked;
}

// A passphrase, when given, must not be empty: refused before a lock spends
// minutes.
absl::Status CheckPassphrase(const std::optional<std::string>& passphrase) {
  if (passphrase.has_value() && passphrase->empty()) {
    return absl::InvalidArgumentError("the passphrase is empty");
  }
  return absl::OkStatus();
}

std::vector<RestoredTensor> RestoredFrom(const OnnxModel& unlocked,
                                         const keyfile::LockKey& key,
                                         absl::Status* status) {
  std::vector<RestoredTensor> out;
  for (const keyfile::TensorFingerprint& fp : key.tensors()) {
    absl::StatusOr<Tensor> t = unlocked.ReadInitializer(fp.name());
    if (!t.ok()) {
      *status = t.status();
      return {};
    }
    RestoredTensor r;
    r.name = fp.name();
    r.dtype = t->dtype();
    r.shape = t->shape();
    r.bytes.assign(reinterpret_cast<const char*>(t->raw()), t->nbytes());
    out.push_back(std::move(r));
  }
  return out;
}

// One element of a key value, as its tensor's element type shows it, with
// enough digits to read back the same value ("?" for bytes that do not fit the
// type; ValidateKey refuses those before this is reached).
std::string ElementText(const std::string& bytes, DType dtype) {
  if (bytes.size() != DTypeSize(dtype)) return "?";
  auto as = [&bytes](auto value) {
    std::memcpy(&value, bytes.data(), sizeof(value));
    return value;
  };
  switch (dtype) {
    case DType::kFloat32:
      return absl::StrFormat("%.9g", as(float{}));
    case DType::kFloat64:
      return absl::StrFormat("%.17g", as(double{}));
    case DType::kFloat16:
      return absl::StrFormat("%.5g", HalfToFloat32(as(uint16_t{})));
    case DType::kBFloat16:
      return absl::StrFormat("%.4g", BFloat16ToFloat32(as(uint16_t{})));
    case DType::kInt8:
      return absl::StrCat(static_cast<int>(as(int8_t{})));
    case DType::kUint8:
      return absl::StrCat(static_cast<int>(as(uint8_t{})));
    case DType::kInt16:
      return absl::StrCat(as(int16_t{}));
    case DType::kUint16:
      return absl::StrCat(as(uint16_t{}));
    case DType::kInt32:
      return absl::StrCat(as(int32_t{}));
    case DType::kUint32:
      return absl::StrCat(as(uint32_t{}));
    case DType::kInt64:
      return absl::StrCat(as(int64_t{}));
    case DType::kUint64:
      return absl::StrCat(as(uint64_t{}));
    case DType::kBool:
      return as(uint8_t{}) ? "true" : "false";
    case DType::kString:
    case DType::kUndefined:
      break;
  }
  return "?";
}

// The content of a file-or-bytes argument.
absl::StatusOr<std::string> ContentOf(const FileOrBytes& input) {
  if (input.is_file) return ReadFile(input.path);
  return input.bytes;
}

const std::string& NameOf(const FileOrBytes& input) {
  return input.is_file ? input.path : input.name;
}

// The key in a key argument, plain or wrapped; errors name the file or bytes.
absl::StatusOr<keyfile::LockKey> OpenKeyInput(
    const FileOrBytes& input, const std::optional<std::string>& passphrase) {
  OC_ASSIGN_OR_RETURN(const std::string bytes, ContentOf(input));
  absl::StatusOr<keyfile::LockKey> key = OpenKey(bytes, passphrase);
  if (!key.ok()) return Annotate(key.status(), NameOf(input));
  return key;
}

// A model argument, loaded; errors name the file or the bytes.
absl::StatusOr<OnnxModel> LoadModel(const FileOrBytes& input) {
  if (input.is_file) return OnnxModel::Load(input.path);
  absl::StatusOr<OnnxModel> model = OnnxModel::LoadFromBytes(input.bytes);
  if (!model.ok()) return Annotate(model.status(), input.name);
  return model;
}

}  // namespace

absl::StatusOr<ModelInfo> InspectModel(const std::string& model_path,
                                       const std::string& device) {
  OC_ASSIGN_OR_RETURN(OnnxModel model, OnnxModel::Load(model_path));
  OC_ASSIGN_OR_RETURN(Graph graph, model.ToGraph());
  ModelInfo info;
  const auto& inferred = model.inferred_values();
  for (const ValueInfo& v : graph.inputs) {
    info.inputs.push_back({v.name, DTypeName(v.dtype), ShapeText(v)});
  }
  for (const ValueInfo& v : graph.outputs) {
    auto it = inferred.find(v.name);
    const ValueInfo& best =
        (!v.has_shape && it != inferred.end()) ? it->second : v;
    info.outputs.push_back({v.name, DTypeName(v.dtype), ShapeText(best)});
  }
  info.opsets = graph.opsets;
  info.ir_version = model.proto().ir_version();
  info.producer = absl::StrCat(model.proto().producer_name(), " ",
                               model.proto().producer_version());
  for (const Node& node : graph.nodes) {
    ++info.op_histogram[node.op_type];
    if (!FindOp(node).ok()) info.unsupported_ops.push_back(node.Describe());
  }
  for (const auto& [name, t] : graph.initializers) {
    ++info.initializers;
    if (IsFloatingPoint(t.dtype())) info.parameters += t.numel();
  }
  info.eligible = FindEligibleTensors(graph, false);
  for (const EligibleTensor& e : FindEligibleTensors(graph, true)) {
    if (e.role == "bias") info.eligible_bias.push_back(e);
  }
  if (!device.empty() && info.unsupported_ops.empty()) {
    OC_ASSIGN_OR_RETURN(const ExecutionPlan plan, PlanForDevice(graph, device));
    info.device = device;
    for (int s : plan.StepsOffKernel()) {
      const PlanStep& step = plan.steps()[s];
      info.off_kernel.push_back(
          {step.node->Describe(), PlacementName(step.placement)});
    }
  }
  return info;
}

absl::StatusOr<EvalReport> EvaluateFile(const std::string& model_path,
                                        const std::string& data_path,
                                        const EvalOptions& options) {
  OC_ASSIGN_OR_RETURN(OnnxModel model, OnnxModel::Load(model_path));
  OC_ASSIGN_OR_RETURN(Dataset data, LoadDataset(data_path));
  OC_ASSIGN_OR_RETURN(Graph graph, model.ToGraph());
  OC_RETURN_IF_ERROR(
      PrepareClassifierGraph(graph, options.output, model.inferred_values()));
  const std::vector<int64_t> labels = LabelsOf(data);
  OC_ASSIGN_OR_RETURN(const Feeds samples,
                      BindSamples(graph, data.inputs, labels, data_path));
  EvalReport report;
  OC_ASSIGN_OR_RETURN(report.device, ResolveDevice(options.device));
  OC_ASSIGN_OR_RETURN(
      std::unique_ptr<Engine> engine,
      CreateEngine(std::move(graph), report.device, options.threads));
  absl::StatusOr<EvalStats> evaluated =
      EvaluateDataset(*engine, samples, labels, options.batch_size,
                      options.progress, !options.dump_outputs.empty(),
                      /*warm_up=*/true);
  // The model and the data are both suspects of what fails here (a label
  // outside the classes, a shape the model does not take): name both.
  if (!evaluated.ok()) {
    return Annotate(evaluated.status(),
                    absl::StrCat(model_path, " on ", data_path));
  }
  const EvalStats& stats = *evaluated;
  if (!options.dump_outputs.empty()) {
    OC_RETURN_IF_ERROR(RefuseSame(options.dump_outputs, model_path, "model"));
    OC_RETURN_IF_ERROR(
        RefuseSame(options.dump_outputs, data_path, "data file"));
    NpzArrays arrays;
    arrays["out"] = stats.outputs;
    arrays["pred"] = Tensor::FromVector<int64_t>(
        {static_cast<int64_t>(stats.predictions.size())}, stats.predictions);
    OC_RETURN_IF_ERROR(SaveNpz(options.dump_outputs, arrays));
  }
  report.has_labels = !labels.empty();
  report.accuracy = stats.accuracy();
  report.samples = stats.samples;
  report.seconds = stats.seconds;
  return report;
}

absl::StatusOr<LockSummary> LockFile(const std::string& model_path,
                                     const std::string& data_path,
                                     const std::string& locked_path,
                                     const std::string& key_path,
                                     const LockOptions& options) {
  OC_RETURN_IF_ERROR(RefuseSame(locked_path, model_path, "model"));
  OC_RETURN_IF_ERROR(RefuseSame(key_path, model_path, "model"));
  OC_RETURN_IF_ERROR(RefuseSame(locked_path, data_path, "data file"));
  OC_RETURN_IF_ERROR(RefuseSame(key_path, data_path, "data file"));
  if (SamePath(locked_path, key_path)) {
    return absl::InvalidArgumentError(
        "the locked model and the key must be different files");
  }
  OC_RETURN_IF_ERROR(CheckOutputFolder(locked_path));
  OC_RETURN_IF_ERROR(CheckOutputFolder(key_path));
  OC_RETURN_IF_ERROR(CheckPassphrase(options.passphrase));
  const auto t0 = std::chrono::steady_clock::now();
  OC_ASSIGN_OR_RETURN(OnnxModel model, OnnxModel::Load(model_path));
  OC_ASSIGN_OR_RETURN(Dataset data, LoadDataset(data_path));
  OC_ASSIGN_OR_RETURN(ModelLockOutput out,
                      LockOnnxModel(model, data.inputs, LabelsOf(data),
                                    data_path, options.output, options.config,
                                    options.device, options.threads));
  LockSummary summary;
  summary.result = std::move(out.result);
  summary.device = out.key.options().device();
  OC_ASSIGN_OR_RETURN(summary.key_bytes,
                      EncodeKeyWithPassphrase(out.key, options.passphrase));
  // Both outputs or neither: the model's files and the key (owner-only mode)
  // go to temporaries, renamed into place only when all were written.
  OutputSet outputs;
  OC_RETURN_IF_ERROR(model.StageSave(locked_path, outputs));
  OC_RETURN_IF_ERROR(outputs.Add(key_path, summary.key_bytes, kKeyFileMode));
  OC_RETURN_IF_ERROR(outputs.Commit());
  summary.seconds = Seconds(t0);
  return summary;
}

absl::StatusOr<LockedBytes> LockBytes(
    std::string model_bytes, const std::map<std::string, Tensor>& inputs,
    const std::vector<int64_t>& labels, const LockOptions& options) {
  OC_RETURN_IF_ERROR(CheckPassphrase(options.passphrase));
  const auto t0 = std::chrono::steady_clock::now();
  OC_ASSIGN_OR_RETURN(OnnxModel model,
                      OnnxModel::LoadFromBytes(std::move(model_bytes)));
  OC_ASSIGN_OR_RETURN(
      ModelLockOutput out,
      LockOnnxModel(model, inputs, labels, "the samples", options.output,
                    options.config, options.device, options.threads));
  LockedBytes result;
  OC_ASSIGN_OR_RETURN(result.locked_model, model.SerializeToBytes());
  OC_ASSIGN_OR_RETURN(result.key,
                      EncodeKeyWithPassphrase(out.key, options.passphrase));
  result.summary.result = std::move(out.result);
  result.summary.device = out.key.options().device();
  result.summary.key_bytes = result.key;
  result.summary.seconds = Seconds(t0);
  return result;
}

absl::StatusOr<std::vector<BatchItem>> LockBatch(
    const std::vector<std::string>& models, const std::string& data_path,
    const BatchOptions& options,
    const std::function<void(const BatchItem&, int, int)>& progress) {
  OC_RETURN_IF_ERROR(CheckPassphrase(options.lock.passphrase));
  return RunLockBatch(models, data_path, options, progress);
}

std::string OldKeyNote(const keyfile::LockKey& key) {
  if (KeyFingerprintsWholeModel(key)) return "";
  return "note: this key was written before keys fingerprinted the whole "
         "model; the locked tensors were checked, the graph and metadata "
         "were not (lock again to get a key that checks them)";
}

absl::Status UnlockFile(const std::string& locked_path,
                        const std::string& key_path,
                        const std::string& output_path,
                        const std::optional<std::string>& passphrase,
                        std::vector<std::string>* notes) {
  OC_RETURN_IF_ERROR(RefuseSame(output_path, locked_path, "locked model"));
  OC_RETURN_IF_ERROR(RefuseSame(output_path, key_path, "key"));
  OC_ASSIGN_OR_RETURN(keyfile::LockKey key,
                      OpenKeyInput(FileOrBytes::File(key_path), passphrase));
  OC_ASSIGN_OR_RETURN(OnnxModel model, OnnxModel::Load(locked_path));
  OC_RETURN_IF_ERROR(Annotate(ApplyKey(model, key), locked_path));
  OC_RETURN_IF_ERROR(model.Save(output_path));
  if (notes != nullptr && !OldKeyNote(key).empty()) {
    notes->push_back(OldKeyNote(key));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> UnlockToBytes(
    absl::string_view locked_model, absl::string_view key_bytes,
    const std::optional<std::string>& passphrase) {
  OC_ASSIGN_OR_RETURN(OnnxModel model,
                      OnnxModel::LoadFromBytes(std::string(locked_model)));
  OC_ASSIGN_OR_RETURN(keyfile::LockKey key, OpenKey(key_bytes, passphrase));
  OC_ASSIGN_OR_RETURN(OnnxModel unlocked, UnlockedModel(std::move(model), key));
  return unlocked.SerializeToBytes();
}

absl::StatusOr<std::vector<RestoredTensor>> UnlockTensors(
    absl::string_view locked_model, absl::string_view key_bytes,
    const std::optional<std::string>& passphrase) {
  OC_ASSIGN_OR_RETURN(keyfile::LockKey key, OpenKey(key_bytes, passphrase));
  OC_ASSIGN_OR_RETURN(OnnxModel model,
                      OnnxModel::LoadFromBytes(std::string(locked_model)));
  OC_RETURN_IF_ERROR(ApplyKey(model, key));
  absl::Status status;
  std::vector<RestoredTensor> out = RestoredFrom(model, key, &status);
  OC_RETURN_IF_ERROR(status);
  return out;
}

absl::StatusOr<std::vector<RestoredTensor>> UnlockTensorsFromFile(
    const std::string& locked_path, absl::string_view key_bytes,
    const std::optional<std::string>& passphrase) {
  OC_ASSIGN_OR_RETURN(keyfile::LockKey key, OpenKey(key_bytes, passphrase));
  OC_ASSIGN_OR_RETURN(OnnxModel model, OnnxModel::Load(locked_path));
  OC_RETURN_IF_ERROR(ApplyKey(model, key));
  absl::Status status;
  std::vector<RestoredTensor> out = RestoredFrom(model, key, &status);
  OC_RETURN_IF_ERROR(status);
  return out;
}

FileOrBytes FileOrBytes::File(std::string path) {
  FileOrBytes f;
  f.is_file = true;
  f.path = std::move(path);
  return f;
}

FileOrBytes FileOrBytes::Bytes(std::string bytes, std::string name) {
  FileOrBytes f;
  f.bytes = std::move(bytes);
  f.name = std::move(name);
  return f;
}

absl::Status Verify(const FileOrBytes& original_input,
                    const FileOrBytes& locked_input,
                    const FileOrBytes& key_input,
                    const std::optional<std::string>& passphrase) {
  OC_ASSIGN_OR_RETURN(const keyfile::LockKey key,
                      OpenKeyInput(key_input, passphrase));
  OC_ASSIGN_OR_RETURN(OnnxModel original, LoadModel(original_input));
  OC_ASSIGN_OR_RETURN(OnnxModel locked, LoadModel(locked_input));
  // A key that does not fit names the locked model, as unlock does.
  absl::StatusOr<OnnxModel> unlocked = UnlockedModel(std::move(locked), key);
  if (!unlocked.ok()) return Annotate(unlocked.status(), NameOf(locked_input));
  const std::string& original_name = NameOf(original_input);
  std::string diff;
  google::protobuf::util::MessageDifferencer differ;
  differ.ReportDifferencesToString(&diff);
  if (!differ.Compare(original.proto(), unlocked->proto())) {
    return absl::FailedPreconditionError(
        absl::StrCat("the unlocked model differs from ", original_name, ": ",
                     diff.substr(0, 2000)));
  }
  // External data lives outside the proto: compare the decoded initializers
  // too.
  OC_ASSIGN_OR_RETURN(Graph a, original.ToGraph());
  OC_ASSIGN_OR_RETURN(Graph b, unlocked->ToGraph());
  if (GraphInitializersSha256(a) != GraphInitializersSha256(b)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the unlocked model's tensor data differs from ", original_name));
  }
  return absl::OkStatus();
}

absl::Status VerifyFiles(const std::string& original_path,
                         const std::string& locked_path,
                         const std::string& key_path,
                         const std::optional<std::string>& passphrase) {
  return Verify(FileOrBytes::File(original_path),
                FileOrBytes::File(locked_path), FileOrBytes::File(key_path),
                passphrase);
}

absl::Status VerifyBytes(absl::string_view original_model,
                         absl::string_view locked_model, absl::string_view key,
                         const std::optional<std::string>& passphrase) {
  return Verify(
      FileOrBytes::Bytes(std::string(original_model), "<original.onnx bytes>"),
      FileOrBytes::Bytes(std::string(locked_model), "<locked.onnx bytes>"),
      FileOrBytes::Bytes(std::string(key), "<key bytes>"), passphrase);
}

absl::StatusOr<std::string> UnwrappedKeyBytes(
    const FileOrBytes& key, const std::optional<std::string>& passphrase) {
  OC_ASSIGN_OR_RETURN(std::string bytes, ContentOf(key));
  absl::StatusOr<std::string> plain = UnwrapKeyIfWrapped(bytes, passphrase);
  if (!plain.ok()) return Annotate(plain.status(), NameOf(key));
  return plain;
}

absl::StatusOr<std::string> DescribeKey(
    absl::string_view key_bytes, bool show_values,
    const std::optional<std::string>& passphrase) {
  OC_ASSIGN_OR_RETURN(keyfile::LockKey key, OpenKey(key_bytes, passphrase));
  const keyfile::LockOptions& o = key.options();
  std::string s;
  absl::StrAppend(&s, "onnx-crypt key, format version ", kKeyFormatVersion,
                  " (written by ", key.tool_version(), ")\n");
  if (IsWrappedKey(key_bytes)) {
    OC_ASSIGN_OR_RETURN(const keyfile::WrappedKey w,
                        ReadWrappedKeyHeader(key_bytes));
    absl::StrAppend(&s, "wrapped with a passphrase: ", w.kdf(),
                    " N=", w.scrypt_n(), " r=", w.scrypt_r(),
                    " p=", w.scrypt_p(), ", ", w.cipher(),
                    " (envelope version ", w.format_version(), ")\n");
  } else {
    absl::StrAppend(&s, "wrapped with a passphrase: no\n");
  }
  absl::StrAppendFormat(
      &s,
      "options: max_values=%d target_accuracy=%.4f include_bias=%s "
      "values_per_round=%d candidates=%d score=%s device=%s\n",
      o.max_values(), o.target_accuracy(), o.include_bias() ? "yes" : "no",
      o.values_per_round(), o.candidates(), o.score(), o.device());
  absl::StrAppendFormat(&s, "owner samples: %d (%s labels)\n", o.num_samples(),
                        o.pseudo_labels() ? "pseudo" : "given");
  absl::StrAppend(&s, "seed: ", key.seed(), "\n");
  absl::StrAppendFormat(
      &s, "locked values: %d of %d eligible parameters (%.6f%%)\n",
      key.values_size(), key.total_parameters(),
      100.0 * key.values_size() / std::max<int64_t>(1, key.total_parameters()));
  absl::StrAppendFormat(&s, "owner-sample accuracy: %.4f -> %.4f (stop: %s)\n",
                        key.sample_accuracy_before(),
                        key.sample_accuracy_after(), key.stop_reason());
  absl::StrAppend(
      &s,
      "model fingerprint (original): ", HexString(key.model_sha256_original()),
      "\nmodel fingerprint (locked):   ", HexString(key.model_sha256_locked()),
      "\ngraph fingerprint:            ",
      KeyFingerprintsWholeModel(key)
          ? HexString(key.model_structure_sha256())
          : std::string("none (an older key: the graph is not checked)"),
      "\n");
  absl::StrAppend(&s, "tensors touched: ", key.tensors_size(), "\n");
  for (const keyfile::TensorFingerprint& fp : key.tensors()) {
    int count = 0;
    for (const keyfile::LockedValue& v : key.values())
      count += v.tensor() == fp.name();
    absl::StrAppend(&s, "  ", fp.name(), " ",
                    DTypeName(static_cast<DType>(fp.data_type())), "[",
                    absl::StrJoin(fp.dims(), ", "), "]: ", count, " values\n");
  }
  if (show_values) {
    // Each value in its tensor's element type (DecodeKey checked that every
    // value's tensor is fingerprinted and its bytes fit that type).
    std::map<std::string, DType> dtypes;
    for (const keyfile::TensorFingerprint& fp : key.tensors())
      dtypes[fp.name()] = static_cast<DType>(fp.data_type());
    absl::StrAppend(&s, "values (tensor[index]: original -> locked, round):\n");
    for (const keyfile::LockedValue& v : key.values()) {
      const DType dtype = dtypes[v.tensor()];
      absl::StrAppendFormat(&s, "  %s[%d]: %s -> %s (round %d)\n", v.tensor(),
                            v.index(), ElementText(v.original(), dtype),
                            ElementText(v.locked(), dtype), v.round());
    }
  }
  return s;
}

}  // namespace onnx_crypt
