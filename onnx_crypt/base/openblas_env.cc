#include "onnx_crypt/base/openblas_env.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>

extern "C" char* openblas_get_corename(void);

namespace onnx_crypt {

namespace {

// The OpenBLAS core type to force, or nullptr to leave OpenBLAS's choice.
const char* BetterOpenBlasCore() {
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return nullptr;
  const char* core = openblas_get_corename();
  if (core == nullptr || std::strcmp(core, "Prescott") != 0) return nullptr;
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") ? "SkylakeX"
         : __builtin_cpu_supports("avx2")  ? "Haswell"
                                           : nullptr;
}

}  // namespace

void ReexecWithKernelRuntimeSettings(char** argv) {
  bool changed = false;
  if (const char* better = BetterOpenBlasCore()) {
    setenv("OPENBLAS_CORETYPE", better, 1);
    changed = true;
  }
  // GNU OpenMP's default wait policy spins a worker for a while after each
  // parallel region. Between oneDNN's regions the engine runs serial kernels
  // and OpenBLAS's own threads, which the spinning workers starve when every
  // core is busy: LeNet-5 at 2 threads ran 5x slower than at 1. Passive workers
  // sleep.
  if (std::getenv("OMP_WAIT_POLICY") == nullptr &&
      std::getenv("GOMP_SPINCOUNT") == nullptr) {
    setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    changed = true;
  }
  if (!changed) return;
  execv("/proc/self/exe",
        argv);  // returns only on failure: then carry on as we are
}

}  // namespace onnx_crypt
