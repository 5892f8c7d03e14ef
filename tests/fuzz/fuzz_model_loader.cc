// libFuzzer harness: the ONNX model loader on untrusted bytes.
//
// Input: the bytes of a .onnx file. Runs what `onnx-crypt info`, `eval` and
// `lock` do with a model before any kernel runs: OnnxModel::LoadFromBytes
// (protobuf parsing, onnx::checker, shape inference, the window-attribute
// checks), ToGraph (every initializer and attribute decoded, topological
// sort), the whole-model fingerprint, the lockable tensors, and the CPU
// execution plan with its gradient needs and downstream steps. Any status is a
// correct outcome; a crash, a sanitizer report or a leak is a finding.
//
// Seeds: tools/make_fuzz_corpus.py (the bundled models and ONNX's node-test
// models). Run: tools/fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "google/protobuf/stubs/logging.h"
#include "onnx_crypt/engine/factory.h"
#include "onnx_crypt/engine/plan.h"
#include "onnx_crypt/key/key.h"
#include "onnx_crypt/lock/eligibility.h"
#include "onnx_crypt/onnx/model.h"
#include "onnx_crypt/ops/registry.h"

namespace onnx_crypt {
namespace {

void FuzzModel(std::string bytes) {
  absl::StatusOr<OnnxModel> model = OnnxModel::LoadFromBytes(std::move(bytes));
  if (!model.ok()) return;
  absl::StatusOr<Graph> graph = model->ToGraph();
  if (!graph.ok()) return;
  (void)GraphInitializersSha256(*graph);
  for (const std::string& name : model->InitializerNames()) {
    (void)model->ReadInitializer(name);
  }
  std::vector<std::string> lockable;
  for (const EligibleTensor& e : FindEligibleTensors(*graph, true)) {
    lockable.push_back(e.name);
  }
  for (const Node& node : graph->nodes) (void)FindOp(node);
  absl::StatusOr<ExecutionPlan> plan = PlanForDevice(*graph, "cpu");
  if (!plan.ok()) return;
  std::vector<int> params;
  for (const std::string& name : lockable) {
    const int id = plan->value_id(name);
    if (id >= 0) params.push_back(id);
  }
  (void)plan->GradientNeeds(params);
  (void)plan->StepsDownstreamOf(params);
  (void)plan->StepsOffKernel();
}

}  // namespace
}  // namespace onnx_crypt

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  google::protobuf::SetLogHandler(nullptr);  // parser complaints are expected
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  onnx_crypt::FuzzModel(std::string(reinterpret_cast<const char*>(data), size));
  return 0;
}
