// The `onnx_crypt` Python module: a thin pybind11 layer over onnx_crypt/api.h.
//
// Model and key arguments are either their bytes (bytes, bytearray,
// memoryview or any contiguous buffer) or a path (str or os.PathLike) to read.
// Every library error becomes an exception whose message is the library's:
// onnx_crypt.Error (a RuntimeError) or one of its subclasses, which also derive
// from the matching built-in (ValueError for invalid arguments and corrupted
// keys, FileNotFoundError for missing files, NotImplementedError for
// unsupported ops). Each exception carries the status code name in `.code`.
// A `passphrase` (str, encoded as UTF-8, or bytes) wraps the key a lock
// returns and opens a passphrase-wrapped key wherever one is read.
// The GIL is released while the library works, so Python threads may run
// other calls (including other locks) concurrently.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "onnx_crypt/api.h"
#include "onnx_crypt/base/file.h"
#include "onnx_crypt/base/memory_budget.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/data/npz.h"
#include "onnx_crypt/python/py_args.h"

namespace py = pybind11;

namespace onnx_crypt {
namespace {

using pyapi::ContentOf;
using pyapi::FsPath;
using pyapi::IsPathLike;
using pyapi::LabelsFromArray;
using pyapi::NumpyDType;
using pyapi::PlainKey;
using pyapi::Raise;
using pyapi::RaiseIfError;
using pyapi::Source;
using pyapi::TensorFromArray;
using pyapi::ToPassphrase;
using pyapi::ToPyBytes;
using pyapi::ToSource;
using pyapi::ValueOrRaise;

// ---------------------------------------------------------------- lock

py::dict SummaryDict(const LockSummary& s, const LockConfig& config) {
  const LockResult& r = s.result;
  py::list changes;
  for (const LockChange& c : r.changes) {
    py::dict d;
    d["tensor"] = c.tensor;
    d["index"] = c.index;
    d["original"] = c.original;
    d["locked"] = c.locked;
    d["round"] = c.round;
    changes.append(d);
  }
  py::dict d;
  d["locked_values"] = r.changes.size();
  d["total_parameters"] = r.total_parameters;
  d["locked_percent"] = 100.0 * static_cast<double>(r.changes.size()) /
                        std::max<int64_t>(1, r.total_parameters);
  d["num_classes"] = r.num_classes;
  d["sample_accuracy_before"] = r.sample_accuracy_before;
  d["sample_accuracy_after"] = r.sample_accuracy_after;
  d["target_accuracy"] = r.target_accuracy;
  d["loss_before"] = r.loss_before;
  d["loss_after"] = r.loss_after;
  d["rounds"] = r.rounds;
  d["stop_reason"] = r.stop_reason;
  d["seconds"] = s.seconds;
  d["device"] = s.device;
  d["seed"] = config.seed;
  d["harden"] = config.harden;
  d["repair_target"] = r.repair_target;
  // Hardened lock only (-1 otherwise): accuracy with the locked values reset to
  // 0 / to their tensor's median, and after a simulated saliency repair.
  d["reset_zero_accuracy"] = r.reset_zero_accuracy;
  d["reset_median_accuracy"] = r.reset_median_accuracy;
  d["repair_accuracy"] = r.repair_accuracy;
  // "" or why the hardened lock may be repairable (the CLI's warning, in
  // Python's words); the package warns with it.
  d["warning"] = RepairShortfallWarning(r, config.max_values, "max_values",
                                        "stealth_quantile");
  py::list eligible;
  for (const std::string& name : r.eligible) eligible.append(name);
  d["eligible"] = eligible;
  d["changes"] = changes;
  return d;
}

// Progress and Ctrl-C for long calls made without the GIL: `progress` (a
// Python callable or None) is called with the GIL held; after each round
// Interrupt() runs Python's signal handlers, so Ctrl-C raises
// KeyboardInterrupt in the caller once the round ends. An exception raised by
// the callback or a handler stops the work (Cancelled) and is re-raised by
// RethrowIfFailed once the GIL is back.
class PythonHooks {
 public:
  explicit PythonHooks(py::object progress) : progress_(std::move(progress)) {}
  void Call(const py::dict& info) {
    if (failed_ || progress_.is_none()) return;
    try {
      progress_(info);
    } catch (py::error_already_set& e) {
      e.restore();
      failed_ = true;
    }
  }
  absl::Status Interrupt() {
    py::gil_scoped_acquire gil;
    if (!failed_ && PyErr_CheckSignals() != 0) failed_ = true;
    return failed_ ? absl::CancelledError("interrupted") : absl::OkStatus();
  }
  // With the GIL held.
  void RethrowIfFailed() {
    if (failed_ && PyErr_Occurred()) throw py::error_already_set();
  }
  LockConfig Hook(LockConfig config) {
    const int max_values = config.max_values;
    config.progress = [this, max_values](const LockRound& r) {
      py::gil_scoped_acquire gil;
      py::dict info;
      info["round"] = r.round;
      info["locked"] = r.locked;
      info["sample_accuracy"] = r.sample_accuracy;
      info["loss"] = r.loss;
      info["sample_accuracy_before"] = r.sample_accuracy_before;
      info["target_accuracy"] = r.target_accuracy;
      // Hardened lock only (-1 otherwise); see LockRound.
      info["reset_accuracy"] = r.reset_accuracy;
      info["repair_accuracy"] = r.repair_accuracy;
      info["repair_target"] = r.repair_target;
      info["fraction"] =
          LockFraction(r, max_values);  // what the CLI's bar shows
      Call(info);
    };
    config.interrupt = [this]() { return Interrupt(); };
    return config;
  }

