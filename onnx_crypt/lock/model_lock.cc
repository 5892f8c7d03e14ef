#include "onnx_crypt/lock/model_lock.h"

#include <cstring>
#include <map>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/engine/classifier.h"
#include "onnx_crypt/engine/factory.h"
#include "onnx_crypt/engine/samples.h"
#include "onnx_crypt/ir/half.h"

namespace onnx_crypt {

namespace {

// One value's bits in the tensor's storage type (float32, or float16 /
// bfloat16: engine/narrow_floats.h; the value is representable there).
std::string ElementBytes(float v, DType storage) {
  if (storage == DType::kFloat16 || storage == DType::kBFloat16) {
    const uint16_t bits =
        storage == DType::kFloat16 ? Float32ToHalf(v) : Float32ToBFloat16(v);
    return std::string(reinterpret_cast<const char*>(&bits), 2);
  }
  return std::string(reinterpret_cast<const char*>(&v), 4);
}

DType StorageOf(const Graph& graph, const std::string& name) {
  auto it = graph.narrow_storage.find(name);
  return it == graph.narrow_storage.end() ? DType::kFloat32 : it->second;
}

// GraphInitializersSha256 of the model as it is now, decoding one initializer
// at a time (a model with large external data is never decoded whole here).
absl::StatusOr<std::string> ModelInitializersSha256(const OnnxModel& model) {
  InitializersSha256 h;
  for (const std::string& name : model.InitializerNames()) {
    OC_ASSIGN_OR_RETURN(const Tensor t, model.ReadInitializer(name));
    h.Add(name, t);
  }
  return h.Finish();
}

// The lock itself. `model_sha_original` is GraphInitializersSha256 of the
// unlocked model; the original values of touched tensors are read from
// `model` before they are written, so no copy of the original graph is needed.
absl::StatusOr<ModelLockOutput> LockWithEngine(
    OnnxModel& model, const std::string& model_sha_original, Engine& engine,
    const std::string& device, const Feeds& samples,
    const std::vector<int64_t>& labels, const LockConfig& config) {
  const std::string& resolved = device;
  Engine* const engine_ptr = &engine;
  ModelLockOutput out;
  OC_ASSIGN_OR_RETURN(out.result, LockModel(engine, samples, labels, config));
  const LockResult& r = out.result;
  // Put the engine back as it was, so it can lock another variant. (A copy of
  // the changes: `out` may be moved into the return value before this
  // destructor runs.)
  struct Restore {
    Engine* engine;
    std::vector<LockChange> changes;
    ~Restore() {
      for (auto it = changes.rbegin(); it != changes.rend(); ++it) {
        engine
            ->SetInitializerValues(
                it->tensor, {it->index},
                Tensor::FromVector<float>({1}, {it->original}))
            .IgnoreError();
      }
    }
  } restore{engine_ptr, r.changes};

  // Touched tensors in model order; write them back in their storage form.
  std::map<std::string, bool> touched;
  for (const LockChange& c : r.changes) touched[c.tensor] = true;
  keyfile::LockKey& key = out.key;
  for (const std::string& name : engine.graph().ParameterOrder()) {
    if (!touched.count(name)) continue;
    // One touched tensor at a time: its original (still in `model`, in the
    // file's type) and its locked value (in the file's type too: a float16
    // tensor computes in float32, and its locked values are float16 values).
    OC_ASSIGN_OR_RETURN(const Tensor before, model.ReadInitializer(name));
    OC_ASSIGN_OR_RETURN(Tensor locked, engine.GetInitializer(name));
    const DType storage = StorageOf(engine.graph(), name);
    if (storage != DType::kFloat32) locked = locked.CastTo(storage);  // exact
    OC_RETURN_IF_ERROR(model.WriteInitializer(name, locked));
    keyfile::TensorFingerprint* fp = key.add_tensors();
    fp->set_name(name);
    fp->set_data_type(static_cast<int32_t>(before.dtype()));
    for (int64_t d : before.shape()) fp->add_dims(d);
    fp->set_sha256_original(TensorSha256(before));
    fp->set_sha256_locked(TensorSha256(locked));
  }
  key.set_tool_version(kToolVersion);
  keyfile::LockOptions* o = key.mutable_options();
  o->set_max_values(config.max_values);
  o->set_target_accuracy(r.target_accuracy);
  o->set_include_bias(config.include_bias);
  o->set_values_per_round(config.values_per_round);
  o->set_candidates(config.candidates);
  o->set_score(config.harden ? "hardened" : "range-gain");
  o->set_num_samples(static_cast<uint32_t>(SampleCount(samples)));
  o->set_pseudo_labels(labels.empty());
  o->set_device(resolved);
  key.set_seed(config.seed);
  for (const LockChange& c : r.changes) {
    keyfile::LockedValue* v = key.add_values();
    v->set_tensor(c.tensor);
    v->set_index(c.index);
    const DType storage = StorageOf(engine.graph(), c.tensor);
    v->set_original(ElementBytes(c.original, storage));
    v->set_locked(ElementBytes(c.locked, storage));
    v->set_round(c.round);
  }
  key.set_model_sha256_original(model_sha_original);
  OC_ASSIGN_OR_RETURN(const std::string model_sha_locked,
                      ModelInitializersSha256(model));
  key.set_model_sha256_locked(model_sha_locked);
  OC_ASSIGN_OR_RETURN(const std::string structure, model.SerializeStructure());
  key.set_model_structure_sha256(Sha256(structure));
  key.set_total_parameters(r.total_parameters);
  key.set_sample_accuracy_before(r.sample_accuracy_before);
  key.set_sample_accuracy_after(r.sample_accuracy_after);
  key.set_stop_reason(r.stop_reason);
  OC_RETURN_IF_ERROR(ValidateKey(key));
  return out;
}

// One fingerprinted tensor of `model` (a locked model) with the key's
// original values put back, after checking that it has the recorded type and
// shape and that each locked element holds the key's locked bits.
absl::StatusOr<Tensor> RestoredTensor(
    const OnnxModel& model, const std::set<std::string>& present,
    const keyfile::TensorFingerprint& fp,
    const std::vector<const keyfile::LockedValue*>& values) {
  // The whole-model fingerprint matched, but a crafted key can still name a
  // tensor the model lacks.
  if (!present.count(fp.name())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the key does not belong to this model: it has no tensor '", fp.name(),
        "'"));
  }
  OC_ASSIGN_OR_RETURN(Tensor t, model.ReadInitializer(fp.name()));
  if (static_cast<int32_t>(t.dtype()) != fp.data_type() ||
      t.shape() != Shape(fp.dims().begin(), fp.dims().end())) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor '", fp.name(), "' is ", t.DebugString(),
                     ", not what the key recorded"));
  }
  const size_t elem = DTypeSize(t.dtype());
  for (const keyfile::LockedValue* v : values) {
    uint8_t* p = t.mutable_raw() + v->index() * elem;
    if (std::memcmp(p, v->locked().data(), elem) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("element ", v->tensor(), "[", v->index(),
                       "] does not hold the key's locked value"));
    }
    std::memcpy(p, v->original().data(), elem);
  }
  return t;
}

}  // namespace

