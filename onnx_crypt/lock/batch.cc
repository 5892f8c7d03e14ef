#include "onnx_crypt/lock/batch.h"

#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "onnx_crypt/base/file.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/data/npz.h"
#include "onnx_crypt/engine/classifier.h"
#include "onnx_crypt/engine/factory.h"
#include "onnx_crypt/engine/samples.h"
#include "onnx_crypt/key/key.h"
#include "onnx_crypt/key/key_wrap.h"
#include "onnx_crypt/lock/model_lock.h"
#include "onnx_crypt/onnx/model.h"

namespace onnx_crypt {

namespace {

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since)
      .count();
}

// Counts finished items and passes each to the caller's progress callback.
class BatchReporter {
 public:
  BatchReporter(const BatchProgress& progress, int total)
      : progress_(progress), total_(total) {}
  void operator()(const BatchItem& item) {
    ++done_;
    if (progress_) progress_(item, done_, total_);
  }

 private:
  const BatchProgress& progress_;
  const int total_;
  int done_ = 0;
};

// Writes one variant's files, all or none: the model's (with any external
// data) and the key (owner-only mode).
absl::Status WriteVariant(const OnnxModel& model,
                          const std::string& locked_path,
                          const std::string& key_path,
                          const std::string& key_bytes) {
  OutputSet outputs;
  OC_RETURN_IF_ERROR(model.StageSave(locked_path, outputs));
  OC_RETURN_IF_ERROR(outputs.Add(key_path, key_bytes, kKeyFileMode));
  return outputs.Commit();
}

// Write-behind: at most one variant's files in flight on a background thread.
// Finish() waits for them, records a write failure in the item and reports the
// item. Not thread-safe; the items must outlive it.
class WriteBehind {
 public:
  explicit WriteBehind(BatchReporter& report) : report_(report) {}
  ~WriteBehind() { Finish(); }
  WriteBehind(const WriteBehind&) = delete;
  WriteBehind& operator=(const WriteBehind&) = delete;

  // Hands `model` and `key_bytes` to the background; the previous write must
  // have been finished.
  void Start(BatchItem& item, OnnxModel model, std::string key_bytes) {
    auto owned = std::make_shared<const OnnxModel>(std::move(model));
    BatchItem* target = &item;
    pending_ = std::async(std::launch::async, [owned, target, key_bytes]() {
      return WriteVariant(*owned, target->locked_path, target->key_path,
                          key_bytes);
    });
    item_ = target;
  }

  void Finish() {
    if (item_ == nullptr) return;
    const absl::Status s = pending_.get();
    if (!s.ok()) item_->status = s;
    BatchItem* done = item_;
    item_ = nullptr;
    report_(*done);
  }

 private:
  BatchReporter& report_;
  std::future<absl::Status> pending_;
  BatchItem* item_ = nullptr;
};

// What all variants of one model share: its bytes (each variant locks a fresh
// copy), the original graph, and one engine built from it.
struct PreparedModel {
  std::string bytes, base_dir;
  Graph original;
  Feeds samples;  // the owner samples bound to this model's inputs
  std::string device;
  std::unique_ptr<Engine> engine;
};

absl::StatusOr<PreparedModel> PrepareModel(const std::string& model_path,
                                           const LockOptions& options,
                                           const Dataset& data,
                                           const std::vector<int64_t>& labels,
                                           const std::string& data_path) {
  PreparedModel p;
  OC_ASSIGN_OR_RETURN(OnnxModel first, OnnxModel::Load(model_path));
  if (first.HasExternalData()) {
    // Every output of a batch sits in one folder, and an external data
    // location is a file name inside the model: the variants (and models
    // sharing a location) would write over each other's data.
    return absl::UnimplementedError(
        "the model keeps tensor data in external files, which lock-batch "
        "would write over between variants; lock it with `onnx-crypt lock`");
  }
  OC_ASSIGN_OR_RETURN(p.original, first.ToGraph());
  OC_RETURN_IF_ERROR(PrepareClassifierGraph(p.original, options.output,
                                            first.inferred_values()));
  OC_ASSIGN_OR_RETURN(p.samples,
                      BindSamples(p.original, data.inputs, labels, data_path));
  OC_ASSIGN_OR_RETURN(p.device, ResolveDevice(options.device));
  OC_ASSIGN_OR_RETURN(p.bytes, ReadFile(model_path));
  p.base_dir = first.base_dir();
  OC_ASSIGN_OR_RETURN(p.engine,
                      CreateEngine(p.original, p.device, options.threads));
  return p;
}

