#include "tools/cli/flags.h"

#include <climits>
#include <cmath>
#include <cstdlib>
#include <string>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/engine/factory.h"
#include "onnx_crypt/key/key_wrap.h"

namespace onnx_crypt::cli {

absl::StatusOr<int64_t> ParsedArgs::GetInt(const std::string& f,
                                           int64_t fallback) const {
  auto it = values.find(f);
  if (it == values.end()) return fallback;
  int64_t v = 0;
  if (!absl::SimpleAtoi(it->second, &v)) {
    return absl::InvalidArgumentError(
        absl::StrCat(f, " expects an integer, got '", it->second, "'"));
  }
  return v;
}

absl::StatusOr<double> ParsedArgs::GetDouble(const std::string& f,
                                             double fallback) const {
  auto it = values.find(f);
  if (it == values.end()) return fallback;
  double v = 0;
  if (!absl::SimpleAtod(it->second, &v)) {
    return absl::InvalidArgumentError(
        absl::StrCat(f, " expects a number, got '", it->second, "'"));
  }
  return v;
}

absl::StatusOr<ParsedArgs> ParseArgs(const std::vector<std::string>& args,
                                     const FlagSpec& spec) {
  ParsedArgs out;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.size() < 2 || a[0] != '-' || a == "-") {
      out.positionals.push_back(a);
      continue;
    }
    std::string name = a, value;
    bool has_inline = false;
    const size_t eq = a.find('=');
    if (eq != std::string::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
      has_inline = true;
    }
    if (spec.boolean.count(name)) {
      if (has_inline)
        return absl::InvalidArgumentError(
            absl::StrCat(name, " takes no value"));
      out.switches.insert(name);
    } else if (spec.with_value.count(name)) {
      if (!has_inline) {
        if (i + 1 >= args.size()) {
          return absl::InvalidArgumentError(
              absl::StrCat(name, " needs a value"));
        }
        value = args[++i];
      }
      out.values[name] = value;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown option ", name));
    }
  }
  return out;
}

absl::StatusOr<std::string> ParseDeviceFlag(const ParsedArgs& args,
                                            const std::string& fallback) {
  const std::string device = args.Get("--device", fallback);
  if (device != "cpu" && device != "cuda" && device != "auto") {
    return absl::InvalidArgumentError(
        absl::StrCat("--device must be cpu, cuda or auto, got '", device, "'"));
  }
  return device;
}

absl::StatusOr<int> ParseThreadsFlag(const ParsedArgs& args) {
  absl::StatusOr<int64_t> threads = args.GetInt("--threads", 0);
  if (!threads.ok()) return threads.status();
  if (*threads < 0 || *threads > kMaxThreads) {
    return absl::InvalidArgumentError(
        absl::StrCat("--threads must be 0 (all cores) or a count from 1 to ",
                     kMaxThreads, ", got ", *threads));
  }
  return static_cast<int>(*threads);
}

FlagSpec WithQuietFlag(FlagSpec spec) {
  spec.boolean.insert("--quiet");
  spec.boolean.insert("-q");
  return spec;
}

bool QuietFlag(const ParsedArgs& args) {
  return args.switches.count("--quiet") > 0 || args.switches.count("-q") > 0;
}

FlagSpec WithPassphraseFlag(FlagSpec spec) {
  spec.with_value.insert("--passphrase-file");
  return spec;
}

absl::StatusOr<std::optional<std::string>> ReadPassphraseFlag(
    const ParsedArgs& args) {
  if (args.Has("--passphrase-file")) {
    OC_ASSIGN_OR_RETURN(std::string passphrase,
                        ReadPassphraseFile(args.Get("--passphrase-file")));
    return passphrase;
  }
  const char* env = std::getenv(kPassphraseFileEnv);
  if (env == nullptr || *env == '\0') return std::nullopt;
  absl::StatusOr<std::string> passphrase = ReadPassphraseFile(env);
  if (!passphrase.ok()) {
    return absl::Status(passphrase.status().code(),
                        absl::StrCat(passphrase.status().message(),
                                     " (named by ", kPassphraseFileEnv, ")"));
  }
  return *std::move(passphrase);
}

FlagSpec WithLockFlags(FlagSpec spec) {
  for (const char* f :
       {"--max-values", "--target-accuracy", "--seed", "--values-per-round",
        "--candidates", "--device", "--threads", "--stealth-quantile",
        "--repair-target", "--output"}) {
    spec.with_value.insert(f);
  }
  spec.boolean.insert("--include-bias");
  spec.boolean.insert("--harden");
  spec.boolean.insert("--fast");
  return WithPassphraseFlag(std::move(spec));
}

