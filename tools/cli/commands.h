// The onnx-crypt subcommands: one Command per file (cmd_NAME.cc), listed in
// one table in main.cc, which dispatches to them and prints their summaries
// for `onnx-crypt --help`. Also the few helpers every command shares. Only the
// CLI turns a Status into a message and an exit code.
#ifndef ONNX_CRYPT_TOOLS_CLI_COMMANDS_H_
#define ONNX_CRYPT_TOOLS_CLI_COMMANDS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace onnx_crypt::cli {

// Exit codes: success, failure of the operation, usage error.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

using Args = std::vector<std::string>;

struct Command {
  const char* name;
  // Its arguments in the command list; '\n' continues on the next line.
  const char* synopsis;
  // One line (or a few, '\n'-separated) for the command list.
  const char* summary;
  // `onnx-crypt NAME --help`; main() prints it, the handler never sees --help.
  const char* help;
  // Runs the command on the arguments after its name; returns the exit code.
  int (*run)(const Args& args);
};

extern const Command kInfoCommand;
extern const Command kEvalCommand;
extern const Command kLockCommand;
extern const Command kLockBatchCommand;
extern const Command kUnlockCommand;
extern const Command kKeyCommand;
extern const Command kVerifyCommand;
extern const Command kAttackCommand;

// Options every command takes, handled before the command runs:
//   --max-memory BYTES  the memory budget (base/memory_budget.h).
// TakeGlobalOptions applies them and returns the remaining arguments;
// InvalidArgument naming the flag (a usage error) for a bad value.
extern const char kGlobalOptionsHelp[];
absl::StatusOr<Args> TakeGlobalOptions(const Args& args);

// "onnx-crypt: error: MESSAGE" on stderr; returns kExitFailure.
int Fail(const absl::Status& status);
// "onnx-crypt: MESSAGE" and the command's help on stderr; returns kExitUsage.
int Usage(absl::string_view message, const char* help);
// Whether `args` ask for help (--help or -h anywhere).
bool WantsHelp(const Args& args);

}  // namespace onnx_crypt::cli

#endif  // ONNX_CRYPT_TOOLS_CLI_COMMANDS_H_
