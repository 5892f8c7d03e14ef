// The onnx-crypt command line: one table of subcommands (cmd_*.cc), which
// main() dispatches through and `onnx-crypt --help` lists. Exit codes: 0
// success, 1 failure of the operation, 2 usage error.
#include <exception>
#include <iostream>
#include <new>
#include <string>

#include "absl/strings/str_split.h"
#include "onnx_crypt/base/openblas_env.h"
#include "tools/cli/commands.h"

namespace onnx_crypt::cli {
namespace {

const Command* const kCommands[] = {
    &kInfoCommand,   &kEvalCommand, &kLockCommand,   &kLockBatchCommand,
    &kUnlockCommand, &kKeyCommand,  &kVerifyCommand, &kAttackCommand,
};

// The summary column of the command list.
constexpr size_t kSummaryColumn = 43;

std::string UsageText() {
  std::string s =
      "onnx-crypt: lock ONNX models with adversarial parameter perturbations\n"
      "\n"
      "usage: onnx-crypt COMMAND [options]        (onnx-crypt COMMAND --help "
      "for details)\n"
      "\n"
      "commands:\n";
  for (const Command* c : kCommands) {
    // "  NAME    SYNOPSIS", continuation lines under the synopsis; the summary
    // at its column on the last synopsis line when it fits, else below.
    const std::string name = std::string(c->name);
    std::string line =
        "  " + name + std::string(name.size() < 8 ? 8 - name.size() : 1, ' ');
    const std::string indent(name.size() + 3, ' ');
    bool first = true;
    for (absl::string_view part : absl::StrSplit(c->synopsis, '\n')) {
      if (!first) {
        s += line + "\n";
        line = indent;
      }
      line += std::string(part);
      first = false;
    }
    for (absl::string_view part : absl::StrSplit(c->summary, '\n')) {
      if (line.size() + 2 > kSummaryColumn) {
        s += line + "\n";
        line.clear();
      }
      line.resize(kSummaryColumn, ' ');
      line += std::string(part);
    }
    s += line + "\n";
  }
  s += kGlobalOptionsHelp;
  return s;
}

const Command* Find(const std::string& name) {
  for (const Command* c : kCommands) {
    if (name == c->name) return c;
  }
  return nullptr;
}

}  // namespace
}  // namespace onnx_crypt::cli

int main(int argc, char** argv) {
  using namespace onnx_crypt::cli;
  onnx_crypt::ReexecWithKernelRuntimeSettings(argv);
  if (argc < 2) return std::cerr << UsageText(), kExitUsage;
  const std::string name = argv[1];
  const Args args(argv + 2, argv + argc);
  if (name == "--help" || name == "-h" || name == "help") {
    return std::cout << UsageText(), kExitOk;
  }
  const Command* command = Find(name);
  if (command == nullptr) {
    std::cerr << "onnx-crypt: unknown command '" << name << "'\n\n"
              << UsageText();
    return kExitUsage;
  }
  if (WantsHelp(args)) {
    return std::cout << command->help << kGlobalOptionsHelp, kExitOk;
  }
  absl::StatusOr<Args> rest = TakeGlobalOptions(args);
  if (!rest.ok()) {
    return Usage(rest.status().message(), command->help);
  }
  // The library returns Status; this is the last line of defence should a
  // third-party call throw past it: a message and exit 1, never an abort.
  try {
    return command->run(*rest);
  } catch (const std::bad_alloc&) {
    std::cerr << "onnx-crypt: error: out of memory (see --max-memory)\n";
  } catch (const std::exception& e) {
    std::cerr << "onnx-crypt: error: internal error: " << e.what() << "\n";
  }
  return kExitFailure;
}
