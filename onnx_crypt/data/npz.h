// NumPy .npy / .npz files: reading (what np.save, np.savez and
// np.savez_compressed write) and a small writer (stored, uncompressed .npz) for
// tests and tools.
//
// Supported arrays: little-endian '<f4', '<f8', '<i8', '<i4', '|u1', '|i1',
// '|b1', C order; .npy format versions 1.0, 2.0 and 3.0. Zip entries may be
// stored or deflated (zlib); ZIP64 extra fields are understood. Everything else
// (Fortran order, big-endian, encrypted or multi-disk zips) is an error naming
// the file and the array; so are object arrays (pickled Python objects), which
// are never unpickled. CRCs are checked (DataLoss on
// mismatch). The functions are thread-compatible.
#ifndef ONNX_CRYPT_DATA_NPZ_H_
#define ONNX_CRYPT_DATA_NPZ_H_

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "onnx_crypt/ir/tensor.h"

namespace onnx_crypt {

// Array name (the zip entry name without ".npy") -> array.
using NpzArrays = std::map<std::string, Tensor>;

// Parses one .npy image. `label` names it in errors ("file.npz: array 'x'").
absl::StatusOr<Tensor> ParseNpy(absl::string_view bytes,
                                const std::string& label);
// Serializes one array as .npy version 1.0 (header padded to 64 bytes, as numpy
// does). InvalidArgument for a dtype .npy cannot express here.
absl::StatusOr<std::string> SerializeNpy(const Tensor& tensor);

// Parses a whole .npz image; `label` names it in errors.
absl::StatusOr<NpzArrays> ParseNpz(absl::string_view bytes,
                                   const std::string& label);
// Reads the .npz file at `path` (NotFound when it does not exist).
absl::StatusOr<NpzArrays> LoadNpz(const std::string& path);
// Writes `arrays` to `path` as an uncompressed .npz (entries "<name>.npy", in
// name order, written atomically). Readable by numpy.load.
absl::Status SaveNpz(const std::string& path, const NpzArrays& arrays);

// A data set: the samples, one batch-first array per model input (`x` for a
// single-input model, or arrays named after the inputs), and y, one int64
// label per row, or undefined (dtype kUndefined) when the file has no `y`.
// engine/samples.h binds the arrays to a graph's inputs (and checks their
// dtypes, shapes and row counts against it).
struct Dataset {
  NpzArrays inputs;  // every array but y, by name
  Tensor y;
};
// Loads the arrays of `path`: at least one besides y, and an optional `y`
// (1-D, int64, or int32/uint8 which are widened). InvalidArgument naming the
// file and array otherwise.
absl::StatusOr<Dataset> LoadDataset(const std::string& path);

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_DATA_NPZ_H_