 private:
  py::object progress_;
  bool failed_ = false;
};

// The lock options of lock() and lock_batch(), checked.
LockOptions MakeLockOptions(int max_values, double target_accuracy,
                            uint64_t seed, bool include_bias,
                            const std::string& device, int values_per_round,
                            int candidates, int threads, bool harden,
                            double stealth_quantile, double repair_target,
                            const py::object& passphrase) {
  if (max_values < 1) throw py::value_error("max_values must be >= 1");
  if (target_accuracy > 1.0) {
    throw py::value_error(
        "target_accuracy must be in [0, 1] (or negative for the default)");
  }
  if (values_per_round < 1 || candidates < 1) {
    throw py::value_error("values_per_round and candidates must be >= 1");
  }
  if (!(stealth_quantile > 0 && stealth_quantile <= 1)) {
    throw py::value_error("stealth_quantile must be in (0, 1]");
  }
  if (threads < 0) throw py::value_error("threads must be >= 0");
  LockOptions options;
  options.config.max_values = max_values;
  options.config.target_accuracy = target_accuracy;
  options.config.seed = seed;
  options.config.include_bias = include_bias;
  options.config.values_per_round = values_per_round;
  options.config.candidates = candidates;
  options.config.harden = harden;
  options.config.stealth_quantile = stealth_quantile;
  options.config.repair_target = repair_target;
  options.device = device;
  options.threads = threads;
  options.passphrase = ToPassphrase(passphrase);
  return options;
}

py::tuple Lock(py::object model, py::object data, py::object labels,
               int max_values, double target_accuracy, uint64_t seed,
               bool include_bias, const std::string& device,
               int values_per_round, int candidates, int threads, bool harden,
               double stealth_quantile, double repair_target,
               py::object passphrase, py::object progress,
               const std::string& output) {
  LockOptions options = MakeLockOptions(
      max_values, target_accuracy, seed, include_bias, device, values_per_round,
      candidates, threads, harden, stealth_quantile, repair_target, passphrase);
  const Source model_source = ToSource(model, "model");
  std::map<std::string, Tensor> inputs;
  std::vector<int64_t> y;
  std::string data_path;
  if (IsPathLike(data)) {
    if (!labels.is_none()) {
      throw py::value_error(
          "labels must be None when data is an .npz path (its y array holds "
          "them)");
    }
    data_path = FsPath(data);
  } else {
    if (py::isinstance<py::dict>(data)) {
      for (const auto& [name, array] : data.cast<py::dict>())
        inputs[py::str(name)] =
            TensorFromArray(py::reinterpret_borrow<py::object>(array));
      if (inputs.empty())
        throw py::value_error("data: the dict holds no arrays");
    } else {
      inputs["x"] = TensorFromArray(data);
    }
    const Tensor& first = inputs.begin()->second;
    if (!labels.is_none())
      y = LabelsFromArray(labels, first.rank() > 0 ? first.dim(0) : 0);
  }
  options.output = output;

  PythonHooks hooks(progress);
  options.config = hooks.Hook(options.config);

  absl::StatusOr<LockedBytes> locked;
  {
    py::gil_scoped_release release;
    locked = [&]() -> absl::StatusOr<LockedBytes> {
      if (!data_path.empty()) {
        OC_ASSIGN_OR_RETURN(Dataset dataset, LoadDataset(data_path));
        inputs = std::move(dataset.inputs);
        if (dataset.y.defined()) y = dataset.y.ToInt64Vector();
      }
      OC_ASSIGN_OR_RETURN(std::string bytes, ContentOf(model_source));
      return LockBytes(std::move(bytes), inputs, y, options);
    }();
  }
  hooks.RethrowIfFailed();
  LockedBytes result = ValueOrRaise(std::move(locked));
  return py::make_tuple(ToPyBytes(result.locked_model), ToPyBytes(result.key),
                        SummaryDict(result.summary, options.config));
}

// ---------------------------------------------------------------- batch

py::dict BatchItemDict(const BatchItem& item, int max_values) {
  py::dict d;
  d["model"] = item.model;
  d["variant"] = item.variant;
  d["locked_path"] = item.locked_path;
  d["key_path"] = item.key_path;
  d["ok"] = item.status.ok();
  d["error"] = item.status.ok()
                   ? py::object(py::none())
                   : py::object(py::str(std::string(item.status.message())));
  d["seconds"] = item.seconds;
  d["locked_values"] = item.result.changes.size();
  d["sample_accuracy_before"] = item.result.sample_accuracy_before;
  d["sample_accuracy_after"] = item.result.sample_accuracy_after;
  d["stop_reason"] = item.result.stop_reason;
  // Hardened lock only (-1 otherwise), as in the lock summary.
  d["repair_accuracy"] = item.result.repair_accuracy;
  d["repair_target"] = item.result.repair_target;
  d["warning"] = item.status.ok()
                     ? RepairShortfallWarning(item.result, max_values,
                                              "max_values", "stealth_quantile")
                     : std::string();
  return d;
}

py::list LockBatchPy(const py::iterable& models, py::object data,
                     py::object output_dir, int variants, int shard_index,
                     int shard_count, int max_values, double target_accuracy,
                     uint64_t seed, bool include_bias,
                     const std::string& device, int values_per_round,
                     int candidates, int threads, bool harden,
                     double stealth_quantile, double repair_target,
                     py::object passphrase, py::object progress,
                     const std::string& output) {
  BatchOptions options;
  options.lock = MakeLockOptions(
      max_values, target_accuracy, seed, include_bias, device, values_per_round,
      candidates, threads, harden, stealth_quantile, repair_target, passphrase);
  options.lock.output = output;
  options.variants = variants;
  options.shard_index = shard_index;
  options.shard_count = shard_count;
  options.output_dir = FsPath(output_dir);
  std::vector<std::string> paths;
  for (py::handle m : models) paths.push_back(FsPath(m));
  const std::string data_path = FsPath(data);
  PythonHooks hooks(progress);
  options.lock.config.interrupt = [&hooks]() { return hooks.Interrupt(); };
  absl::StatusOr<std::vector<BatchItem>> items;
  {
    py::gil_scoped_release release;
    items = LockBatch(
        paths, data_path, options,
        [&hooks, &options](const BatchItem& item, int done, int total) {
          py::gil_scoped_acquire gil;
          py::dict info = BatchItemDict(item, options.lock.config.max_values);
          info["done"] = done;
          info["total"] = total;
          hooks.Call(info);
        });
  }
  hooks.RethrowIfFailed();
  py::list out;
  for (const BatchItem& item : ValueOrRaise(std::move(items))) {
    out.append(BatchItemDict(item, options.lock.config.max_values));
  }
  return out;
}

// ---------------------------------------------------------------- unlock

py::bytes UnlockToBytesPy(py::object locked_model, py::object key,
                          py::object passphrase) {
  const Source model = ToSource(locked_model, "locked_model");
  const Source key_source = ToSource(key, "key");
  const std::optional<std::string> pass = ToPassphrase(passphrase);
  absl::StatusOr<std::string> out;
  {
    py::gil_scoped_release release;
    out = [&]() -> absl::StatusOr<std::string> {
      OC_ASSIGN_OR_RETURN(const std::string key_bytes,
                          PlainKey(key_source, pass));
      OC_ASSIGN_OR_RETURN(const std::string model_bytes, ContentOf(model));
      return UnlockToBytes(model_bytes, key_bytes);
    }();
  }
  return ToPyBytes(ValueOrRaise(std::move(out)));
}

py::object Unlock(py::object locked_model, py::object key,
                  py::object output_path, py::object passphrase) {
  if (output_path.is_none()) {
    return UnlockToBytesPy(locked_model, key, passphrase);
  }
  if (!IsPathLike(output_path)) {
    throw py::type_error("output_path must be a str or os.PathLike, or None");
  }
  const std::string out = FsPath(output_path);
  const Source model = ToSource(locked_model, "locked_model");
  const Source key_source = ToSource(key, "key");
  const std::optional<std::string> pass = ToPassphrase(passphrase);
  absl::Status status;
  {
    py::gil_scoped_release release;
    status = [&]() -> absl::Status {
      // Both files: the library's own path (external data, overwrite checks).
      if (model.is_path && key_source.is_path) {
        return UnlockFile(model.path, key_source.path, out, pass);
      }
      for (const Source* s : {&model, &key_source}) {
        if (s->is_path && SamePath(out, s->path)) {
          return absl::InvalidArgumentError(absl::StrCat(
              "refusing to overwrite ", s->path, " with an output"));
        }
      }
      OC_ASSIGN_OR_RETURN(const std::string key_bytes,
                          PlainKey(key_source, pass));
      OC_ASSIGN_OR_RETURN(const std::string model_bytes, ContentOf(model));
      OC_ASSIGN_OR_RETURN(const std::string original,
                          UnlockToBytes(model_bytes, key_bytes));
      return WriteFileAtomically(out, original);
    }();
  }
  RaiseIfError(status);
  return py::none();
}

py::dict UnlockTensorsPy(py::object locked_model, py::object key,
                         py::object passphrase) {
  const Source model = ToSource(locked_model, "locked_model");
  const Source key_source = ToSource(key, "key");
  const std::optional<std::string> pass = ToPassphrase(passphrase);
  absl::StatusOr<std::vector<RestoredTensor>> tensors;
  {
    py::gil_scoped_release release;
    tensors = [&]() -> absl::StatusOr<std::vector<RestoredTensor>> {
      OC_ASSIGN_OR_RETURN(const std::string key_bytes,
                          PlainKey(key_source, pass));
      // From a file, external data is supported too.
      if (model.is_path) return UnlockTensorsFromFile(model.path, key_bytes);
      return UnlockTensors(model.bytes, key_bytes);
    }();
  }
  py::dict out;
  for (const RestoredTensor& t : ValueOrRaise(std::move(tensors))) {
    py::array array(NumpyDType(t.dtype, t.name),
                    std::vector<py::ssize_t>(t.shape.begin(), t.shape.end()));
    if (static_cast<size_t>(array.nbytes()) != t.bytes.size()) {
      Raise(absl::InternalError(
          absl::StrCat("tensor ", t.name, ": ", t.bytes.size(),
                       " bytes for shape ", ShapeToString(t.shape))));
    }
    if (!t.bytes.empty())
      std::memcpy(array.mutable_data(), t.bytes.data(), t.bytes.size());
    out[py::str(t.name)] = array;
  }
  return out;
}

// ---------------------------------------------------------------- verify, key

// `s` for the library: a file, or bytes that messages call "<NAME bytes>".
FileOrBytes ToFileOrBytes(Source s, absl::string_view name) {
  if (s.is_path) return FileOrBytes::File(std::move(s.path));
  return FileOrBytes::Bytes(std::move(s.bytes),
                            absl::StrCat("<", name, " bytes>"));
}

void VerifyPy(py::object original, py::object locked_model, py::object key,
              py::object passphrase) {
  // Nothing is written: files are read, bytes are checked in memory.
  const FileOrBytes inputs[] = {
      ToFileOrBytes(ToSource(original, "original"), "original.onnx"),
      ToFileOrBytes(ToSource(locked_model, "locked_model"), "locked.onnx"),
      ToFileOrBytes(ToSource(key, "key"), "key")};
  const std::optional<std::string> pass = ToPassphrase(passphrase);
  absl::Status status;
  {
    py::gil_scoped_release release;
    status = onnx_crypt::Verify(inputs[0], inputs[1], inputs[2], pass);
  }
  RaiseIfError(status);
}

std::string DescribeKeyPy(py::object key, bool values, py::object passphrase) {
  const Source source = ToSource(key, "key");
  const std::optional<std::string> pass = ToPassphrase(passphrase);
  absl::StatusOr<std::string> text;
  {
    py::gil_scoped_release release;
    text = [&]() -> absl::StatusOr<std::string> {
      OC_ASSIGN_OR_RETURN(const std::string bytes, ContentOf(source));
      absl::StatusOr<std::string> t = DescribeKey(bytes, values, pass);
      if (!t.ok() && source.is_path) return Annotate(t.status(), source.path);
      return t;
    }();
  }
  return ValueOrRaise(std::move(text));
}

}  // namespace
}  // namespace onnx_crypt

