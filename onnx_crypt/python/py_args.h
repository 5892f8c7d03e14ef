// Argument conversions and errors of the `onnx_crypt` Python module
// (module.cc): library statuses as Python exceptions, model/key/data
// arguments as bytes or paths, passphrases, and numpy arrays to and from
// tensors. Everything here needs the GIL unless its comment says otherwise.
#ifndef ONNX_CRYPT_PYTHON_PY_ARGS_H_
#define ONNX_CRYPT_PYTHON_PY_ARGS_H_

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "onnx_crypt/ir/tensor.h"

namespace onnx_crypt::pyapi {

namespace py = pybind11;

// Creates onnx_crypt.Error and its subclasses (InvalidArgumentError,
// DataLossError, NotFoundError, UnimplementedError) in `m`, once at import;
// the module owns them for the life of the process.
void RegisterErrorTypes(py::module_& m);

// Raises the Python exception for a non-OK `status`: the subclass of its code,
// the library's message, `.code` set to the code's name.
[[noreturn]] void Raise(const absl::Status& status);
void RaiseIfError(const absl::Status& status);

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

// A str or os.PathLike; its path in the file system encoding (os.fsencode).
bool IsPathLike(py::handle obj);
std::string FsPath(py::handle obj);

// str or os.PathLike: a path; any contiguous buffer: its bytes (copied);
// anything else a TypeError naming `what`.
Source ToSource(py::handle obj, const char* what);

// The bytes of `s`, reading the file when it is a path. Call without the GIL.
absl::StatusOr<std::string> ContentOf(const Source& s);

py::bytes ToPyBytes(const std::string& s);

// A passphrase argument: None, a str (its UTF-8 bytes: the same passphrase as
// a passphrase file holding that text) or any bytes-like object. An empty one
// is the library's error.
std::optional<std::string> ToPassphrase(py::handle obj);

// The plain key file bytes of a key argument: read when it is a path, and
// unwrapped with `passphrase` when it is a wrapped key; errors about the
// wrapping name the file (or "<key bytes>"). Call without the GIL.
absl::StatusOr<std::string> PlainKey(
    const Source& key, const std::optional<std::string>& passphrase);

// A samples array as a Tensor: integer and bool arrays keep their dtype (a
// text model's int64 token ids), float16 stays float16, other floating-point
// arrays become float32 (as before: a float64 x is cast).
Tensor TensorFromArray(py::handle obj);

// Labels as int64, one per sample; a TypeError or ValueError otherwise.
std::vector<int64_t> LabelsFromArray(py::handle obj, int64_t samples);

// The numpy dtype of a tensor dtype; UnimplementedError (naming tensor `name`)
// for one numpy cannot hold.
py::dtype NumpyDType(DType dtype, const std::string& name);

}  // namespace onnx_crypt::pyapi

#endif  // ONNX_CRYPT_PYTHON_PY_ARGS_H_
