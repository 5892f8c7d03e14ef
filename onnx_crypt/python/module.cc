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

namespace py = pybind11;

namespace onnx_crypt {
namespace {

// Exception types, created once at import and owned by the module for the
// life of the process.
PyObject* g_error = nullptr;
PyObject* g_invalid_argument = nullptr;
PyObject* g_data_loss = nullptr;
PyObject* g_not_found = nullptr;
PyObject* g_unimplemented = nullptr;

PyObject* NewErrorType(py::module_& m, const char* name, py::handle bases,
                       const char* doc) {
  const std::string qualified = absl::StrCat("onnx_crypt.", name);
  PyObject* type =
      PyErr_NewExceptionWithDoc(qualified.c_str(), doc, bases.ptr(), nullptr);
  if (type == nullptr) throw py::error_already_set();
  m.attr(name) = py::handle(type);
  return type;
}

// Raises the Python exception for a non-OK `status` (the GIL must be held).
[[noreturn]] void Raise(const absl::Status& status) {
  PyObject* type = g_error;
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      type = g_invalid_argument;
      break;
    case absl::StatusCode::kDataLoss:
      type = g_data_loss;
      break;
    case absl::StatusCode::kNotFound:
      type = g_not_found;
      break;
    case absl::StatusCode::kUnimplemented:
      type = g_unimplemented;
      break;
    default:
      break;
  }
  // Messages may quote file names that are not valid UTF-8.
  const std::string message(status.message());
  py::object text = py::reinterpret_steal<py::object>(PyUnicode_DecodeUTF8(
      message.data(), static_cast<Py_ssize_t>(message.size()), "replace"));
  if (!text) throw py::error_already_set();
  py::object exc = py::reinterpret_borrow<py::object>(type)(text);
  exc.attr("code") = absl::StatusCodeToString(status.code());
  PyErr_SetObject(type, exc.ptr());
  throw py::error_already_set();
}

void RaiseIfError(const absl::Status& status) {
  if (!status.ok()) Raise(status);
}

template <typename T>
T ValueOrRaise(absl::StatusOr<T> value) {
  if (!value.ok()) Raise(value.status());
  return std::move(value).value();
}

// A model, key or data argument: the content itself, or a file to read.
struct Source {
  bool is_path = false;
  std::string path;   // file system encoding (os.fsencode)
  std::string bytes;  // when !is_path
};

bool IsPathLike(py::handle obj) {
  return PyUnicode_Check(obj.ptr()) || py::hasattr(obj, "__fspath__");
}

std::string FsPath(py::handle obj) {
  py::module_ os = py::module_::import("os");
  py::bytes encoded = os.attr("fsencode")(os.attr("fspath")(obj));
  return std::string(encoded);
}

Source ToSource(py::handle obj, const char* what) {
  Source s;
  if (IsPathLike(obj)) {
    s.is_path = true;
    s.path = FsPath(obj);
    return s;
  }
  if (PyObject_CheckBuffer(obj.ptr())) {
    // PyBytes_FromObject copies any contiguous buffer (bytes, bytearray,
    // memoryview, a uint8 numpy array).
    py::bytes copy =
        py::reinterpret_steal<py::bytes>(PyBytes_FromObject(obj.ptr()));
    if (!copy) throw py::error_already_set();
    s.bytes = std::string(copy);
    return s;
  }
  throw py::type_error(
      absl::StrCat(what, " must be bytes or a path (str or os.PathLike), not ",
                   std::string(py::str(py::type::of(obj).attr("__name__")))));
}

// The bytes of `s`, reading the file when it is a path. Call without the GIL.
absl::StatusOr<std::string> ContentOf(const Source& s) {
  if (s.is_path) return ReadFile(s.path);
  return s.bytes;
}

py::bytes ToPyBytes(const std::string& s) {
  return py::bytes(s.data(), s.size());
}

// A passphrase argument: None, a str (its UTF-8 bytes: the same passphrase as
// a passphrase file holding that text) or any bytes-like object. An empty one
// is the library's error.
std::optional<std::string> ToPassphrase(py::handle obj) {
  if (obj.is_none()) return std::nullopt;
  if (PyUnicode_Check(obj.ptr())) {
    Py_ssize_t size = 0;
    const char* utf8 = PyUnicode_AsUTF8AndSize(obj.ptr(), &size);
    if (utf8 == nullptr) throw py::error_already_set();
    return std::string(utf8, static_cast<size_t>(size));
  }
  if (PyObject_CheckBuffer(obj.ptr())) {
    py::bytes copy =
        py::reinterpret_steal<py::bytes>(PyBytes_FromObject(obj.ptr()));
    if (!copy) throw py::error_already_set();
    return std::string(copy);
  }
  throw py::type_error(
      absl::StrCat("passphrase must be str, bytes or None, not ",
                   std::string(py::str(py::type::of(obj).attr("__name__")))));
}

// The plain key file bytes of a key argument: read when it is a path, and
// unwrapped with `passphrase` when it is a wrapped key; errors about the
// wrapping name the file (or "<key bytes>"). Call without the GIL.
absl::StatusOr<std::string> PlainKey(
    const Source& key, const std::optional<std::string>& passphrase) {
  return UnwrappedKeyBytes(key.is_path
                               ? FileOrBytes::File(key.path)
                               : FileOrBytes::Bytes(key.bytes, "<key bytes>"),
                           passphrase);
}

// ---------------------------------------------------------------- lock

// x as a float32 tensor (batch first); any numeric array is converted.
// A samples array as a Tensor: integer and bool arrays keep their dtype (a
// text model's int64 token ids), float16 stays float16, other floating-point
// arrays become float32 (as before: a float64 x is cast).
Tensor TensorFromArray(py::handle obj) {
  py::array any = py::array::ensure(obj);
  if (!any) {
    PyErr_Clear();
    throw py::type_error(
        "data must be a path to an .npz file, a numpy array x or a dict of "
        "arrays");
  }
  const char kind = any.dtype().kind();
  const size_t itemsize = any.dtype().itemsize();
  DType dtype = DType::kFloat32;
  py::array x;
  auto as = [&](auto tag, DType d) {
    using T = decltype(tag);
    x = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(any);
    dtype = d;
  };
  if (kind == 'b') {
    as(bool{}, DType::kBool);
  } else if (kind == 'i' && itemsize == 8) {
    as(int64_t{}, DType::kInt64);
  } else if (kind == 'i' && itemsize == 4) {
    as(int32_t{}, DType::kInt32);
  } else if (kind == 'i' && itemsize == 2) {
    as(int16_t{}, DType::kInt16);
  } else if (kind == 'i' && itemsize == 1) {
    as(int8_t{}, DType::kInt8);
  } else if (kind == 'u' && itemsize == 8) {
    as(uint64_t{}, DType::kUint64);
  } else if (kind == 'u' && itemsize == 4) {
    as(uint32_t{}, DType::kUint32);
  } else if (kind == 'u' && itemsize == 2) {
    as(uint16_t{}, DType::kUint16);
  } else if (kind == 'u' && itemsize == 1) {
    as(uint8_t{}, DType::kUint8);
  } else if (kind == 'f' && itemsize == 2) {
    x = py::array::ensure(any, py::array::c_style);
    dtype = DType::kFloat16;
  } else if (kind == 'f' || kind == 'i' || kind == 'u') {
    as(float{}, DType::kFloat32);
  } else {
    throw py::type_error(absl::StrCat("samples of dtype ",
                                      std::string(py::str(any.dtype())),
                                      " are not supported"));
  }
  if (!x) {
    PyErr_Clear();
    throw py::type_error("the samples array could not be read");
  }
  if (x.ndim() < 1 || x.shape(0) < 1) {
    throw py::value_error(
        "x must have a batch dimension with at least one sample");
  }
  Shape shape(x.shape(), x.shape() + x.ndim());
  Tensor t(dtype, std::move(shape));
  std::memcpy(t.mutable_raw(), x.data(), t.nbytes());
  return t;
}

std::vector<int64_t> LabelsFromArray(py::handle obj, int64_t samples) {
  py::array any = py::array::ensure(obj);
  if (!any) {
    PyErr_Clear();
    throw py::type_error("labels must be an integer numpy array or None");
  }
  const char kind = any.dtype().kind();
  if (kind != 'i' && kind != 'u') {
    throw py::type_error(absl::StrCat("labels must be integers, not dtype ",
                                      std::string(py::str(any.dtype()))));
  }
  auto y =
      py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(
          any);
  if (y.ndim() != 1 || y.shape(0) != samples) {
    throw py::value_error(
        absl::StrCat("labels must be 1-D with one label per sample (", samples,
                     "), got ", y.ndim(), "-D with ", y.size(), " elements"));
  }
  return std::vector<int64_t>(y.data(), y.data() + y.size());
}

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
  // Hardened lock only (-1 otherwise): accuracy with the locked values reset to
  // 0 / to their tensor's median, and after a simulated saliency repair.
  d["reset_zero_accuracy"] = r.reset_zero_accuracy;
  d["reset_median_accuracy"] = r.reset_median_accuracy;
  d["repair_accuracy"] = r.repair_accuracy;
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
    config.progress = [this](const LockRound& r) {
      py::gil_scoped_acquire gil;
      py::dict info;
      info["round"] = r.round;
      info["locked"] = r.locked;
      info["sample_accuracy"] = r.sample_accuracy;
      info["loss"] = r.loss;
      info["sample_accuracy_before"] = r.sample_accuracy_before;
      info["target_accuracy"] = r.target_accuracy;
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

py::dict BatchItemDict(const BatchItem& item) {
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
    items = LockBatch(paths, data_path, options,
                      [&hooks](const BatchItem& item, int done, int total) {
                        py::gil_scoped_acquire gil;
                        py::dict info = BatchItemDict(item);
                        info["done"] = done;
                        info["total"] = total;
                        hooks.Call(info);
                      });
  }
  hooks.RethrowIfFailed();
  py::list out;
  for (const BatchItem& item : ValueOrRaise(std::move(items))) {
    out.append(BatchItemDict(item));
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

py::dtype NumpyDType(DType dtype, const std::string& name) {
  switch (dtype) {
    case DType::kFloat32:
      return py::dtype("<f4");
    case DType::kFloat64:
      return py::dtype("<f8");
    case DType::kFloat16:
      return py::dtype("<f2");
    case DType::kInt8:
      return py::dtype("i1");
    case DType::kUint8:
      return py::dtype("u1");
    case DType::kInt16:
      return py::dtype("<i2");
    case DType::kUint16:
      return py::dtype("<u2");
    case DType::kInt32:
      return py::dtype("<i4");
    case DType::kUint32:
      return py::dtype("<u4");
    case DType::kInt64:
      return py::dtype("<i8");
    case DType::kUint64:
      return py::dtype("<u8");
    case DType::kBool:
      return py::dtype("?");
    default:
      Raise(absl::UnimplementedError(
          absl::StrCat("tensor ", name, " has dtype ", DTypeName(dtype),
                       ", which numpy cannot hold")));
  }
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

  g_error = NewErrorType(
      m, "Error", py::handle(PyExc_RuntimeError),
      "An onnx-crypt library error; `code` names the status code.");
  g_invalid_argument = NewErrorType(
      m, "InvalidArgumentError",
      py::make_tuple(py::handle(g_error), py::handle(PyExc_ValueError)),
      "A bad model, key or argument (for example a key made for another "
      "model).");
  g_data_loss = NewErrorType(
      m, "DataLossError",
      py::make_tuple(py::handle(g_error), py::handle(PyExc_ValueError)),
      "Corrupted or truncated data, such as a damaged key.");
  g_not_found = NewErrorType(
      m, "NotFoundError",
      py::make_tuple(py::handle(g_error), py::handle(PyExc_FileNotFoundError)),
      "A file (or tensor) that does not exist.");
  g_unimplemented =
      NewErrorType(m, "UnimplementedError",
                   py::make_tuple(py::handle(g_error),
                                  py::handle(PyExc_NotImplementedError)),
                   "A model feature or op the engine does not support.");

  m.def("lock", &Lock, arg("model"), arg("data"), arg("labels") = py::none(),
        py::kw_only(), arg("max_values") = 256, arg("target_accuracy") = -1.0,
        arg("seed") = 0, arg("include_bias") = false, arg("device") = "cpu",
        arg("values_per_round") = LockConfig().values_per_round,
        arg("candidates") = LockConfig().candidates, arg("threads") = 0,
        arg("harden") = false, arg("stealth_quantile") = 0.999,
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
Locks values until the owner-sample accuracy is at most target_accuracy
(negative: chance + 0.02) or max_values are locked; at most values_per_round
values each round (those whose effects add up when tried together), out of at
most `candidates` first-order candidates.
harden=True: the hardened lock (as `onnx-crypt lock --harden`): locked values
stay below the stealth_quantile of |w| (and of the z-score statistics), resets
to 0 or the median leave the model broken, and locking goes on until a
simulated saliency repair stays at or below repair_target (negative: chance +
0.05). The same inputs and seed give byte-identical results. summary is a dict
(locked_values, total_parameters, sample_accuracy_before/after, stop_reason,
seconds, harden, reset_zero/median_accuracy, repair_accuracy, changes, ...).
passphrase (str or bytes, not empty): key_bytes come wrapped with it (a
fresh salt and nonce every call: they differ from run to run; the locked
model and the key inside do not).
The GIL is released while locking.)");
  m.def("lock_batch", &LockBatchPy, arg("models"), arg("data"),
        arg("output_dir"), py::kw_only(), arg("variants") = 1,
        arg("shard_index") = 0, arg("shard_count") = 1, arg("max_values") = 256,
        arg("target_accuracy") = -1.0, arg("seed") = 0,
        arg("include_bias") = false, arg("device") = "cpu",
        arg("values_per_round") = LockConfig().values_per_round,
        arg("candidates") = LockConfig().candidates, arg("threads") = 0,
        arg("harden") = false, arg("stealth_quantile") = 0.999,
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