absl::StatusOr<ModelLockOutput> LockOnnxModel(
    OnnxModel& model, const std::map<std::string, Tensor>& arrays,
    const std::vector<int64_t>& labels, const std::string& source,
    const std::string& output, const LockConfig& config,
    const std::string& device, int num_threads) {
  OC_ASSIGN_OR_RETURN(Graph graph, model.ToGraph());
  // Of the file's tensors, before the graph is prepared for the engine
  // (float16 weights computed in float32 hold other bytes).
  const std::string model_sha_original = GraphInitializersSha256(graph);
  OC_RETURN_IF_ERROR(
      PrepareClassifierGraph(graph, output, model.inferred_values()));
  OC_ASSIGN_OR_RETURN(const Feeds samples,
                      BindSamples(graph, arrays, labels, source));
  OC_ASSIGN_OR_RETURN(const std::string resolved, ResolveDevice(device));
  // The engine takes the graph (its initializers are the only decoded copy
  // of the model's weights while the lock runs).
  OC_ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine,
                      CreateEngine(std::move(graph), resolved, num_threads));
  return LockWithEngine(model, model_sha_original, *engine, resolved, samples,
                        labels, config);
}

absl::StatusOr<ModelLockOutput> LockOnnxModelWithEngine(
    OnnxModel& model, const Graph& original, Engine& engine,
    const std::string& device, const Feeds& samples,
    const std::vector<int64_t>& labels, const LockConfig& config) {
  // `original` is prepared for the engine: fingerprint the file's tensors.
  OC_ASSIGN_OR_RETURN(const std::string model_sha_original,
                      ModelInitializersSha256(model));
  return LockWithEngine(model, model_sha_original, engine, device, samples,
                        labels, config);
}

