// The memory budget: the largest single block of memory onnx-crypt allocates
// on the word of an input (a file it reads whole, a tensor whose shape a model
// or a data file states, the output of an op). A size beyond it comes from a
// model, key or data file that is broken or hostile, or from a model too large
// for the budget; either way it is refused with a message naming the file or
// tensor before the allocation, never with a crash.
//
// The budget is a process-wide setting, like a thread count: the CLI sets it
// from --max-memory, the Python module from set_max_memory(). It is read with
// an atomic load, so setting it while other threads run is safe (they see the
// old or the new value).
#ifndef ONNX_CRYPT_BASE_MEMORY_BUDGET_H_
#define ONNX_CRYPT_BASE_MEMORY_BUDGET_H_

#include <cstdint>
#include <new>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace onnx_crypt {

// 16 GiB: above any model this tool locks on the machines it targets, far
// below what a hostile shape asks for.
inline constexpr int64_t kDefaultMemoryBudgetBytes = int64_t{16} << 30;

int64_t MemoryBudgetBytes();
// `bytes` must be positive (InvalidArgument otherwise).
absl::Status SetMemoryBudgetBytes(int64_t bytes);

// "1048576", "512K", "64M", "8G", "1T" (binary multiples; case-insensitive; a
// trailing "B"/"iB" is accepted: "8GiB"). InvalidArgument for anything else,
// zero, or a value that overflows int64.
absl::StatusOr<int64_t> ParseByteSize(absl::string_view text);

// "16 GiB", "64 MiB", "512 KiB", "17 bytes": for messages.
std::string ByteSizeText(int64_t bytes);

// What messages append when a size is over the budget: "over the memory budget
// of 16 GiB (raise it with --max-memory)".
std::string OverBudgetText();

// Thrown by the tensor allocator (ir/tensor.h) for a block over the budget,
// and caught where the engine calls an op (engine/executor.h), which reports
// the node. Derives from std::bad_alloc, so code that already handles
// allocation failure handles it too.
class OverMemoryBudget : public std::bad_alloc {
 public:
  explicit OverMemoryBudget(int64_t bytes) : bytes_(bytes) {}
  int64_t bytes() const { return bytes_; }
  const char* what() const noexcept override {
    return "allocation over the memory budget";
  }

 private:
  int64_t bytes_;
};

// Runs `f` (which returns absl::Status) and turns an allocation failure inside
// it into ResourceExhausted, prefixed by `where` (a node, a file).
template <typename F>
absl::Status CatchAllocationFailure(absl::string_view where, F&& f) {
  try {
    return f();
  } catch (const OverMemoryBudget& e) {
    return absl::ResourceExhaustedError(absl::StrCat(where, ": a tensor of ",
                                                     ByteSizeText(e.bytes()),
                                                     " is ", OverBudgetText()));
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(absl::StrCat(where, ": out of memory"));
  }
}

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_BASE_MEMORY_BUDGET_H_
