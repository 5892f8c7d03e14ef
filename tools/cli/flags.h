// A small command-line parser for the subcommands: positionals plus --name
// VALUE / --name=VALUE / boolean --name. Unknown flags and missing values are
// errors that name the flag.
#ifndef ONNX_CRYPT_TOOLS_CLI_FLAGS_H_
#define ONNX_CRYPT_TOOLS_CLI_FLAGS_H_

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "onnx_crypt/lock/options.h"

namespace onnx_crypt::cli {

struct FlagSpec {
  std::set<std::string> with_value;  // e.g. "--data", "-o"
  std::set<std::string> boolean;     // e.g. "--json"
};

struct ParsedArgs {
  std::vector<std::string> positionals;
  std::map<std::string, std::string> values;
  std::set<std::string> switches;
  bool Has(const std::string& f) const {
    return values.count(f) || switches.count(f);
  }
  std::string Get(const std::string& f,
                  const std::string& fallback = "") const {
    auto it = values.find(f);
    return it == values.end() ? fallback : it->second;
  }
  absl::StatusOr<int64_t> GetInt(const std::string& f, int64_t fallback) const;
  absl::StatusOr<double> GetDouble(const std::string& f, double fallback) const;
};

absl::StatusOr<ParsedArgs> ParseArgs(const std::vector<std::string>& args,
                                     const FlagSpec& spec);

// --device: cpu, cuda or auto (`fallback` when absent); --threads: 0 (all
// cores) or a count up to kMaxThreads (engine/factory.h). InvalidArgument
// naming the flag (a usage error) otherwise. Shared by every command that takes
// them.
absl::StatusOr<std::string> ParseDeviceFlag(const ParsedArgs& args,
                                            const std::string& fallback);
absl::StatusOr<int> ParseThreadsFlag(const ParsedArgs& args);

// --quiet / -q: no progress on stderr (progress.h); errors still print and
// stdout is unchanged. Taken by the commands that report progress.
FlagSpec WithQuietFlag(FlagSpec spec);
bool QuietFlag(const ParsedArgs& args);

// ---------------------------------------------------------------- passphrase
// --passphrase-file F names a file holding the passphrase of a wrapped key
// (onnx_crypt/key/key_wrap.h: the whole file, one trailing line end removed).
// Without the flag, the environment variable ONNX_CRYPT_PASSPHRASE_FILE names
// one; set but empty, it counts as unset. Commands that write keys wrap them
// with it; commands that read keys unwrap with it (a plain key needs none).
inline constexpr char kPassphraseFileEnv[] = "ONNX_CRYPT_PASSPHRASE_FILE";

// `spec` plus --passphrase-file.
FlagSpec WithPassphraseFlag(FlagSpec spec);

// The passphrase that --passphrase-file or, without it,
// ONNX_CRYPT_PASSPHRASE_FILE gives; nullopt when neither is set. The errors of
// ReadPassphraseFile (NotFound; InvalidArgument for an empty passphrase or a
// file that is not a regular one), naming the file and, when it came from the
// environment, the variable.
absl::StatusOr<std::optional<std::string>> ReadPassphraseFlag(
    const ParsedArgs& args);

// ---------------------------------------------------------------- lock flags
// One parser for the options of a lock, so that `lock` and `lock-batch` accept
// the same set: --max-values N, --target-accuracy A, --seed S,
// --values-per-round K, --candidates M, --device D, --threads N,
// --stealth-quantile Q, --repair-target R, --output NAME (the classification
// output), and the switches --include-bias, --fast (the fast loop instead of
// the default hardened one) and --harden (accepted, the default); also
// --passphrase-file F, which ReadPassphraseFlag reads (not ParseLockOptions:
// reading a file is not parsing).

// A safety budget: the lock usually stops first, when its own simulated
// saliency repair fails (the hardened default: 24-65 values on the bundled
// CNNs, 484 on mlp_softmax) or at the accuracy target (--fast: 3-12 values on
// the CNNs); fully connected models, with no weight sharing, need a few
// hundred.
inline constexpr int kDefaultMaxValues = 1024;

// `spec` plus the lock flags.
FlagSpec WithLockFlags(FlagSpec spec);

// The lock options the flags give, with the defaults `onnx-crypt lock --help`
// states. InvalidArgument naming the flag (a usage error) for a malformed or
// out-of-range value. No progress callback is set.
absl::StatusOr<LockOptions> ParseLockOptions(const ParsedArgs& args);

// For a hardened lock, one line on its reset states and simulated repair:
// "hardened: values reset to 0 / to the median leave sample accuracy X / Y;
// simulated saliency repair Z (target R)"; empty for the fast loop.
std::string HardenedSummary(const LockResult& r);

}  // namespace onnx_crypt::cli

#endif  // ONNX_CRYPT_TOOLS_CLI_FLAGS_H_
