#include "onnx_crypt/base/memory_budget.h"

#include <atomic>
#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace onnx_crypt {
namespace {

std::atomic<int64_t> g_budget{kDefaultMemoryBudgetBytes};

}  // namespace

int64_t MemoryBudgetBytes() { return g_budget.load(std::memory_order_relaxed); }

absl::Status SetMemoryBudgetBytes(int64_t bytes) {
  if (bytes <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("the memory budget must be positive, not ", bytes));
  }
  g_budget.store(bytes, std::memory_order_relaxed);
  return absl::OkStatus();
}

absl::StatusOr<int64_t> ParseByteSize(absl::string_view text) {
  const auto bad = [&]() {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", text, "' is not a byte size (like 1048576, 512M, 8G or 1T)"));
  };
  std::string s = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(text));
  if (absl::EndsWith(s, "IB")) {
    s.resize(s.size() - 2);
  } else if (absl::EndsWith(s, "B")) {
    s.pop_back();  // "8GB", "1024B"
  }
  int shift = 0;
  if (!s.empty() && !std::isdigit(static_cast<unsigned char>(s.back()))) {
    switch (s.back()) {
      case 'K':
        shift = 10;
        break;
      case 'M':
        shift = 20;
        break;
      case 'G':
        shift = 30;
        break;
      case 'T':
        shift = 40;
        break;
      default:
        return bad();
    }
    s.pop_back();
  }
  if (s.empty()) return bad();
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return bad();
  }
  int64_t n = 0;
  if (!absl::SimpleAtoi(s, &n) || n <= 0) return bad();
  if (n > (INT64_MAX >> shift)) return bad();
  return n << shift;
}

std::string ByteSizeText(int64_t bytes) {
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  for (int i = 3; i >= 0; --i) {
    const int shift = 10 * (i + 1);
    if (bytes >= (int64_t{1} << shift) && bytes % (int64_t{1} << shift) == 0) {
      return absl::StrCat(bytes >> shift, " ", kUnits[i]);
    }
  }
  for (int i = 3; i >= 0; --i) {
    const int shift = 10 * (i + 1);
    if (bytes >= (int64_t{1} << shift)) {
      return absl::StrCat(
          absl::SixDigits(static_cast<double>(bytes) / (int64_t{1} << shift)),
          " ", kUnits[i]);
    }
  }
  return absl::StrCat(bytes, " bytes");
}

std::string OverBudgetText() {
  return absl::StrCat("over the memory budget of ",
                      ByteSizeText(MemoryBudgetBytes()),
                      " (raise it with --max-memory)");
}

}  // namespace onnx_crypt
