#include "onnx_crypt/engine/factory.h"

#include "absl/strings/str_cat.h"
#include "onnx_crypt/base/heap_reuse.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/engine/cpu_engine.h"
#ifdef ONNX_CRYPT_HAVE_CUDA
#include "onnx_crypt/engine/cuda/cuda_engine.h"
#endif

namespace onnx_crypt {

namespace {

[[maybe_unused]] absl::Status NoCudaBuild() {
  return absl::FailedPreconditionError(
      "--device cuda: this build of onnx-crypt has no CUDA engine (built "
      "without nvcc or with -DONNX_CRYPT_WITH_CUDA=OFF)");
}

}  // namespace

bool CudaAvailable() {
#ifdef ONNX_CRYPT_HAVE_CUDA
  return CudaDeviceCount() > 0;
#else
  return false;
#endif
}

absl::StatusOr<std::string> ResolveDevice(const std::string& device) {
  if (device == "cpu" || device == "cuda") return device;
  if (device == "auto")
    return CudaAvailable() ? std::string("cuda") : std::string("cpu");
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown device '", device, "' (expected cpu, cuda or auto)"));
}

absl::StatusOr<std::unique_ptr<Engine>> CreateEngine(Graph graph,
                                                     const std::string& device,
                                                     int num_threads) {
  if (num_threads < 0 || num_threads > kMaxThreads) {
    return absl::InvalidArgumentError(
        absl::StrCat("threads must be 0 (all cores) or 1 to ", kMaxThreads,
                     ", got ", num_threads));
  }
  OC_ASSIGN_OR_RETURN(const std::string resolved, ResolveDevice(device));
  KeepFreedTensorMemory();  // base/heap_reuse.h: tensor buffers reuse the heap
  if (resolved == "cuda") {
#ifdef ONNX_CRYPT_HAVE_CUDA
    if (!CudaAvailable()) {
      return absl::FailedPreconditionError(
          "--device cuda: no CUDA device is available");
    }
    OC_ASSIGN_OR_RETURN(std::unique_ptr<CudaEngine> engine,
                        CudaEngine::Create(std::move(graph)));
    return std::unique_ptr<Engine>(std::move(engine));
#else
    return NoCudaBuild();
#endif
  }
  OC_ASSIGN_OR_RETURN(std::unique_ptr<CpuEngine> engine,
                      CpuEngine::Create(std::move(graph), num_threads));
  return std::unique_ptr<Engine>(std::move(engine));
}

absl::StatusOr<ExecutionPlan> PlanForDevice(const Graph& graph,
                                            const std::string& device) {
  if (device == "cpu") return ExecutionPlan::Build(graph, CpuBackend::Traits());
  if (device == "cuda") {
#ifdef ONNX_CRYPT_HAVE_CUDA
    return ExecutionPlan::Build(graph, CudaBackendTraits());
#else
    return NoCudaBuild();
#endif
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown device '", device, "' for a plan (expected cpu or cuda)"));
}

}  // namespace onnx_crypt