PYBIND11_MODULE(_core, m) {
  using namespace onnx_crypt;
  namespace py = pybind11;
  using py::arg;

  m.doc() =
      R"(onnx-crypt: lock ONNX models with adversarial parameter perturbations,
and unlock them exactly, in memory, for ONNX Runtime.

    locked, key, summary = onnx_crypt.lock("model.onnx", "owner.npz")
    session = onnxruntime.InferenceSession(onnx_crypt.unlock_to_bytes(locked, key))

Model and key arguments are bytes or a path (str / os.PathLike). Errors raise
onnx_crypt.Error (a RuntimeError) or a subclass: InvalidArgumentError and
DataLossError (also ValueError), NotFoundError (also FileNotFoundError),
UnimplementedError (also NotImplementedError); `.code` holds the status code.

passphrase= (str or bytes) on lock wraps the key it returns (scrypt +
AES-256-GCM; a fresh salt and nonce each time, so the wrapped key differs
from run to run while the locked model does not); on unlock, unlock_to_bytes,
unlock_tensors, verify and describe_key it opens such a key. A wrapped key
without it, or with the wrong one, raises InvalidArgumentError. A plain key
ignores it.)";

  pyapi::RegisterErrorTypes(m);

  m.def("lock", &Lock, arg("model"), arg("data"), arg("labels") = py::none(),
        py::kw_only(), arg("max_values") = LockConfig().max_values,
        arg("target_accuracy") = -1.0, arg("seed") = 0,
        arg("include_bias") = false, arg("device") = "cpu",
        arg("values_per_round") = LockConfig().values_per_round,
        arg("candidates") = LockConfig().candidates, arg("threads") = 0,
        arg("harden") = LockConfig().harden, arg("stealth_quantile") = 0.999,
        arg("repair_target") = -1.0, arg("passphrase") = py::none(),
        arg("progress") = py::none(), arg("output") = "",
        R"(Locks a model; returns (locked_model_bytes, key_bytes, summary).
The package's onnx_crypt.lock wraps this with more data forms and a result
object.

model: the model's bytes or path (no external data).
data: a path to an .npz with the samples (x, or one array per model input
  by input name) and optional y (labels); or the array x itself, or a dict
  {input name: array}, with `labels` (integers, one per sample) or None, in
  which case the model's own predictions are the labels.
output: the classification output's name when the model has several ("":
  the first).
