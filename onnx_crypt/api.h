// onnx-crypt public API: what the CLI and the Python module call.
//
// Lock a model with a few owner samples; unlock it exactly with the key, to a
// file, to bytes for ONNX Runtime's session-from-array, or to just the restored
// tensors for ONNX Runtime's add-initializer path. Every function returns
// absl::Status(Or); messages name the file, tensor or node at fault. Files are
// written atomically, and an output that names an input is refused. Functions
// are independent and thread-compatible (no shared mutable state between
// calls).
//
// Passphrases: a key may be wrapped with a passphrase at rest
// (key/key_wrap.h). LockOptions::passphrase (also in BatchOptions::lock) wraps
// the keys a lock writes or returns. Every function that reads a key takes an
// optional `passphrase` last: a wrapped key needs it (without it: an
// InvalidArgument saying the key is protected by a passphrase; with a wrong
// one, or a wrapped key that was changed: InvalidArgument "wrong passphrase,
// or the key file was changed"; nothing is written either way), a plain key
// ignores it. Unwrapping runs scrypt, a fraction of a second by design: to use
// one key many times, unwrap it once with UnwrappedKeyBytes.
#ifndef ONNX_CRYPT_API_H_
#define ONNX_CRYPT_API_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "onnx_crypt/ir/tensor.h"
#include "onnx_crypt/key/key.pb.h"
#include "onnx_crypt/lock/batch.h"
#include "onnx_crypt/lock/eligibility.h"
#include "onnx_crypt/lock/locker.h"
#include "onnx_crypt/lock/options.h"

