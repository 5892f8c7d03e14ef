// lock-batch on the CPU engine: variants differ, each key unlocks only its own
// variant, a failing model is reported without stopping the batch and leaves no
// file behind.
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "onnx_crypt/api.h"
#include "onnx_crypt/base/file.h"
#include "onnx_crypt/key/key_wrap.h"
#include "tests/support/paths.h"

namespace onnx_crypt {
namespace {

namespace fs = std::filesystem;

TEST(LockBatchTest, VariantsAreIndependentAndFailuresAreContained) {
  const fs::path dir =
      fs::temp_directory_path() / ("oc_batch_" + std::to_string(getpid()));
  fs::remove_all(dir);
  const std::string model = testing::ModelsDir() + "/lenet5.onnx";
  const std::string missing = (dir / "missing.onnx").string();
  BatchOptions options;
  options.variants = 3;
  options.output_dir = (dir / "out").string();
  options.lock.config.max_values = 4;
  options.lock.config.target_accuracy = 0.0;
  int calls = 0;
  absl::StatusOr<std::vector<BatchItem>> items =
      LockBatch({model, missing}, testing::DataDir() + "/fmnist_owner256.npz",
                options, [&](const BatchItem&, int done, int total) {
                  ++calls;
                  EXPECT_EQ(total, 6);
                  EXPECT_EQ(done, calls);
                });
  ASSERT_TRUE(items.ok()) << items.status();
  ASSERT_EQ(items->size(), 6u);
  EXPECT_EQ(calls, 6);
  for (int v = 0; v < 3; ++v) {
    const BatchItem& item = (*items)[v];
    ASSERT_TRUE(item.status.ok()) << item.status;
    EXPECT_EQ(
        item.locked_path,
        (dir / "out" / ("lenet5-" + std::to_string(v) + ".onnx")).string());
    EXPECT_EQ(item.result.changes.size(), 4u);
    for (int k = 0; k < 3; ++k) {
      const absl::Status s =
          VerifyFiles(model, item.locked_path, (*items)[k].key_path);
      EXPECT_EQ(s.ok(), k == v)
          << "variant " << v << " with key " << k << ": " << s;
    }
  }
  // Different variants lock different values (positions or bits).
  EXPECT_NE(*ReadFile((*items)[0].locked_path),
            *ReadFile((*items)[1].locked_path));
  for (int v = 3; v < 6; ++v) {
    const BatchItem& item = (*items)[v];
    EXPECT_FALSE(item.status.ok());
    EXPECT_NE(item.status.message().find("missing.onnx"), std::string::npos)
        << item.status;
    EXPECT_FALSE(fs::exists(item.locked_path));
    EXPECT_FALSE(fs::exists(item.key_path));
  }
  // Same batch twice: byte-identical outputs.
  const std::string first_key = *ReadFile((*items)[2].key_path);
  options.output_dir = (dir / "again").string();
  absl::StatusOr<std::vector<BatchItem>> again =
      LockBatch({model}, testing::DataDir() + "/fmnist_owner256.npz", options);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*ReadFile((*again)[2].key_path), first_key);
  fs::remove_all(dir);
}

// Each item's files appear together or not at all: a variant whose key cannot
// be written (its path is a folder) leaves no locked model either, the other
// variants are complete, keys are owner-only and no temporary remains.
TEST(LockBatchTest, EachItemIsWrittenAllOrNothing) {
  const fs::path dir =
      fs::temp_directory_path() / ("oc_batch_aon_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "out" / "lenet5-1.key");  // blocks variant 1
  BatchOptions options;
  options.variants = 3;
  options.output_dir = (dir / "out").string();
  options.lock.config.max_values = 2;
  options.lock.config.target_accuracy = 0.0;
  absl::StatusOr<std::vector<BatchItem>> items =
      LockBatch({testing::ModelsDir() + "/lenet5.onnx"},
                testing::DataDir() + "/fmnist_owner256.npz", options);
  ASSERT_TRUE(items.ok()) << items.status();
  ASSERT_EQ(items->size(), 3u);
  for (int v : {0, 2}) {
    const BatchItem& item = (*items)[v];
    ASSERT_TRUE(item.status.ok()) << item.status;
    EXPECT_TRUE(fs::exists(item.locked_path));
    EXPECT_EQ(fs::status(item.key_path).permissions() & fs::perms::all,
              fs::perms::owner_read | fs::perms::owner_write);
  }
  const BatchItem& failed = (*items)[1];
  EXPECT_FALSE(failed.status.ok());
  EXPECT_NE(failed.status.message().find("lenet5-1.key"), std::string::npos)
      << failed.status;
  EXPECT_FALSE(fs::exists(failed.locked_path));
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir / "out")) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"lenet5-0.key", "lenet5-0.onnx",
                                             "lenet5-1.key", "lenet5-2.key",
                                             "lenet5-2.onnx"}));
  fs::remove_all(dir);
}

// With a passphrase, every key of the batch is wrapped (each with its own
// salt and nonce), owner-only, and opens only with that passphrase.
TEST(LockBatchTest, PassphraseWrapsEveryKey) {
  const fs::path dir =
      fs::temp_directory_path() / ("oc_batch_pw_" + std::to_string(getpid()));
  fs::remove_all(dir);
  const std::string model = testing::ModelsDir() + "/lenet5.onnx";
  BatchOptions options;
  options.variants = 2;
  options.output_dir = dir.string();
  options.lock.config.max_values = 4;
  options.lock.config.target_accuracy = 0.0;
  options.lock.passphrase = "batch secret";
  absl::StatusOr<std::vector<BatchItem>> items =
      LockBatch({model}, testing::DataDir() + "/fmnist_owner256.npz", options);
  ASSERT_TRUE(items.ok()) << items.status();
  ASSERT_EQ(items->size(), 2u);
  std::set<std::string> salts;
  for (const BatchItem& item : *items) {
    ASSERT_TRUE(item.status.ok()) << item.status;
    const std::string key = *ReadFile(item.key_path);
    EXPECT_TRUE(IsWrappedKey(key)) << item.key_path;
    salts.insert(ReadWrappedKeyHeader(key)->salt());
    struct stat st;
    ASSERT_EQ(stat(item.key_path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << item.key_path;
    EXPECT_TRUE(VerifyFiles(model, item.locked_path, item.key_path,
                            std::string("batch secret"))
                    .ok());
    EXPECT_FALSE(VerifyFiles(model, item.locked_path, item.key_path).ok());
  }
  EXPECT_EQ(salts.size(), 2u);
  // An empty passphrase fails the batch before anything is locked.
  options.lock.passphrase = "";
  options.output_dir = (dir / "empty").string();
  EXPECT_EQ(
      LockBatch({model}, testing::DataDir() + "/fmnist_owner256.npz", options)
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(fs::exists(dir / "empty"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace onnx_crypt