harden=True (the default): the hardened lock (as `onnx-crypt lock`): locked
values stay below the stealth_quantile of |w| (and of the z-score statistics),
resets to 0 or the median leave the model broken, and locking goes on until a
simulated saliency repair stays at or below repair_target (negative: chance +
0.05) or max_values are locked; at most values_per_round values each round,
out of at most `candidates` candidates of each kind.
harden=False: the fast loop (as `onnx-crypt lock --fast`), not
repair-resistant: locks values until the owner-sample accuracy is at most
target_accuracy (negative: chance + 0.02) or max_values are locked.
The same inputs and seed give byte-identical results. summary is a dict
(locked_values, total_parameters, sample_accuracy_before/after, stop_reason,
seconds, harden, reset_zero/median_accuracy, repair_accuracy, repair_target,
warning, changes, ...).
passphrase (str or bytes, not empty): key_bytes come wrapped with it (a
fresh salt and nonce every call: they differ from run to run; the locked
model and the key inside do not).
The GIL is released while locking.)");
  m.def("lock_batch", &LockBatchPy, arg("models"), arg("data"),
        arg("output_dir"), py::kw_only(), arg("variants") = 1,
        arg("shard_index") = 0, arg("shard_count") = 1,
        arg("max_values") = LockConfig().max_values,
        arg("target_accuracy") = -1.0, arg("seed") = 0,
        arg("include_bias") = false, arg("device") = "cpu",
        arg("values_per_round") = LockConfig().values_per_round,
        arg("candidates") = LockConfig().candidates, arg("threads") = 0,
        arg("harden") = LockConfig().harden, arg("stealth_quantile") = 0.999,
        arg("repair_target") = -1.0, arg("passphrase") = py::none(),
        arg("progress") = py::none(), arg("output") = "",
        R"(Locks every model (paths), `variants` times each, with the samples of
the .npz `data`, into output_dir/NAME-i.onnx and NAME-i.key (as
`onnx-crypt lock-batch`); only the items of shard shard_index of
shard_count. Returns one dict per item (ok, error, paths, values, accuracy).
output: the classification output's name ("": the first).
The package's onnx_crypt.lock_batch wraps this.)");
  m.def("unlock", &Unlock, arg("locked_model"), arg("key"),
        arg("output_path") = py::none(), py::kw_only(),
        arg("passphrase") = py::none(),
        R"(Restores the original model exactly.

Returns its bytes, or writes it to output_path (atomically) and returns None.
Raises, writing nothing, when the key is wrong, corrupted or truncated, or the
locked model changed since locking. passphrase (str or bytes) opens a
passphrase-wrapped key: without it, or with a wrong one, InvalidArgumentError.)");
  m.def("unlock_to_bytes", &UnlockToBytesPy, arg("locked_model"), arg("key"),
        py::kw_only(), arg("passphrase") = py::none(),
        R"(The original model's bytes, for onnxruntime.InferenceSession(bytes).

Nothing touches the disk. The locked model must not use external data.
passphrase (str or bytes) opens a passphrase-wrapped key.)");
  m.def("unlock_tensors", &UnlockTensorsPy, arg("locked_model"), arg("key"),
        py::kw_only(), arg("passphrase") = py::none(),
        R"(Only the tensors the key restores: a dict name -> numpy array.

For ONNX Runtime's SessionOptions.add_initializer on the locked model. Keep
the arrays (and the OrtValues made from them) alive as long as the session,
and set graph_optimization_level to ORT_ENABLE_EXTENDED or lower: at
ORT_ENABLE_ALL, ONNX Runtime's NCHWc layout transformer (x86) reorders Conv
weights from the model's own initializers and ignores overrides of them.
A locked model given as a path may use external data. passphrase (str or
bytes) opens a passphrase-wrapped key.)");
  m.def("verify", &VerifyPy, arg("original"), arg("locked_model"), arg("key"),
        py::kw_only(), arg("passphrase") = py::none(),
        R"(Returns None when key unlocks locked_model into exactly original
(every field and every bit); raises onnx_crypt.Error saying what differs
otherwise. passphrase (str or bytes) opens a passphrase-wrapped key.)");
  m.def("describe_key", &DescribeKeyPy, arg("key"), arg("values") = false,
        py::kw_only(), arg("passphrase") = py::none(),
        R"(A readable summary of a key: format, whether it is wrapped with a
passphrase, options, seed, values, touched tensors; the values themselves
when values=True. passphrase (str or bytes) opens a passphrase-wrapped key.)");
  m.def(
      "set_max_memory",
      [](const py::object& size) {
        absl::StatusOr<int64_t> bytes =
            py::isinstance<py::int_>(size)
                ? absl::StatusOr<int64_t>(size.cast<int64_t>())
                : ParseByteSize(py::str(size).cast<std::string>());
        RaiseIfError(bytes.ok() ? SetMemoryBudgetBytes(*bytes)
                                : bytes.status());
      },
      arg("size"),
      R"(Sets the memory budget of this process: the largest block onnx-crypt
allocates on the word of an input (a file, a tensor, an op output), as bytes
(int) or a size like "512M" or "8G" (default 16G, the CLI's --max-memory).
A model, key or data file that needs more raises onnx_crypt.Error naming it.)");
  m.def(
      "max_memory", []() { return MemoryBudgetBytes(); },
      "The memory budget in bytes (see set_max_memory).");
}