absl::StatusOr<LockOptions> ParseLockOptions(const ParsedArgs& args) {
  auto max_values = args.GetInt("--max-values", kDefaultMaxValues);
  auto target = args.GetDouble("--target-accuracy", -1.0);
  auto seed = args.GetInt("--seed", 0);
  const LockConfig defaults;
  auto per_round = args.GetInt("--values-per-round", defaults.values_per_round);
  auto candidates = args.GetInt("--candidates", defaults.candidates);
  auto stealth_q = args.GetDouble("--stealth-quantile", 0.999);
  auto repair_target = args.GetDouble("--repair-target", -1.0);
  for (const absl::Status& s :
       {max_values.status(), target.status(), seed.status(), per_round.status(),
        candidates.status(), stealth_q.status(), repair_target.status()}) {
    if (!s.ok()) return s;
  }
  OC_ASSIGN_OR_RETURN(const int threads, ParseThreadsFlag(args));
  OC_ASSIGN_OR_RETURN(const std::string device, ParseDeviceFlag(args, "cpu"));
  // Counts are stored as int: refuse what would wrap rather than cast it.
  for (const auto& [flag, value] :
       {std::pair<const char*, int64_t>{"--max-values", *max_values},
        {"--values-per-round", *per_round},
        {"--candidates", *candidates}}) {
    if (value > INT_MAX) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, " is too large (", value, ")"));
    }
  }
  if (std::isnan(*target) ||
      (args.values.count("--target-accuracy") && !(*target >= 0.0))) {
    return absl::InvalidArgumentError("--target-accuracy must be in [0, 1]");
  }
  if (std::isnan(*repair_target) ||
      (args.values.count("--repair-target") &&
       !(*repair_target >= 0.0 && *repair_target <= 1.0))) {
    return absl::InvalidArgumentError("--repair-target must be in [0, 1]");
  }
  if (!(*stealth_q > 0 && *stealth_q <= 1)) {
    return absl::InvalidArgumentError("--stealth-quantile must be in (0, 1]");
  }
  if (*max_values < 1) {
    return absl::InvalidArgumentError("--max-values must be >= 1");
  }
  if (*target > 1.0) {
    return absl::InvalidArgumentError("--target-accuracy must be in [0, 1]");
  }
  if (*per_round < 1 || *candidates < 1) {
    return absl::InvalidArgumentError(
        "--values-per-round and --candidates must be >= 1");
  }
  LockOptions options;
  options.config.max_values = static_cast<int>(*max_values);
  options.config.target_accuracy = *target;
  options.config.seed = static_cast<uint64_t>(*seed);
  options.config.include_bias = args.switches.count("--include-bias") > 0;
  options.config.values_per_round = static_cast<int>(*per_round);
  options.config.candidates = static_cast<int>(*candidates);
  // The hardened lock is the default; --harden (its old switch) is still
  // accepted and changes nothing.
  const bool fast = args.switches.count("--fast") > 0;
  if (fast && args.switches.count("--harden") > 0) {
    return absl::InvalidArgumentError(
        "--fast and --harden exclude each other (the hardened lock is the "
        "default; --fast selects the fast, not repair-resistant loop)");
  }
  if (fast && (args.values.count("--stealth-quantile") ||
               args.values.count("--repair-target"))) {
    return absl::InvalidArgumentError(
        "--stealth-quantile and --repair-target set the hardened lock; they "
        "have no meaning with --fast");
  }
  options.config.harden = !fast;
  options.config.stealth_quantile = *stealth_q;
  options.config.repair_target = *repair_target;
  options.device = device;
  options.threads = threads;
  options.output = args.Get("--output");
  return options;
}

std::string HardenedSummary(const LockResult& r) {
  if (r.repair_target < 0) return "";
  const std::string repair =
      r.repair_accuracy < 0
          ? std::string(
                "not simulated (the locked or a reset state was still above "
                "its target)")
          : absl::StrFormat("%.4f", r.repair_accuracy);
  return absl::StrFormat(
      "hardened: values reset to 0 / to the median leave sample accuracy "
      "%.4f / %.4f; simulated saliency repair %s (target %.4f)",
      r.reset_zero_accuracy, r.reset_median_accuracy, repair, r.repair_target);
}

}  // namespace onnx_crypt::cli