absl::Status ApplyKey(OnnxModel& model, const keyfile::LockKey& key) {
  OC_RETURN_IF_ERROR(ValidateKey(key));
  const std::vector<std::string> names = model.ParameterNames();
  const std::set<std::string> present(names.begin(), names.end());
  OC_ASSIGN_OR_RETURN(const std::string locked_sha,
                      ModelInitializersSha256(model));
  if (locked_sha != key.model_sha256_locked()) {
    // Find the most precise explanation before giving the general one.
    for (const keyfile::TensorFingerprint& fp : key.tensors()) {
      if (!present.count(fp.name())) {
        return absl::InvalidArgumentError(absl::StrCat(
            "the key does not belong to this model: it has no tensor '",
            fp.name(), "'"));
      }
      OC_ASSIGN_OR_RETURN(const Tensor t, model.ReadInitializer(fp.name()));
      if (TensorSha256(t) != fp.sha256_locked()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "the key does not match this model: tensor '", fp.name(),
            "' differs from the locked tensor the key was made for (wrong key, "
            "or the locked "
            "model was changed since locking)"));
      }
    }
    return absl::InvalidArgumentError(
        "the key does not match this model: its initializers differ from the "
        "locked model the "
        "key was made for (wrong key, or the locked model was changed since "
        "locking)");
  }
  // The rest of the model: graph, attributes, metadata. (Keys from before
  // this fingerprint existed have none; KeyFingerprintsWholeModel says so.)
  if (KeyFingerprintsWholeModel(key)) {
    OC_ASSIGN_OR_RETURN(const std::string structure,
                        model.SerializeStructure());
    if (Sha256(structure) != key.model_structure_sha256()) {
      return absl::InvalidArgumentError(
          "the key does not match this model: its graph, attributes or "
          "metadata differ from the locked model the key was made for (wrong "
          "key, or the locked model was changed since locking)");
    }
  }
  // The key's values by tensor, in key order (ValidateKey checked that each
  // names a fingerprinted tensor and lies inside it).
  std::map<std::string, std::vector<const keyfile::LockedValue*>> values_of;
  std::map<std::string, const keyfile::TensorFingerprint*> fingerprint_of;
  for (const keyfile::TensorFingerprint& fp : key.tensors()) {
    fingerprint_of[fp.name()] = &fp;
    values_of[fp.name()];
  }
  for (const keyfile::LockedValue& v : key.values()) {
    values_of[v.tensor()].push_back(&v);
  }
  for (const keyfile::TensorFingerprint& fp : key.tensors()) {
    OC_ASSIGN_OR_RETURN(
        const Tensor t,
        RestoredTensor(model, present, fp, values_of.at(fp.name())));
    if (TensorSha256(t) != fp.sha256_original()) {
      return absl::DataLossError(
          absl::StrCat("restoring tensor '", fp.name(),
                       "' does not reproduce its original fingerprint: "
                       "the key is corrupted"));
    }
  }
  // The initializer fingerprint covers graph initializers only (Constant-held
  // parameters have their per-tensor fingerprints, checked above).
  InitializersSha256 original;
  for (const std::string& name : model.InitializerNames()) {
    auto fp = fingerprint_of.find(name);
    if (fp == fingerprint_of.end()) {
      OC_ASSIGN_OR_RETURN(const Tensor t, model.ReadInitializer(name));
      original.Add(name, t);
    } else {
      OC_ASSIGN_OR_RETURN(
          const Tensor t,
          RestoredTensor(model, present, *fp->second, values_of.at(name)));
      original.Add(name, t);
    }
  }
  if (original.Finish() != key.model_sha256_original()) {
    return absl::DataLossError(
        "the restored model does not reproduce the original model's "
        "fingerprint");
  }
  // Every check passed: only now change the model.
  for (const auto& [name, fp] : fingerprint_of) {
    OC_ASSIGN_OR_RETURN(const Tensor t, RestoredTensor(model, present, *fp,
                                                       values_of.at(name)));
    OC_RETURN_IF_ERROR(model.WriteInitializer(name, t));
  }
  return absl::OkStatus();
}

}  // namespace onnx_crypt
