// Picks and creates an engine by device name: "cpu", "cuda" or "auto" (CUDA
// when this build has it and a GPU is present, else CPU).
#ifndef ONNX_CRYPT_ENGINE_FACTORY_H_
#define ONNX_CRYPT_ENGINE_FACTORY_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "onnx_crypt/engine/engine.h"
#include "onnx_crypt/engine/plan.h"

namespace onnx_crypt {

// Whether this build has the CUDA engine and a CUDA device is usable now.
bool CudaAvailable();

// The device "auto" resolves to, or InvalidArgument for an unknown name.
absl::StatusOr<std::string> ResolveDevice(const std::string& device);

// The most CPU threads an engine takes. Each is an OpenMP/OpenBLAS worker with
// its own stack: far more than any machine has cores, and tens of thousands
// exhaust the process limit, where libgomp crashes (SIGSEGV) or exits.
inline constexpr int kMaxThreads = 1024;

// FailedPrecondition with a clear message for "cuda" when no GPU / no CUDA
// build; InvalidArgument for `num_threads` outside [0, kMaxThreads].
absl::StatusOr<std::unique_ptr<Engine>> CreateEngine(Graph graph,
                                                     const std::string& device,
                                                     int num_threads = 0);

// The plan a `device` ("cpu" or "cuda") engine would execute for `graph`:
// where each node runs (its own kernel, the host, or a CPU fallback). Needs
// no GPU; FailedPrecondition for "cuda" in a build without CUDA. The plan
// points into `graph`, which must outlive it.
absl::StatusOr<ExecutionPlan> PlanForDevice(const Graph& graph,
                                            const std::string& device);

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_ENGINE_FACTORY_H_