namespace onnx_crypt {

// ---------------------------------------------------------------- inspection

struct ModelInfo {
  struct Io {
    std::string name;
    std::string dtype;
    std::string shape;  // "[N, 1, 28, 28]" with symbolic names
  };
  std::vector<Io> inputs, outputs;
  std::map<std::string, int64_t> opsets;  // domain ("" = ai.onnx) -> version
  int64_t ir_version = 0;
  std::string producer;
  std::map<std::string, int> op_histogram;  // op type -> count
  int64_t parameters = 0;  // elements of all float initializers
  int64_t initializers = 0;
  std::vector<EligibleTensor> eligible;  // weights (no biases)
  std::vector<EligibleTensor>
      eligible_bias;  // extra tensors with --include-bias
  std::vector<std::string>
      unsupported_ops;  // ops the CPU engine lacks ("Op-opset node")
  // With a device: the nodes that would not run on that backend's own kernels
  // (the host for int64 shape arithmetic, or a CPU fallback), in graph order.
  struct Placed {
    std::string node;       // "Erf-13 node 'erf'"
    std::string placement;  // "host" or "cpu fallback"
  };
  std::string device;  // the device planned for, or empty
  std::vector<Placed> off_kernel;
};
// `device` ("cpu" or "cuda", or empty for none) also plans the graph for that
// backend and lists the nodes that fall back (needs no GPU; FailedPrecondition
// for "cuda" in a build without CUDA).
absl::StatusOr<ModelInfo> InspectModel(const std::string& model_path,
                                       const std::string& device = "");

// ---------------------------------------------------------------- evaluation

struct EvalOptions {
  int64_t batch_size = 256;
  std::string device = "cpu";  // cpu | cuda | auto
  int threads = 0;             // BLAS threads for the CPU engine (0 = default)
  std::function<void(int64_t done, int64_t total)> progress;
  // When set, writes an npz with "out" (the first output, all samples) and
  // "pred" (int64 argmax per sample).
  std::string dump_outputs;
  // The classification output, by name ("" = the first; engine/classifier.h).
  std::string output;
};
struct EvalReport {
  bool has_labels = false;
  double accuracy = 0;  // top-1, when labels are present
  int64_t samples = 0;
  double seconds = 0;  // forward passes only, after one untimed warm-up batch
  std::string device;
};
absl::StatusOr<EvalReport> EvaluateFile(const std::string& model_path,
                                        const std::string& data_path,
                                        const EvalOptions& options);

// ---------------------------------------------------------------- lock

// LockOptions (lock/options.h): the lock loop's configuration (budget, target,
// seed, bias, values per round, candidates, the hardened lock with its stealth
// quantile and repair target) plus device and threads; one struct for LockFile,
// LockBytes and LockBatch.
struct LockSummary {
  LockResult result;
  std::string device;
  double seconds = 0;
  std::string key_bytes;  // as written: wrapped when options.passphrase is set
};
// Locks `model_path` with the samples of `data_path` (npz x[, y]); writes the
// locked model to `locked_path` and the key to `key_path` (owner-only, mode
// 0600; wrapped with options.passphrase when set).
absl::StatusOr<LockSummary> LockFile(const std::string& model_path,
                                     const std::string& data_path,
                                     const std::string& locked_path,
                                     const std::string& key_path,
                                     const LockOptions& options);

struct LockedBytes {
  std::string locked_model;
  std::string key;  // wrapped when options.passphrase is set
  LockSummary summary;
};
// The same in memory (models with external data must go through LockFile).
// `inputs`: the owner samples by name, as a data file holds them (one
// batch-first array per model input, or "x" for a single-input model;
// engine/samples.h BindSamples).
absl::StatusOr<LockedBytes> LockBytes(
    std::string model_bytes, const std::map<std::string, Tensor>& inputs,
    const std::vector<int64_t>& labels, const LockOptions& options);

// ---------------------------------------------------------------- batch lock

// BatchOptions and BatchItem: lock/batch.h.
// Locks every model (and `variants` variants of each) with the samples of
// `data_path`. One engine per model is reused for all its variants; each
// variant's files are written in the background while the next variant is
// computed. Keys are written owner-only (0600), each wrapped with
// options.lock.passphrase when set. Keeps going past a failing model: the
// returned items say what failed. `progress` is called after each item.
absl::StatusOr<std::vector<BatchItem>> LockBatch(
    const std::vector<std::string>& models, const std::string& data_path,
    const BatchOptions& options,
    const std::function<void(const BatchItem&, int done, int total)>& progress =
        nullptr);

// ---------------------------------------------------------------- unlock

// Restores the original model exactly and writes it to `output_path`. Nothing
// is written when the key is wrong, corrupted or truncated, or the locked model
// changed since locking.
// `notes`, when given, receives remarks for the user that are not errors
// (a key too old to fingerprint the graph, so only the tensors were checked).
absl::Status UnlockFile(
    const std::string& locked_path, const std::string& key_path,
    const std::string& output_path,
    const std::optional<std::string>& passphrase = std::nullopt,
    std::vector<std::string>* notes = nullptr);

// The note for a key without the whole-model fingerprint (empty for one with
// it): such keys still unlock, but a change to the locked model's graph goes
// unnoticed.
std::string OldKeyNote(const keyfile::LockKey& key);

// The original model, serialized, for ONNX Runtime's session-from-array:
// nothing touches the disk. `locked_model` must not use external data.
absl::StatusOr<std::string> UnlockToBytes(
    absl::string_view locked_model, absl::string_view key,
    const std::optional<std::string>& passphrase = std::nullopt);

struct RestoredTensor {
  std::string name;
  DType dtype = DType::kUndefined;
  Shape shape;
  std::string bytes;  // little-endian element bytes, row-major
};
// Only the tensors the key touches, restored, for ONNX Runtime's AddInitializer
// / AddExternalInitializers: a large model need not be re-serialized.
// `locked_model` is the locked model's bytes (external data not supported here;
// use the file form below).
absl::StatusOr<std::vector<RestoredTensor>> UnlockTensors(
    absl::string_view locked_model, absl::string_view key,
    const std::optional<std::string>& passphrase = std::nullopt);
absl::StatusOr<std::vector<RestoredTensor>> UnlockTensorsFromFile(
    const std::string& locked_path, absl::string_view key,
    const std::optional<std::string>& passphrase = std::nullopt);

// A model or key argument: a file (a model's external data is found beside
// it) or its content in memory, which messages call `name`.
struct FileOrBytes {
  static FileOrBytes File(std::string path);
  static FileOrBytes Bytes(std::string bytes, std::string name);
  bool is_file = false;
  std::string path;   // when is_file
  std::string bytes;  // otherwise
  std::string name;   // otherwise: how messages name the bytes
};

// OK only when `key` unlocks `locked` into exactly `original` (every field and
// every bit); otherwise an error that says what differs, naming the original
// by its path or name. Touches no file beyond reading those given as files.
absl::Status Verify(
    const FileOrBytes& original, const FileOrBytes& locked,
    const FileOrBytes& key,
    const std::optional<std::string>& passphrase = std::nullopt);
// The same for three files.
absl::Status VerifyFiles(
    const std::string& original_path, const std::string& locked_path,
    const std::string& key_path,
    const std::optional<std::string>& passphrase = std::nullopt);
// The same for contents in memory (no external data), named in messages
// "<original.onnx bytes>", "<locked.onnx bytes>" and "<key bytes>".
absl::Status VerifyBytes(
    absl::string_view original_model, absl::string_view locked_model,
    absl::string_view key,
    const std::optional<std::string>& passphrase = std::nullopt);

// The plain key file bytes of `key`: unwrapped with `passphrase` when it is a
// wrapped key, as they are otherwise (not checked further). Errors name the
// file or the bytes. Lets a caller that unlocks many times pay for scrypt
// once.
absl::StatusOr<std::string> UnwrappedKeyBytes(
    const FileOrBytes& key,
    const std::optional<std::string>& passphrase = std::nullopt);

// A readable summary of a key file: format, whether and how it is wrapped,
// options, seed, values, touched tensors; the values themselves when
// `show_values`.
absl::StatusOr<std::string> DescribeKey(
    absl::string_view key_bytes, bool show_values,
    const std::optional<std::string>& passphrase = std::nullopt);

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_API_H_
