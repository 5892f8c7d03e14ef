// Lock and unlock at the level of ONNX models: runs the lock loop on an engine
// built from the model, writes the locked values into the model in their
// original storage form, builds the key; and applies a key to a locked model
// after checking every fingerprint.
#ifndef ONNX_CRYPT_LOCK_MODEL_LOCK_H_
#define ONNX_CRYPT_LOCK_MODEL_LOCK_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "onnx_crypt/engine/engine.h"
#include "onnx_crypt/key/key.h"
#include "onnx_crypt/lock/locker.h"
#include "onnx_crypt/onnx/model.h"

namespace onnx_crypt {

inline constexpr char kToolVersion[] = "onnx-crypt 0.1.0";

struct ModelLockOutput {
  keyfile::LockKey key;
  LockResult result;
};

// Locks `model` in place with owner samples `arrays` (a data file's arrays
// but y, bound to the model's inputs by name: engine/samples.h BindSamples;
// `source` names them in errors). `labels` may be empty (pseudo-labels).
// `output` names the classification output ("" = the first;
// engine/classifier.h). Deterministic.
absl::StatusOr<ModelLockOutput> LockOnnxModel(
    OnnxModel& model, const std::map<std::string, Tensor>& arrays,
    const std::vector<int64_t>& labels, const std::string& source,
    const std::string& output, const LockConfig& config,
    const std::string& device = "cpu", int num_threads = 0);

// The same with an engine the caller made from `original` (model.ToGraph()
// prepared by PrepareClassifierGraph) on `device`, and samples bound to it,
// so a batch can reuse one engine (weights uploaded once, workspaces kept)
// for many variants. The engine's initializers are back at their original
// values when this returns.
absl::StatusOr<ModelLockOutput> LockOnnxModelWithEngine(
    OnnxModel& model, const Graph& original, Engine& engine,
    const std::string& device, const Feeds& samples,
    const std::vector<int64_t>& labels, const LockConfig& config);

// Restores the original bits in `model` (a locked model) from `key`. Before
// changing anything it checks: every fingerprinted tensor exists with the
// recorded type and shape and hashes to its locked fingerprint, the whole
// model's initializers hash to the locked-model fingerprint, and each locked
// element holds the key's locked bits. After restoring, the tensors and the
// model must hash to the original fingerprints. InvalidArgument when the key
// does not belong to this model (or the model changed since locking); `model`
// is left unchanged on any error.
absl::Status ApplyKey(OnnxModel& model, const keyfile::LockKey& key);

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_LOCK_MODEL_LOCK_H_
