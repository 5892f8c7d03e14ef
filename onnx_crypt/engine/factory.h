// Picks and creates an engine by device name: "cpu", "cuda" or "auto" (CUDA
// when this build has it and a GPU is present, else CPU).
#ifndef ONNX_CRYPT_ENGINE_FACTORY_H_
#define ONNX_CRYPT_ENGINE_FACTORY_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "onnx_crypt/engine/engine.h"

namespace onnx_crypt {

// Whether this build has the CUDA engine and a CUDA device is usable now.
bool CudaAvailable();

// The device "auto" resolves to, or InvalidArgument for an unknown name.
absl::StatusOr<std::string> ResolveDevice(const std::string& device);

// FailedPrecondition with a clear message for "cuda" when no GPU / no CUDA
// build.
absl::StatusOr<std::unique_ptr<Engine>> CreateEngine(Graph graph,
                                                     const std::string& device,
                                                     int num_threads = 0);

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_ENGINE_FACTORY_H_
