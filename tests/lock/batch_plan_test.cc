// PlanBatchOutputs: which files each (model, variant) of a batch gets, and the
// outputs it refuses (name collisions, overwriting an input), decided before
// anything is locked.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "onnx_crypt/lock/batch.h"

namespace onnx_crypt {
namespace {

bool SameText(const std::string& a, const std::string& b) { return a == b; }

TEST(BatchPlanTest, EachModelAndVariantGetsItsOwnFiles) {
  const std::vector<BatchItem> items = PlanBatchOutputs(
      {"models/a.onnx", "other/b.v2.onnx"}, "data.npz", 2, "out", SameText);
  ASSERT_EQ(items.size(), 4u);
  const char* want[][3] = {
      {"models/a.onnx", "out/a-0.onnx", "out/a-0.key"},
      {"models/a.onnx", "out/a-1.onnx", "out/a-1.key"},
      {"other/b.v2.onnx", "out/b.v2-0.onnx", "out/b.v2-0.key"},
      {"other/b.v2.onnx", "out/b.v2-1.onnx", "out/b.v2-1.key"}};
  for (size_t i = 0; i < items.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(items[i].model, want[i][0]);
    EXPECT_EQ(items[i].variant, static_cast<int>(i % 2));
    EXPECT_EQ(items[i].locked_path, want[i][1]);
    EXPECT_EQ(items[i].key_path, want[i][2]);
    EXPECT_TRUE(items[i].status.ok()) << items[i].status;
  }
}

TEST(BatchPlanTest, ModelsWithTheSameNameCollide) {
  // The first keeps its outputs; every variant of a later one is refused.
  const std::vector<BatchItem> items =
      PlanBatchOutputs({"x/net.onnx", "y/net.onnx", "z/other.onnx"}, "d.npz", 2,
                       "out", SameText);
  ASSERT_EQ(items.size(), 6u);
  EXPECT_TRUE(items[0].status.ok());
  EXPECT_TRUE(items[1].status.ok());
  for (int i : {2, 3}) {
    EXPECT_EQ(items[i].status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(items[i].status.message().find("y/net.onnx"), std::string::npos)
        << items[i].status;
    EXPECT_NE(items[i].status.message().find("would collide"),
              std::string::npos)
        << items[i].status;
    // The planned paths are still reported (they name what was refused).
    EXPECT_EQ(items[i].locked_path,
              "out/net-" + std::to_string(i - 2) + ".onnx");
  }
  EXPECT_TRUE(items[4].status.ok());
  EXPECT_TRUE(items[5].status.ok());
}

TEST(BatchPlanTest, OutputsMayNotOverwriteInputs) {
  // A model named like an output of another, and the data file in the way of a
  // key, as the path comparison judges them.
  const std::vector<BatchItem> items = PlanBatchOutputs(
      {"in/m.onnx", "out/m-0.onnx"}, "out/m-0.key", 1, "out", SameText);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(items[0].status.message().find("refusing to overwrite input"),
            std::string::npos)
      << items[0].status;
  // out/m-0.onnx -> out/m-0-0.onnx: no collision.
  EXPECT_EQ(items[1].locked_path, "out/m-0-0.onnx");
  EXPECT_TRUE(items[1].status.ok()) << items[1].status;
}

TEST(BatchPlanTest, UsesThePathComparisonItIsGiven) {
  // "Everything is the same file": every output overwrites an input.
  const std::vector<BatchItem> items = PlanBatchOutputs(
      {"a.onnx"}, "d.npz", 3, "out",
      [](const std::string&, const std::string&) { return true; });
  ASSERT_EQ(items.size(), 3u);
  for (const BatchItem& item : items) EXPECT_FALSE(item.status.ok());
  // No variants, no items; nothing is refused for lack of models.
  EXPECT_TRUE(
      PlanBatchOutputs({"a.onnx"}, "d.npz", 0, "out", SameText).empty());
  EXPECT_TRUE(PlanBatchOutputs({}, "d.npz", 2, "out", SameText).empty());
}

}  // namespace
}  // namespace onnx_crypt
