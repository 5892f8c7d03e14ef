#include "onnx_crypt/python/py_args.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "onnx_crypt/api.h"
#include "onnx_crypt/base/file.h"

namespace onnx_crypt::pyapi {

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

}  // namespace

bool IsPathLike(py::handle obj) {
  return PyUnicode_Check(obj.ptr()) || py::hasattr(obj, "__fspath__");
}

std::string FsPath(py::handle obj) {
  py::module_ os = py::module_::import("os");
  py::bytes encoded = os.attr("fsencode")(os.attr("fspath")(obj));
  return std::string(encoded);
}

void RegisterErrorTypes(py::module_& m) {
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
}

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

absl::StatusOr<std::string> ContentOf(const Source& s) {
  if (s.is_path) return ReadFile(s.path);
  return s.bytes;
}

py::bytes ToPyBytes(const std::string& s) {
  return py::bytes(s.data(), s.size());
}

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

absl::StatusOr<std::string> PlainKey(
    const Source& key, const std::optional<std::string>& passphrase) {
  return UnwrappedKeyBytes(key.is_path
                               ? FileOrBytes::File(key.path)
                               : FileOrBytes::Bytes(key.bytes, "<key bytes>"),
                           passphrase);
}

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

}  // namespace onnx_crypt::pyapi
