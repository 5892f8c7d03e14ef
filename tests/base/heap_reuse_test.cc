// KeepFreedTensorMemory (base/heap_reuse.h): after it, memory that tensors
// free stays in the heap, and the next tensors of the same sizes are not
// page-faulted again. Measured with the process's own minor-fault count.
#include "onnx_crypt/base/heap_reuse.h"

#include <sys/resource.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "gtest/gtest.h"
#include "onnx_crypt/ir/tensor.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define OC_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define OC_ASAN 1
#endif

namespace onnx_crypt {
namespace {

long MinorFaults() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_minflt;
}

// Eight float32 tensors of 8 MiB, each written whole, then all freed: the
// pattern of one pass's activations. Returns the minor faults it took.
long OnePass() {
  const long before = MinorFaults();
  {
    std::vector<Tensor> ts;
    for (int i = 0; i < 8; ++i) {
      Tensor t = Tensor::Uninitialized(DType::kFloat32, {2 << 20});
      std::memset(t.mutable_data<float>(), 1, 8 << 20);
      ts.push_back(std::move(t));
    }
  }
  return MinorFaults() - before;
}

TEST(HeapReuseTest, SecondPassTakesNoNewPages) {
#if defined(OC_ASAN) || !defined(__GLIBC__)
  GTEST_SKIP() << "glibc's malloc only (AddressSanitizer has its own)";
#else
  if (std::getenv("GLIBC_TUNABLES") != nullptr ||
      std::getenv("MALLOC_MMAP_THRESHOLD_") != nullptr ||
      std::getenv("MALLOC_TRIM_THRESHOLD_") != nullptr) {
    GTEST_SKIP() << "the environment sets glibc's malloc parameters";
  }
  ASSERT_TRUE(KeepFreedTensorMemory());
  EXPECT_TRUE(KeepFreedTensorMemory());  // idempotent
  const long first = OnePass();
  // 64 MiB written: at least 16k pages the first time (4 KiB each; fewer if
  // the kernel maps huge pages, hence only a lower bound on the work).
  EXPECT_GT(first, 0);
  const long second = OnePass();
  const long third = OnePass();
  // glibc's defaults trim the 64 MiB back to the kernel when the tensors are
  // freed, and fault all of it in again each pass (16k+ faults); kept in the
  // heap, the later passes take (almost) none.
  EXPECT_LT(second, 256) << "first pass " << first;
  EXPECT_LT(third, 256) << "first pass " << first;
#endif
}

}  // namespace
}  // namespace onnx_crypt
