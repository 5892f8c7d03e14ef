// onnx-crypt verify: whether a key unlocks a locked model into the original.
#include <iostream>

#include "onnx_crypt/api.h"
#include "tools/cli/commands.h"
#include "tools/cli/flags.h"

namespace onnx_crypt::cli {
namespace {

constexpr char kHelp[] =
    R"(usage: onnx-crypt verify ORIGINAL.onnx LOCKED.onnx KEY [--passphrase-file F]

Exit status 0 only when KEY unlocks LOCKED.onnx into exactly ORIGINAL.onnx (every field, every
bit); otherwise a message saying what differs and exit status 1.
--passphrase-file F: the passphrase of a passphrase-wrapped KEY (whole file, one trailing newline
removed); without the flag, the file that ONNX_CRYPT_PASSPHRASE_FILE names. A plain KEY needs
none.
)";

int Run(const Args& args) {
  auto parsed = ParseArgs(args, WithPassphraseFlag({{}, {}}));
  if (!parsed.ok()) return Usage(parsed.status().message(), kHelp);
  if (parsed->positionals.size() != 3) {
    return Usage("verify takes ORIGINAL.onnx LOCKED.onnx KEY", kHelp);
  }
  absl::StatusOr<std::optional<std::string>> passphrase =
      ReadPassphraseFlag(*parsed);
  if (!passphrase.ok()) return Fail(passphrase.status());
  const absl::Status s =
      VerifyFiles(parsed->positionals[0], parsed->positionals[1],
                  parsed->positionals[2], *passphrase);
  if (!s.ok()) return Fail(s);
  std::cout << "OK: the key unlocks " << parsed->positionals[1]
            << " into exactly " << parsed->positionals[0] << "\n";
  return kExitOk;
}

}  // namespace

const Command kVerifyCommand = {
    "verify", "ORIGINAL.onnx LOCKED.onnx KEY",
    "exit 0 only if KEY unlocks LOCKED into ORIGINAL exactly", kHelp, &Run};

}  // namespace onnx_crypt::cli
