#include "tools/cli/commands.h"

#include <iostream>
#include <memory>

namespace onnx_crypt::cli {

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

std::function<void(int64_t, int64_t)> SampleProgress(const std::string& label) {
  auto last = std::make_shared<int64_t>(-1);
  return [label, last](int64_t done, int64_t total) {
    const int64_t decile = total > 0 ? done * 10 / total : 10;
    if (decile == *last) return;
    *last = decile;
    std::cerr << label << ": " << done << "/" << total << " samples\n";
  };
}

}  // namespace onnx_crypt::cli
