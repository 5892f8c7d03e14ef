// Process start-up helper for programs (the CLI, test mains): works around
// OpenBLAS choosing its slowest kernels on CPUs it does not recognise. For use
// at the top of main() only.
#ifndef ONNX_CRYPT_BASE_OPENBLAS_ENV_H_
#define ONNX_CRYPT_BASE_OPENBLAS_ENV_H_

namespace onnx_crypt {

// OpenBLAS picks its kernels when it loads, from cpuid. On some virtual CPUs
// (this project's CI machines among them) it does not recognise the model and
// falls back to its oldest SSE3 kernels ("Prescott"), 3-4x slower, although the
// CPU has AVX2/AVX-512. The only cure is the OPENBLAS_CORETYPE variable, read
// at load time. So when that fallback is detected and the user has not set the
// variable, this re-executes the program (/proc/self/exe, same argv) once with
// OPENBLAS_CORETYPE=SkylakeX (AVX-512) or Haswell (AVX2). Returns normally
// otherwise, or if the re-exec fails.
void ReexecWithBetterOpenBlasKernels(char** argv);

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_BASE_OPENBLAS_ENV_H_