struct LockedVariant {
  OnnxModel model;
  ModelLockOutput out;
};

// One variant: a fresh copy of the model, locked on the shared engine with the
// variant's seed.
absl::StatusOr<LockedVariant> LockVariant(PreparedModel& p, int variant,
                                          const std::vector<int64_t>& labels,
                                          const BatchOptions& options) {
  OC_ASSIGN_OR_RETURN(OnnxModel model,
                      OnnxModel::LoadFromBytes(p.bytes, p.base_dir));
  LockConfig config = options.lock.config;
  config.seed = options.lock.config.seed + static_cast<uint64_t>(variant);
  config.diversify_positions = options.variants > 1;
  OC_ASSIGN_OR_RETURN(
      ModelLockOutput out,
      LockOnnxModelWithEngine(model, p.original, *p.engine, p.device, p.samples,
                              labels, config));
  return LockedVariant{std::move(model), std::move(out)};
}

// The per-model step: locks `items` (the variants of one model) one after the
// other on one engine. A failed item is reported at once; a locked one goes to
// `writer`, which reports it when its files are written.
void LockModelVariants(absl::Span<BatchItem> items, const Dataset& data,
                       const std::vector<int64_t>& labels,
                       const std::string& data_path,
                       const BatchOptions& options, WriteBehind& writer,
                       BatchReporter& report) {
  const std::string& model_path = items.front().model;
  absl::StatusOr<PreparedModel> prepared =
      PrepareModel(model_path, options.lock, data, labels, data_path);
  absl::Status model_status = prepared.status();
  for (BatchItem& item : items) {
    const auto t0 = std::chrono::steady_clock::now();
    // An item refused by the plan is not locked.
    absl::StatusOr<LockedVariant> locked = absl::UnknownError("not locked");
    if (item.status.ok()) {
      locked = model_status.ok()
                   ? LockVariant(*prepared, item.variant, labels, options)
                   : absl::StatusOr<LockedVariant>(model_status);
      if (!locked.ok()) {
        item.status = Annotate(locked.status(), model_path);
        // A failed lock may leave trial values in the engine: start the next
        // variant afresh.
        if (prepared.ok()) {
          absl::StatusOr<std::unique_ptr<Engine>> e = CreateEngine(
              prepared->original, prepared->device, options.lock.threads);
          if (e.ok()) {
            prepared->engine = *std::move(e);
          } else {
            model_status = e.status();
          }
        }
      }
    }
    writer.Finish();
    item.seconds = Seconds(t0);
    if (!item.status.ok()) {
      report(item);
      continue;
    }
    absl::StatusOr<std::string> key =
        EncodeKeyWithPassphrase(locked->out.key, options.lock.passphrase);
    if (!key.ok()) {
      item.status = key.status();
      report(item);
      continue;
    }
    item.result = std::move(locked->out.result);
    writer.Start(item, std::move(locked->model), *std::move(key));
  }
}

}  // namespace

ShardRange ShardOf(size_t total, int index, int count) {
  ShardRange r;
  if (count < 1 || index < 0 || index >= count) return r;
  // 128-bit products: total * count cannot overflow.
  r.begin = static_cast<size_t>(static_cast<unsigned __int128>(total) *
                                static_cast<unsigned>(index) /
                                static_cast<unsigned>(count));
  r.end = static_cast<size_t>(static_cast<unsigned __int128>(total) *
                              static_cast<unsigned>(index + 1) /
                              static_cast<unsigned>(count));
  return r;
}

