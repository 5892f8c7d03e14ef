#include "onnx_crypt/lock/model_lock.h"

#include <cstring>
#include <map>

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

}  // namespace

absl::StatusOr<ModelLockOutput> LockOnnxModel(
    OnnxModel& model, const std::map<std::string, Tensor>& arrays,
    const std::vector<int64_t>& labels, const std::string& source,
    const std::string& output, const LockConfig& config,
    const std::string& device, int num_threads) {
  OC_ASSIGN_OR_RETURN(Graph original, model.ToGraph());
  OC_RETURN_IF_ERROR(
      PrepareClassifierGraph(original, output, model.inferred_values()));
  OC_ASSIGN_OR_RETURN(const Feeds samples,
                      BindSamples(original, arrays, labels, source));
  OC_ASSIGN_OR_RETURN(const std::string resolved, ResolveDevice(device));
  OC_ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine,
                      CreateEngine(original, resolved, num_threads));
  return LockOnnxModelWithEngine(model, original, *engine, resolved, samples,
                                 labels, config);
}

absl::StatusOr<ModelLockOutput> LockOnnxModelWithEngine(
    OnnxModel& model, const Graph& original, Engine& engine,
    const std::string& device, const Feeds& samples,
    const std::vector<int64_t>& labels, const LockConfig& config) {
  // Fingerprints are of the tensors as the file stores them: a graph that
  // computes float16 weights in float32 holds other bytes.
  absl::StatusOr<Graph> file_graph = original.narrow_storage.empty()
                                         ? absl::StatusOr<Graph>(Graph{})
                                         : model.ToGraph();
  OC_RETURN_IF_ERROR(file_graph.status());
  const Graph& stored =
      original.narrow_storage.empty() ? original : *file_graph;
  const std::string model_sha_original = GraphInitializersSha256(stored);
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
  for (const std::string& name : original.ParameterOrder()) {
    if (!touched.count(name)) continue;
    OC_ASSIGN_OR_RETURN(Tensor locked, engine.GetInitializer(name));
    const DType storage = StorageOf(original, name);
    if (storage != DType::kFloat32) locked = locked.CastTo(storage);  // exact
    OC_RETURN_IF_ERROR(model.WriteInitializer(name, locked));
    const Tensor& before = stored.initializers.at(name);
    keyfile::TensorFingerprint* fp = key.add_tensors();
    fp->set_name(name);
    fp->set_data_type(static_cast<int32_t>(before.dtype()));
    for (int64_t d : before.shape()) fp->add_dims(d);
    fp->set_sha256_original(TensorSha256(before));
    fp->set_sha256_locked(TensorSha256(locked));
  }
  OC_ASSIGN_OR_RETURN(Graph locked_graph, model.ToGraph());

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
    const DType storage = StorageOf(original, c.tensor);
    v->set_original(ElementBytes(c.original, storage));
    v->set_locked(ElementBytes(c.locked, storage));
    v->set_round(c.round);
  }
  key.set_model_sha256_original(model_sha_original);
  key.set_model_sha256_locked(GraphInitializersSha256(locked_graph));
  OC_ASSIGN_OR_RETURN(const std::string structure, model.SerializeStructure());
  key.set_model_structure_sha256(Sha256(structure));
  key.set_total_parameters(r.total_parameters);
  key.set_sample_accuracy_before(r.sample_accuracy_before);
  key.set_sample_accuracy_after(r.sample_accuracy_after);
  key.set_stop_reason(r.stop_reason);
  OC_RETURN_IF_ERROR(ValidateKey(key));
  return out;
}

absl::Status ApplyKey(OnnxModel& model, const keyfile::LockKey& key) {
  OC_RETURN_IF_ERROR(ValidateKey(key));
  OC_ASSIGN_OR_RETURN(Graph graph, model.ToGraph());
  if (GraphInitializersSha256(graph) != key.model_sha256_locked()) {
    // Find the most precise explanation before giving the general one.
    for (const keyfile::TensorFingerprint& fp : key.tensors()) {
      auto it = graph.initializers.find(fp.name());
      if (it == graph.initializers.end()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "the key does not belong to this model: it has no tensor '",
            fp.name(), "'"));
      }
      if (TensorSha256(it->second) != fp.sha256_locked()) {
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
  std::map<std::string, Tensor> restored;
  for (const keyfile::TensorFingerprint& fp : key.tensors()) {
    // The whole-model fingerprint matched, but a crafted key can still name a
    // tensor the model lacks.
    auto found = graph.initializers.find(fp.name());
    if (found == graph.initializers.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the key does not belong to this model: it has no tensor '",
          fp.name(), "'"));
    }
    const Tensor& t = found->second;
    if (static_cast<int32_t>(t.dtype()) != fp.data_type() ||
        t.shape() != Shape(fp.dims().begin(), fp.dims().end())) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor '", fp.name(), "' is ", t.DebugString(),
                       ", not what the key recorded"));
    }
    restored[fp.name()] = t;
  }
  for (const keyfile::LockedValue& v : key.values()) {
    Tensor& t = restored.at(v.tensor());
    const size_t elem = DTypeSize(t.dtype());
    uint8_t* p = t.mutable_raw() + v.index() * elem;
    if (std::memcmp(p, v.locked().data(), elem) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("element ", v.tensor(), "[", v.index(),
                       "] does not hold the key's locked value"));
    }
    std::memcpy(p, v.original().data(), elem);
  }
  for (const keyfile::TensorFingerprint& fp : key.tensors()) {
    if (TensorSha256(restored.at(fp.name())) != fp.sha256_original()) {
      return absl::DataLossError(
          absl::StrCat("restoring tensor '", fp.name(),
                       "' does not reproduce its original fingerprint: "
                       "the key is corrupted"));
    }
  }
  for (auto& [name, t] : restored) graph.initializers[name] = t;
  if (GraphInitializersSha256(graph) != key.model_sha256_original()) {
    return absl::DataLossError(
        "the restored model does not reproduce the original model's "
        "fingerprint");
  }
  // Every check passed: only now change the model.
  for (const auto& [name, t] : restored)
    OC_RETURN_IF_ERROR(model.WriteInitializer(name, t));
  return absl::OkStatus();
}

}  // namespace onnx_crypt
