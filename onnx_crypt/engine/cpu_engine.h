// CpuEngine: the reference engine. Executes the graph node by node with the CPU
// ops of the registry; keeps activations only when a backward pass follows.
//
// Ownership: the engine owns its Graph (and so the initializers). Not
// thread-safe; BLAS uses `num_threads` threads (0 = leave the BLAS default).
#ifndef ONNX_CRYPT_ENGINE_CPU_ENGINE_H_
#define ONNX_CRYPT_ENGINE_CPU_ENGINE_H_

#include <memory>
#include <string>
#include <vector>

#include "onnx_crypt/engine/engine.h"
#include "onnx_crypt/ops/op.h"

namespace onnx_crypt {

class CpuEngine : public Engine {
 public:
  // Fails with Unimplemented (naming op type, opset and node) when an op is not
  // registered.
  static absl::StatusOr<std::unique_ptr<CpuEngine>> Create(Graph graph,
                                                           int num_threads = 0);

  const Graph& graph() const override { return graph_; }
  absl::StatusOr<std::vector<Tensor>> Run(const Feeds& feeds) override;
  absl::StatusOr<LossResult> LossAndGradients(
      const Feeds& feeds, absl::Span<const int64_t> labels,
      const std::vector<std::string>& params) override;
  absl::Status SetInitializerValues(const std::string& name,
                                    absl::Span<const int64_t> indices,
                                    const Tensor& values) override;
  absl::StatusOr<Tensor> GetInitializer(const std::string& name) const override;

 private:
  struct Step {
    const OpDef* def = nullptr;
    const Node* node = nullptr;
    std::vector<int> inputs;   // value ids; -1 = absent optional input
    std::vector<int> outputs;  // value ids; -1 = unnamed output
  };
  // Values of one execution: initializers are referenced, everything else
  // owned.
  struct Activations {
    std::vector<Tensor> owned;
    std::vector<const Tensor*> ref;
    std::vector<std::unique_ptr<OpContext>>
        contexts;  // per step (backward only)
  };

  explicit CpuEngine(Graph graph) : graph_(std::move(graph)) {}
  absl::Status Plan();
  absl::Status Forward(const Feeds& feeds, bool keep_all, Activations& acts);

  Graph graph_;
  std::vector<Step> steps_;
  std::vector<std::string> value_names_;
  std::map<std::string, int> value_ids_;
  std::vector<int> input_ids_;   // graph inputs
  std::vector<int> output_ids_;  // graph outputs
  std::vector<int>
      last_use_;  // per value: last step reading it (steps_.size() if output)
  std::vector<Tensor*>
      initializer_of_;  // per value: initializer tensor or nullptr
};

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_ENGINE_CPU_ENGINE_H_