std::vector<BatchItem> PlanBatchOutputs(const std::vector<std::string>& models,
                                        const std::string& data_path,
                                        int variants,
                                        const std::string& output_dir,
                                        const SamePathFn& same_path) {
  const std::filesystem::path dir(output_dir);
  std::vector<BatchItem> items;
  std::set<std::string> names;
  for (const std::string& m : models) {
    const std::string name = std::filesystem::path(m).stem().string();
    const bool duplicate = !names.insert(name).second;
    for (int v = 0; v < variants; ++v) {
      BatchItem item;
      item.model = m;
      item.variant = v;
      item.locked_path = (dir / absl::StrCat(name, "-", v, ".onnx")).string();
      item.key_path = (dir / absl::StrCat(name, "-", v, ".key")).string();
      if (duplicate) {
        item.status = absl::InvalidArgumentError(
            absl::StrCat(m, ": another model in the batch has the same name '",
                         name, "'; its outputs would collide"));
      }
      items.push_back(std::move(item));
    }
  }
  for (BatchItem& item : items) {
    for (const std::string& m : models) {
      if (item.status.ok() &&
          (same_path(item.locked_path, m) || same_path(item.key_path, m) ||
           same_path(item.locked_path, data_path) ||
           same_path(item.key_path, data_path))) {
        item.status = absl::InvalidArgumentError(
            absl::StrCat("refusing to overwrite input ", m, " with output ",
                         item.locked_path));
      }
    }
  }
  return items;
}

absl::StatusOr<std::vector<BatchItem>> RunLockBatch(
    const std::vector<std::string>& models, const std::string& data_path,
    const BatchOptions& options, const BatchProgress& progress) {
  if (models.empty()) return absl::InvalidArgumentError("no models to lock");
  if (options.variants < 1) {
    return absl::InvalidArgumentError("--variants must be >= 1");
  }
  if (options.output_dir.empty()) {
    return absl::InvalidArgumentError("an output directory is required");
  }
  if (options.shard_count < 1 || options.shard_index < 0 ||
      options.shard_index >= options.shard_count) {
    return absl::InvalidArgumentError(
        absl::StrCat("shard ", options.shard_index, "/", options.shard_count,
                     " is not one of 0/N .. N-1/N"));
  }
  std::error_code ec;
  std::filesystem::create_directories(options.output_dir, ec);
  if (!std::filesystem::is_directory(options.output_dir)) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot create output directory ", options.output_dir));
  }
  OC_ASSIGN_OR_RETURN(Dataset data, LoadDataset(data_path));
  std::vector<int64_t> labels;
  if (data.y.defined()) labels = data.y.ToInt64Vector();

  // The whole batch is planned (so name collisions are judged the same way in
  // every shard), then cut to this shard.
  std::vector<BatchItem> items = PlanBatchOutputs(
      models, data_path, options.variants, options.output_dir, SamePath);
  const ShardRange shard =
      ShardOf(items.size(), options.shard_index, options.shard_count);
  items = std::vector<BatchItem>(
      std::make_move_iterator(items.begin() + shard.begin),
      std::make_move_iterator(items.begin() + shard.end));
  BatchReporter report(progress, static_cast<int>(items.size()));
  {
    WriteBehind writer(report);
    absl::Span<BatchItem> rest(items);
    while (!rest.empty()) {
      size_t n = 1;  // the variants of rest.front().model
      while (n < rest.size() && rest[n].model == rest.front().model) ++n;
      LockModelVariants(rest.subspan(0, n), data, labels, data_path, options,
                        writer, report);
      rest.remove_prefix(n);
    }
  }  // the last variant's files are written here
  return items;
}

}  // namespace onnx_crypt
