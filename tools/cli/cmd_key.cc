// onnx-crypt key: a readable summary of a key file.
#include <iostream>

#include "absl/strings/str_cat.h"
#include "onnx_crypt/api.h"
#include "onnx_crypt/base/file.h"
#include "tools/cli/commands.h"
#include "tools/cli/flags.h"

namespace onnx_crypt::cli {
namespace {

constexpr char kHelp[] =
    R"(usage: onnx-crypt key KEY [--values] [--passphrase-file F]

Prints a summary of a key: format version, whether it is wrapped with a passphrase (and the
scrypt parameters), options, seed, number of values, tensors touched; the values themselves
with --values.
--passphrase-file F: the passphrase of a passphrase-wrapped KEY (whole file, one trailing newline
removed); without the flag, the file that ONNX_CRYPT_PASSPHRASE_FILE names. A plain KEY needs
none.
)";

int Run(const Args& args) {
  auto parsed = ParseArgs(args, WithPassphraseFlag({{}, {"--values"}}));
  if (!parsed.ok()) return Usage(parsed.status().message(), kHelp);
  if (parsed->positionals.size() != 1)
    return Usage("key takes one KEY file", kHelp);
  absl::StatusOr<std::optional<std::string>> passphrase =
      ReadPassphraseFlag(*parsed);
  if (!passphrase.ok()) return Fail(passphrase.status());
  auto bytes = ReadFile(parsed->positionals[0]);
  if (!bytes.ok()) return Fail(bytes.status());
  auto text =
      DescribeKey(*bytes, parsed->switches.count("--values") > 0, *passphrase);
  if (!text.ok()) {
    return Fail(absl::Status(
        text.status().code(),
        absl::StrCat(parsed->positionals[0], ": ", text.status().message())));
  }
  std::cout << *text;
  return kExitOk;
}

}  // namespace

const Command kKeyCommand = {"key", "KEY", "summary of a key file", kHelp,
                             &Run};

}  // namespace onnx_crypt::cli
