// Locking many models, and several per-customer variants of each, in one run.
//
// The batch has three parts: PlanBatchOutputs decides, before anything runs,
// which files every (model, variant) gets and refuses outputs that would
// collide or overwrite an input; a per-model step locks all variants of one
// model on one engine (weights uploaded once, workspaces kept); a write-behind
// helper writes a variant's files on a background thread while the next
// variant is computed. RunLockBatch strings them together. Errors are
// absl::Status; a failing item does not stop the batch.
#ifndef ONNX_CRYPT_LOCK_BATCH_H_
#define ONNX_CRYPT_LOCK_BATCH_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "onnx_crypt/lock/locker.h"
#include "onnx_crypt/lock/options.h"

namespace onnx_crypt {

struct BatchOptions {
  LockOptions lock;  // config.seed is the base seed: variant i uses seed + i
  // Independent variants per model (different positions and values).
  int variants = 1;
  // Created if missing; receives NAME-i.onnx and NAME-i.key.
  std::string output_dir;
  // This run does shard `shard_index` (0-based) of `shard_count` equal,
  // contiguous slices of the batch's items (models x variants, in plan
  // order): ShardRange. Outputs are named as without sharding, so the shards
  // of one batch never collide and their union is the unsharded run's output,
  // byte for byte.
  int shard_index = 0;
  int shard_count = 1;
};

// The items [begin, end) of shard `index` of `count` over `total` items:
// floor(index * total / count) to floor((index + 1) * total / count), so the
// shards partition the items and differ in size by at most one.
struct ShardRange {
  size_t begin = 0, end = 0;
};
ShardRange ShardOf(size_t total, int index, int count);

struct BatchItem {
  std::string model;  // input path
  int variant = 0;
  std::string locked_path, key_path;
  absl::Status status;  // per item: a failed item leaves no file behind
  LockResult result;
  double seconds = 0;
};

// Called after each item, in order, with the count of items done so far.
using BatchProgress =
    std::function<void(const BatchItem& item, int done, int total)>;

// Whether two paths name the same file (SamePath in base/file.h; tests may
// pass a purely lexical comparison).
using SamePathFn = std::function<bool(const std::string&, const std::string&)>;

// The items of a batch, model by model and variant by variant: for model
// DIR0/NAME.onnx and variant i, `output_dir`/NAME-i.onnx and
// `output_dir`/NAME-i.key. Refused with an InvalidArgument item status (that
// item is then not locked): every variant of a model whose NAME an earlier
// model already has (their outputs would collide), and an item whose output
// `same_path` judges to be one of the models or the data file. Pure apart from
// what `same_path` consults; creates nothing.
std::vector<BatchItem> PlanBatchOutputs(const std::vector<std::string>& models,
                                        const std::string& data_path,
                                        int variants,
                                        const std::string& output_dir,
                                        const SamePathFn& same_path);

// Locks every model (and `options.variants` variants of each; only the
// items of the options' shard) with the samples of the npz `data_path`. Creates
// the output directory. Fails as a whole only for bad options, an unusable
// output directory or unreadable data; otherwise returns one item per (model,
// variant) with its own status. Variant v of a model locks with seed + v and,
// when there are several variants, leaves out a seeded half of the positions.
// `progress` may be empty; it is called on the calling thread.
// Thread-compatible: concurrent batches share nothing, but must not write to
// the same output directory.
absl::StatusOr<std::vector<BatchItem>> RunLockBatch(
    const std::vector<std::string>& models, const std::string& data_path,
    const BatchOptions& options, const BatchProgress& progress);

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_LOCK_BATCH_H_
