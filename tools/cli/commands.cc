#include "tools/cli/commands.h"

#include <iostream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "onnx_crypt/base/memory_budget.h"

namespace onnx_crypt::cli {

const char kGlobalOptionsHelp[] =
    R"(
options of every command:
  --max-memory BYTES   the largest block of memory the tool allocates on the word of an input
                       (a file, a tensor, an op output), e.g. 512M, 8G (default 16G). A model,
                       key or data file that needs more is refused, naming the tensor or file.
)";

absl::StatusOr<Args> TakeGlobalOptions(const Args& args) {
  Args rest;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string value;
    if (args[i] == "--max-memory") {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError("--max-memory needs a value");
      }
      value = args[++i];
    } else if (absl::StartsWith(args[i], "--max-memory=")) {
      value = args[i].substr(std::string("--max-memory=").size());
    } else {
      rest.push_back(args[i]);
      continue;
    }
    absl::StatusOr<int64_t> bytes = ParseByteSize(value);
    if (!bytes.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--max-memory: ", bytes.status().message()));
    }
    if (absl::Status s = SetMemoryBudgetBytes(*bytes); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--max-memory: ", s.message()));
    }
  }
  return rest;
}

int Fail(const absl::Status& status) {
  std::cerr << "onnx-crypt: error: " << status.message() << "\n";
  return kExitFailure;
}

int Usage(absl::string_view message, const char* help) {
  std::cerr << "onnx-crypt: " << message << "\n\n" << help;
  return kExitUsage;
}

bool WantsHelp(const Args& args) {
  for (const std::string& a : args) {
    if (a == "--help" || a == "-h") return true;
  }
  return false;
}

}  // namespace onnx_crypt::cli
