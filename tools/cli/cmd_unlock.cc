// onnx-crypt unlock: restores the original model with its key.
#include <iostream>

#include "onnx_crypt/api.h"
#include "tools/cli/commands.h"
#include "tools/cli/flags.h"

namespace onnx_crypt::cli {
namespace {

constexpr char kHelp[] =
    R"(usage: onnx-crypt unlock LOCKED.onnx --key KEY -o MODEL.onnx

Restores the original model exactly. The key's fingerprints are checked first: a key made for
another model, a corrupted or truncated key, or a locked model changed since locking (its
tensors, graph, attributes or metadata) is an error, and nothing is written. Keys written
before keys fingerprinted the whole model still unlock, with a note that only the tensors
were checked.
)";

int Run(const Args& args) {
  auto parsed = ParseArgs(args, {{"--key", "-o", "--output"}, {}});
  if (!parsed.ok()) return Usage(parsed.status().message(), kHelp);
  const std::string out = parsed->Get("-o", parsed->Get("--output"));
  if (parsed->positionals.size() != 1 || !parsed->Has("--key") || out.empty()) {
    return Usage("unlock takes LOCKED.onnx --key KEY -o MODEL.onnx", kHelp);
  }
  std::vector<std::string> notes;
  const absl::Status s =
      UnlockFile(parsed->positionals[0], parsed->Get("--key"), out, &notes);
  if (!s.ok()) return Fail(s);
  for (const std::string& note : notes) std::cerr << note << "\n";
  std::cout << "wrote " << out << "\n";
  return kExitOk;
}

}  // namespace

const Command kUnlockCommand = {"unlock", "LOCKED.onnx --key KEY -o MODEL.onnx",
                                "restore the original model, bit for bit",
                                kHelp, &Run};

}  // namespace onnx_crypt::cli
