// The cross-entropy loss and its gradient against central finite differences,
// for every output kind, and against closed forms on small examples.
#include "onnx_crypt/engine/loss.h"

#include <cmath>

#include "gtest/gtest.h"
#include "tests/support/op_check.h"

namespace onnx_crypt {
namespace {

void CheckFiniteDifferences(const Tensor& out,
                            const std::vector<int64_t>& labels,
                            OutputKind kind) {
  absl::StatusOr<LossAndGrad> base = CrossEntropy(out, labels, kind);
  ASSERT_TRUE(base.ok()) << base.status();
  for (int64_t i = 0; i < out.numel(); ++i) {
    Tensor probe = out;
    const double h = 1e-6;
    probe.mutable_data<double>()[i] += h;
    const double plus = CrossEntropy(probe, labels, kind)->loss;
    probe.mutable_data<double>()[i] -= 2 * h;
    const double minus = CrossEntropy(probe, labels, kind)->loss;
    const double numeric = (plus - minus) / (2 * h);
    EXPECT_NEAR(base->grad.data<double>()[i], numeric,
                1e-6 + 1e-5 * std::abs(numeric))
        << "element " << i;
  }
}

TEST(LossTest, LogitsGradientMatchesFiniteDifferences) {
  CheckFiniteDifferences(testing::RandomTensor({4, 5}, 1, -3, 3), {0, 4, 2, 2},
                         OutputKind::kLogits);
}

TEST(LossTest, ProbabilitiesGradientMatchesFiniteDifferences) {
  CheckFiniteDifferences(testing::RandomTensor({3, 4}, 2, 0.05, 0.9), {1, 3, 0},
                         OutputKind::kProbabilities);
}

TEST(LossTest, LogProbabilitiesGradientMatchesFiniteDifferences) {
  CheckFiniteDifferences(testing::RandomTensor({3, 4}, 3, -4, -0.1), {2, 0, 1},
                         OutputKind::kLogProbabilities);
}

TEST(LossTest, LogitsClosedForm) {
  // Two equal logits: loss = log 2 whichever the label.
  Tensor out = Tensor::FromVector<float>({1, 2}, {3.0f, 3.0f});
  absl::StatusOr<LossAndGrad> r = CrossEntropy(out, {1}, OutputKind::kLogits);
  ASSERT_TRUE(r.ok());
  EXPECT_NEAR(r->loss, std::log(2.0), 1e-7);
  EXPECT_NEAR(r->grad.data<float>()[0], 0.5, 1e-7);
  EXPECT_NEAR(r->grad.data<float>()[1], -0.5, 1e-7);
}

TEST(LossTest, LargeLogitsStayFinite) {
  Tensor out = Tensor::FromVector<float>({1, 3}, {1000.0f, -1000.0f, 0.0f});
  absl::StatusOr<LossAndGrad> r = CrossEntropy(out, {1}, OutputKind::kLogits);
  ASSERT_TRUE(r.ok());
  EXPECT_NEAR(r->loss, 2000.0, 1e-3);
  EXPECT_TRUE(std::isfinite(r->grad.data<float>()[0]));
}

TEST(LossTest, ProbabilityFloorGivesZeroGradient) {
  Tensor out = Tensor::FromVector<double>({1, 2}, {1.0, 0.0});
  absl::StatusOr<LossAndGrad> r =
      CrossEntropy(out, {1}, OutputKind::kProbabilities);
  ASSERT_TRUE(r.ok());
  EXPECT_NEAR(r->loss, -std::log(kProbFloor), 1e-9);
  EXPECT_EQ(r->grad.data<double>()[1], 0.0);
}

TEST(LossTest, RejectsBadLabelsAndShapes) {
  Tensor out = Tensor::FromVector<float>({2, 3}, {0, 0, 0, 0, 0, 0});
  EXPECT_EQ(CrossEntropy(out, {0, 3}, OutputKind::kLogits).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CrossEntropy(out, {0}, OutputKind::kLogits).status().code(),
            absl::StatusCode::kInvalidArgument);
  Tensor flat = Tensor::FromVector<float>({3}, {0, 0, 0});
  EXPECT_FALSE(CrossEntropy(flat, {0, 0, 0}, OutputKind::kLogits).ok());
}

TEST(LossTest, ArgmaxTakesFirstOnTies) {
  Tensor out = Tensor::FromVector<float>({2, 3}, {1, 5, 5, -1, -2, -3});
  EXPECT_EQ(ArgmaxRows(out), (std::vector<int64_t>{1, 0}));
}

}  // namespace
}  // namespace onnx_crypt
