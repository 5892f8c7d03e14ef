// Heap reuse for tensor buffers. The engines allocate and free many tensors
// of 0.1-30 MB per pass (activations, gradients, trial overlays). With glibc's
// default settings such blocks are mmapped or trimmed back to the kernel when
// freed, and every new one is page-faulted and zeroed again: `lock --harden`
// on LeNet-5 spent a third of its CPU time in the kernel that way (1.6M minor
// faults; tools/bench/results/harden_cpu.md). KeepFreedTensorMemory raises
// glibc's mmap threshold to its maximum (32 MiB on 64-bit) and its trim
// threshold to 1 GiB, so freed blocks stay in the heap for the next tensor.
//
// A process-wide setting: CreateEngine calls it once, so the CLI, the Python
// module and the C++ API all get it without environment variables. The heap
// then keeps up to 1 GiB of freed memory for reuse instead of returning it
// at once; results do not change (only where memory comes from). Does
// nothing where the C library is not glibc, and when the user set
// MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_ or GLIBC_TUNABLES (their
// choice wins).
#ifndef ONNX_CRYPT_BASE_HEAP_REUSE_H_
#define ONNX_CRYPT_BASE_HEAP_REUSE_H_

namespace onnx_crypt {

// Idempotent and thread-safe; returns whether the settings were applied.
bool KeepFreedTensorMemory();

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_BASE_HEAP_REUSE_H_
