// Example: deploy a locked model with the C++ API, unlocking it in memory.
//
//   unlock_and_run LOCKED.onnx KEY [DATA.npz]
//
// Reads the locked model and its key, calls onnx_crypt::UnlockToBytes (the
// original model, serialized, never written to disk), lists the tensors the
// key restores (onnx_crypt::UnlockTensors), and, given DATA.npz (x float32,
// optional y labels), runs the unlocked model on it and prints its accuracy.
// Exit status 0 on success, 1 when unlocking or running fails (a wrong,
// corrupted or truncated key among them), 2 on a usage error.
//
// ONNX Runtime's C++ library is not a Debian package, so this program checks
// the unlocked bytes with onnx-crypt's own CPU engine. With ONNX Runtime the
// sequence is (onnxruntime_cxx_api.h):
//
//   absl::StatusOr<std::string> model = onnx_crypt::UnlockToBytes(locked, key);
//   if (!model.ok()) { /* model.status().message() says why */ }
//   Ort::Env env(ORT_LOGGING_LEVEL_WARNING, "app");
//   Ort::SessionOptions options;
//   Ort::Session session(env, model->data(), model->size(), options);
//   // ... session.Run(...) as usual; the bytes may be freed after this.
//
// or, without re-serializing a large model, the locked model plus the
// restored tensors as initializers that override the locked ones. Keep graph
// optimizations at ORT_ENABLE_EXTENDED or lower on this path: at
// ORT_ENABLE_ALL the NCHWc layout transformer (x86) reorders Conv weights from
// the model's own initializers and ignores the overrides (ONNX Runtime 1.32).
//
//   auto tensors = onnx_crypt::UnlockTensors(locked, key);  // StatusOr
//   options.SetGraphOptimizationLevel(
//       GraphOptimizationLevel::ORT_ENABLE_EXTENDED);
//   Ort::MemoryInfo cpu =
//       Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
//   std::vector<Ort::Value> values;  // and *tensors: both must outlive
//   for (onnx_crypt::RestoredTensor& t : *tensors) {  // the session
//     values.push_back(Ort::Value::CreateTensor(
//         cpu, t.bytes.data(), t.bytes.size(), t.shape.data(), t.shape.size(),
//         ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT));  // t.dtype is float32 here
//     options.AddInitializer(t.name.c_str(), values.back());
//   }
//   Ort::Session session(env, locked.data(), locked.size(), options);
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "onnx_crypt/api.h"
#include "onnx_crypt/data/npz.h"
#include "onnx_crypt/engine/evaluate.h"
#include "onnx_crypt/engine/factory.h"
#include "onnx_crypt/engine/samples.h"
#include "onnx_crypt/onnx/model.h"

namespace {

// The bytes of a file. An application may get the locked model and the key
// from anywhere (a download, a secret store); the API takes bytes.
bool ReadAll(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  *out = buffer.str();
  return static_cast<bool>(in) || in.eof();
}

// Runs the serialized model on the samples of `data_path` with the CPU engine.
absl::StatusOr<onnx_crypt::EvalStats> Run(std::string model_bytes,
                                          const std::string& data_path,
                                          bool* has_labels) {
  absl::StatusOr<onnx_crypt::OnnxModel> model =
      onnx_crypt::OnnxModel::LoadFromBytes(std::move(model_bytes));
  if (!model.ok()) return model.status();
  absl::StatusOr<onnx_crypt::Graph> graph = model->ToGraph();
  if (!graph.ok()) return graph.status();
  absl::StatusOr<std::unique_ptr<onnx_crypt::Engine>> engine =
      onnx_crypt::CreateEngine(*std::move(graph), "cpu");
  if (!engine.ok()) return engine.status();
  absl::StatusOr<onnx_crypt::Dataset> data = onnx_crypt::LoadDataset(data_path);
  if (!data.ok()) return data.status();
  std::vector<int64_t> labels;
  if (data->y.defined()) labels = data->y.ToInt64Vector();
  *has_labels = !labels.empty();
  absl::StatusOr<onnx_crypt::Feeds> samples = onnx_crypt::BindSamples(
      (*engine)->graph(), data->inputs, labels, data_path);
  if (!samples.ok()) return samples.status();
  return onnx_crypt::EvaluateDataset(**engine, *samples, labels,
                                     /*batch_size=*/256);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || argc > 4) {
    std::cerr << "usage: unlock_and_run LOCKED.onnx KEY [DATA.npz]\n";
    return 2;
  }
  std::string locked, key;
  if (!ReadAll(argv[1], &locked)) {
    std::cerr << "unlock_and_run: cannot read " << argv[1] << "\n";
    return 1;
  }
  if (!ReadAll(argv[2], &key)) {
    std::cerr << "unlock_and_run: cannot read " << argv[2] << "\n";
    return 1;
  }

  // 1. The original model, in memory. A wrong, corrupted or truncated key, or
  //    a locked model changed since locking, is an error here: nothing
  //    half-unlocked ever reaches the runtime.
  absl::StatusOr<std::string> model = onnx_crypt::UnlockToBytes(locked, key);
  if (!model.ok()) {
    std::cerr << "unlock_and_run: cannot unlock: " << model.status().message()
              << "\n";
    return 1;
  }
  std::cout << "unlocked model: " << model->size() << " bytes\n";

  // 2. The alternative for large models: only the restored tensors.
  absl::StatusOr<std::vector<onnx_crypt::RestoredTensor>> tensors =
      onnx_crypt::UnlockTensors(locked, key);
  if (!tensors.ok()) {
    std::cerr << "unlock_and_run: cannot unlock tensors: "
              << tensors.status().message() << "\n";
    return 1;
  }
  for (const onnx_crypt::RestoredTensor& t : *tensors) {
    std::cout << "restored tensor: " << t.name << " "
              << onnx_crypt::DTypeName(t.dtype)
              << onnx_crypt::ShapeToString(t.shape) << "\n";
  }
  if (argc == 3) return 0;

  // 3. Run it (ONNX Runtime would take model->data(), model->size() here).
  bool has_labels = false;
  absl::StatusOr<onnx_crypt::EvalStats> stats =
      Run(*std::move(model), argv[3], &has_labels);
  if (!stats.ok()) {
    std::cerr << "unlock_and_run: cannot run the unlocked model: "
              << stats.status().message() << "\n";
    return 1;
  }
  if (has_labels) {
    std::cout << absl::StrFormat("accuracy: %.4f (%d samples)\n",
                                 stats->accuracy(), stats->samples);
  } else {
    std::cout << "ran " << stats->samples << " samples (no labels y)\n";
  }
  return 0;
}
