// The CLI's one parser for the lock flags (lock and lock-batch share it), and
// the passphrase flag every key-reading or key-writing command takes.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tools/cli/flags.h"

namespace onnx_crypt::cli {
namespace {

absl::StatusOr<LockOptions> Parse(const std::vector<std::string>& args) {
  absl::StatusOr<ParsedArgs> parsed =
      ParseArgs(args, WithLockFlags({{"--data"}, {"--json"}}));
  if (!parsed.ok()) return parsed.status();
  return ParseLockOptions(*parsed);
}

TEST(LockFlagsTest, DefaultsAreTheLockDefaults) {
  absl::StatusOr<LockOptions> o = Parse({"m.onnx", "--data", "d.npz"});
  ASSERT_TRUE(o.ok()) << o.status();
  const LockConfig defaults;
  EXPECT_EQ(o->config.max_values, kDefaultMaxValues);
  EXPECT_EQ(o->config.target_accuracy, defaults.target_accuracy);
  EXPECT_EQ(o->config.seed, 0u);
  EXPECT_FALSE(o->config.include_bias);
  EXPECT_EQ(o->config.values_per_round, defaults.values_per_round);
  EXPECT_EQ(o->config.candidates, defaults.candidates);
  EXPECT_TRUE(o->config.harden);  // the hardened lock is the default
  EXPECT_EQ(o->config.stealth_quantile, defaults.stealth_quantile);
  EXPECT_EQ(o->config.repair_target, defaults.repair_target);
  EXPECT_EQ(o->device, "cpu");
  EXPECT_EQ(o->threads, 0);
}

TEST(LockFlagsTest, EveryFlagTakesEffect) {
  absl::StatusOr<LockOptions> o =
      Parse({"--max-values", "9", "--target-accuracy=0.3", "--seed", "7",
             "--include-bias", "--values-per-round", "2", "--candidates", "5",
             "--device", "auto", "--threads", "3", "--harden",
             "--stealth-quantile", "0.99", "--repair-target", "0.25"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->config.max_values, 9);
  EXPECT_DOUBLE_EQ(o->config.target_accuracy, 0.3);
  EXPECT_EQ(o->config.seed, 7u);
  EXPECT_TRUE(o->config.include_bias);
  EXPECT_EQ(o->config.values_per_round, 2);
  EXPECT_EQ(o->config.candidates, 5);
  EXPECT_EQ(o->device, "auto");
  EXPECT_EQ(o->threads, 3);
  EXPECT_TRUE(o->config.harden);
  EXPECT_DOUBLE_EQ(o->config.stealth_quantile, 0.99);
  EXPECT_DOUBLE_EQ(o->config.repair_target, 0.25);
}

// --fast selects the fast loop; --harden, the old switch of the default, is
// accepted and changes nothing; the two together, or --fast with a hardened
// lock's setting, are refused naming the flags.
TEST(LockFlagsTest, FastSelectsTheFastLoop) {
  absl::StatusOr<LockOptions> fast = Parse({"--fast"});
  ASSERT_TRUE(fast.ok()) << fast.status();
  EXPECT_FALSE(fast->config.harden);
  absl::StatusOr<LockOptions> harden = Parse({"--harden"});
  ASSERT_TRUE(harden.ok()) << harden.status();
  EXPECT_TRUE(harden->config.harden);
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{
           {"--fast", "--harden"},
           {"--fast", "--repair-target", "0.2"},
           {"--fast", "--stealth-quantile", "0.99"}}) {
    absl::StatusOr<LockOptions> o = Parse(args);
    ASSERT_FALSE(o.ok()) << args[1];
    EXPECT_EQ(o.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(o.status().message().find("--fast"), std::string::npos)
        << o.status();
    EXPECT_NE(o.status().message().find(args[1]), std::string::npos)
        << o.status();
  }
}

TEST(LockFlagsTest, BadValuesNameTheFlag) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--max-values", "0"}, "--max-values"},
      {{"--max-values", "x"}, "--max-values"},
      {{"--target-accuracy", "1.5"}, "--target-accuracy"},
      {{"--values-per-round", "0"}, "--values-per-round"},
      {{"--candidates", "0"}, "--candidates"},
      {{"--stealth-quantile", "0"}, "--stealth-quantile"},
      {{"--stealth-quantile", "1.01"}, "--stealth-quantile"},
      {{"--harden=yes"}, "--harden"},
      {{"--variants", "2"}, "--variants"},  // not a lock flag
      // Hostile values: negative or wrapping counts, NaN, unknown devices.
      {{"--threads", "-5"}, "--threads"},
      {{"--threads", "4294967297"}, "--threads"},
      {{"--max-values", "4294967297"}, "--max-values"},
      {{"--candidates", "99999999999"}, "--candidates"},
      {{"--target-accuracy", "nan"}, "--target-accuracy"},
      {{"--target-accuracy", "-0.5"}, "--target-accuracy"},
      {{"--repair-target", "nan"}, "--repair-target"},
      {{"--repair-target", "2"}, "--repair-target"},
      {{"--device", "gpu9"}, "--device"},
  };
  for (const auto& [args, flag] : cases) {
    absl::StatusOr<LockOptions> o = Parse(args);
    ASSERT_FALSE(o.ok()) << args[0];
    EXPECT_EQ(o.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(o.status().message().find(flag), std::string::npos) << o.status();
  }
}

// --passphrase-file F first, then the file ONNX_CRYPT_PASSPHRASE_FILE names
// (empty counts as unset), else no passphrase.
TEST(PassphraseFlagTest, FlagThenEnvironmentThenNone) {
  namespace fs = std::filesystem;
  const fs::path dir =
      fs::temp_directory_path() / ("oc_pass_flag_" + std::to_string(getpid()));
  fs::create_directories(dir);
  const std::string flag_file = (dir / "flag").string();
  const std::string env_file = (dir / "env").string();
  const std::string empty_file = (dir / "empty").string();
  std::ofstream(flag_file) << "from the flag\n";
  std::ofstream(env_file) << "from the environment";
  std::ofstream(empty_file) << "\n";
  const char* saved = std::getenv(kPassphraseFileEnv);
  const std::string saved_value = saved ? saved : "";

  auto read = [](const std::vector<std::string>& args)
      -> absl::StatusOr<std::optional<std::string>> {
    absl::StatusOr<ParsedArgs> parsed =
        ParseArgs(args, WithLockFlags({{"--data"}, {"--json"}}));
    if (!parsed.ok()) return parsed.status();
    return ReadPassphraseFlag(*parsed);
  };
  unsetenv(kPassphraseFileEnv);
  ASSERT_TRUE(read({"m.onnx"}).ok());
  EXPECT_FALSE(read({"m.onnx"})->has_value());
  EXPECT_EQ(**read({"--passphrase-file", flag_file}), "from the flag");
  EXPECT_EQ(**read({"--passphrase-file=" + flag_file}), "from the flag");

  setenv(kPassphraseFileEnv, env_file.c_str(), 1);
  EXPECT_EQ(**read({"m.onnx"}), "from the environment");
  EXPECT_EQ(**read({"--passphrase-file", flag_file}), "from the flag");
  setenv(kPassphraseFileEnv, "", 1);
  EXPECT_FALSE(read({"m.onnx"})->has_value());

  // Errors name the file, and the variable when it named the file.
  setenv(kPassphraseFileEnv, (dir / "missing").string().c_str(), 1);
  absl::StatusOr<std::optional<std::string>> r = read({"m.onnx"});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound) << r.status();
  EXPECT_NE(r.status().message().find("missing"), std::string::npos);
  EXPECT_NE(r.status().message().find(kPassphraseFileEnv), std::string::npos);
  unsetenv(kPassphraseFileEnv);
  r = read({"--passphrase-file", empty_file});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("empty"), std::string::npos);
  r = read({"--passphrase-file", dir.string()});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(read({"--passphrase-file"}).ok());  // needs a value

  // The commands that only read keys take the flag too.
  absl::StatusOr<ParsedArgs> unlock =
      ParseArgs({"l.onnx", "--key", "k", "--passphrase-file", flag_file},
                WithPassphraseFlag({{"--key"}, {}}));
  ASSERT_TRUE(unlock.ok()) << unlock.status();
  EXPECT_EQ(**ReadPassphraseFlag(*unlock), "from the flag");

  if (saved != nullptr) setenv(kPassphraseFileEnv, saved_value.c_str(), 1);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace onnx_crypt::cli
