// Process start-up helper for programs (the CLI, test mains): sets the
// environment that the kernel runtimes (OpenBLAS, GNU OpenMP under oneDNN) read
// only when they load. For use at the top of main() only.
#ifndef ONNX_CRYPT_BASE_OPENBLAS_ENV_H_
#define ONNX_CRYPT_BASE_OPENBLAS_ENV_H_

namespace onnx_crypt {

// OpenBLAS picks its kernels when it loads, from cpuid. On some virtual CPUs
// (this project's CI machines among them) it does not recognise the model and
// falls back to its oldest SSE3 kernels ("Prescott"), 3-4x slower, although the
// CPU has AVX2/AVX-512. The only cure is the OPENBLAS_CORETYPE variable, read
// at load time. So when that fallback is detected and the user has not set the
// variable, this re-executes the program (/proc/self/exe, same argv) once with
// OPENBLAS_CORETYPE=SkylakeX (AVX-512) or Haswell (AVX2). Likewise, when
// neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT is set, it sets how GNU OpenMP's
// idle workers wait: spinning briefly (GOMP_SPINCOUNT=300000) when the cores
// the run's --threads asks for (default all) are free of other processes'
// runnable threads, asleep (OMP_WAIT_POLICY=PASSIVE) when they are not
// (openblas_env.cc says why). Re-executes at most once
// (the second start finds the variables set); returns normally when nothing
// needs changing, or if the re-exec fails.
void ReexecWithKernelRuntimeSettings(char** argv);

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_BASE_OPENBLAS_ENV_H_
