// The attack library (onnx_crypt/attack/attack.h) on the bundled LeNet-5 and
// real Fashion-MNIST samples: each attack's no-op point, exact counts against
// independent recomputation, a planted outlier, training that learns, and the
// CLI's --json line.
#include "onnx_crypt/attack/attack.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>

#include "gtest/gtest.h"
#include "onnx_crypt/data/npz.h"
#include "onnx_crypt/engine/cpu_engine.h"
#include "onnx_crypt/engine/evaluate.h"
#include "onnx_crypt/engine/samples.h"
#include "onnx_crypt/onnx/model.h"
#include "tests/support/paths.h"

namespace onnx_crypt {
namespace {

namespace fs = std::filesystem;

std::string ModelPath() { return testing::ModelsDir() + "/lenet5.onnx"; }

std::unique_ptr<Engine> MakeEngine() {
  absl::StatusOr<OnnxModel> model = OnnxModel::Load(ModelPath());
  EXPECT_TRUE(model.ok()) << model.status();
  if (!model.ok()) return nullptr;
  absl::StatusOr<Graph> graph = model->ToGraph();
  EXPECT_TRUE(graph.ok()) << graph.status();
  absl::StatusOr<std::unique_ptr<CpuEngine>> engine =
      CpuEngine::Create(std::move(*graph), 1);
  EXPECT_TRUE(engine.ok()) << engine.status();
  return engine.ok() ? std::move(*engine) : nullptr;
}

struct Data {
  Feeds x;  // {"input": samples}: the bundled models' one input
  std::vector<int64_t> y;
};
Data Load(const std::string& file, int64_t limit) {
  const std::string path = testing::DataDir() + "/" + file;
  absl::StatusOr<Dataset> d = LoadDataset(path);
  EXPECT_TRUE(d.ok()) << d.status() << " (run tools/setup.sh)";
  if (!d.ok()) return {};
  const Tensor& x = d->inputs.at("x");
  Data out{{{"input", SliceRows(x, 0, std::min(limit, x.dim(0)))}},
           d->y.ToInt64Vector()};
  out.y.resize(static_cast<size_t>(SampleCount(out.x)));
  return out;
}

std::map<std::string, std::vector<float>> Snapshot(
    Engine& engine, const std::vector<std::string>& tensors) {
  std::map<std::string, std::vector<float>> out;
  for (const std::string& n : tensors) {
    absl::StatusOr<Tensor> t = engine.GetInitializer(n);
    EXPECT_TRUE(t.ok());
    out[n].assign(t->data<float>(), t->data<float>() + t->numel());
  }
  return out;
}

class AttackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    engine_ = MakeEngine();
    ASSERT_NE(engine_, nullptr);
    tensors_ = AttackTensors(engine_->graph(), false);
    ASSERT_EQ(tensors_.size(), 5u);  // conv1, conv2, fc1, fc2, fc3 weights
    before_ = Snapshot(*engine_, tensors_);
  }
  std::unique_ptr<Engine> engine_;
  std::vector<std::string> tensors_;
  std::map<std::string, std::vector<float>> before_;
};

TEST_F(AttackTest, PruneAtZeroChangesNothing) {
  absl::StatusOr<int64_t> zeroed = PruneGlobal(*engine_, tensors_, 0.0);
  ASSERT_TRUE(zeroed.ok()) << zeroed.status();
  EXPECT_EQ(*zeroed, 0);
  EXPECT_EQ(Snapshot(*engine_, tensors_), before_);
}

TEST_F(AttackTest, PruneZeroesExactlyTheSmallestFraction) {
  int64_t total = 0;
  for (const auto& [n, v] : before_) total += static_cast<int64_t>(v.size());
  const double fraction = 0.3;
  const int64_t expected = static_cast<int64_t>(std::floor(fraction * total));
  absl::StatusOr<int64_t> zeroed = PruneGlobal(*engine_, tensors_, fraction);
  ASSERT_TRUE(zeroed.ok()) << zeroed.status();
  EXPECT_EQ(*zeroed, expected);
  const auto after = Snapshot(*engine_, tensors_);
  int64_t zeros = 0, changed = 0;
  float largest_pruned = 0, smallest_kept = 1e30f;
  for (const auto& [n, v] : before_) {
    for (size_t i = 0; i < v.size(); ++i) {
      const float a = after.at(n)[i];
      if (a == 0.0f) {
        ++zeros;
        largest_pruned = std::max(largest_pruned, std::abs(v[i]));
      } else {
        EXPECT_EQ(a, v[i]) << n << "[" << i << "] changed but not to 0";
        smallest_kept = std::min(smallest_kept, std::abs(v[i]));
      }
      changed += a != v[i];
    }
  }
  EXPECT_EQ(zeros, expected);  // the trained weights hold no exact zeros
  EXPECT_EQ(changed, expected);
  EXPECT_LE(largest_pruned, smallest_kept);
  EXPECT_FALSE(PruneGlobal(*engine_, tensors_, 1.5).ok());
}

TEST_F(AttackTest, ClipAtTheHundredthPercentileChangesNothing) {
  absl::StatusOr<int64_t> changed = ClipTensors(*engine_, tensors_, 100.0);
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_EQ(*changed, 0);
  EXPECT_EQ(Snapshot(*engine_, tensors_), before_);
}

TEST_F(AttackTest, ClipAtTheMedianBoundsEachTensorByItsOwnMedianMagnitude) {
  absl::StatusOr<int64_t> changed = ClipTensors(*engine_, tensors_, 50.0);
  ASSERT_TRUE(changed.ok()) << changed.status();
  const auto after = Snapshot(*engine_, tensors_);
  int64_t expected = 0;
  for (const auto& [n, v] : before_) {
    std::vector<float> mags;
    for (float w : v) mags.push_back(std::abs(w));
    std::sort(mags.begin(), mags.end());
    const float c = mags[(mags.size() + 1) / 2 - 1];  // nearest rank
    for (size_t i = 0; i < v.size(); ++i) {
      const float want = std::clamp(v[i], -c, c);
      EXPECT_EQ(after.at(n)[i], want) << n << "[" << i << "]";
      expected += want != v[i];
    }
  }
  EXPECT_EQ(*changed, expected);
  EXPECT_GT(expected, 0);
}

TEST_F(AttackTest, RepairWithKZeroChangesNothing) {
  const Data d = Load("fmnist_train1pct.npz", 64);
  RepairOptions o;
  o.k = 0;
  absl::StatusOr<std::vector<ValuePosition>> reset =
      Repair(*engine_, tensors_, d.x, d.y, o);
  ASSERT_TRUE(reset.ok()) << reset.status();
  EXPECT_TRUE(reset->empty());
  EXPECT_EQ(Snapshot(*engine_, tensors_), before_);
}

TEST_F(AttackTest, RepairResetsTheKMostSalientValues) {
  const Data d = Load("fmnist_train1pct.npz", 64);
  // Oracle: the engine's own gradient on the whole batch at once (the attack
  // accumulates over batches of 16, so this also checks the averaging).
  const Feeds& feeds = d.x;
  absl::StatusOr<LossResult> lr =
      engine_->LossAndGradients(feeds, d.y, tensors_);
  ASSERT_TRUE(lr.ok()) << lr.status();
  for (ResetValue reset : {ResetValue::kZero, ResetValue::kMedian}) {
    std::unique_ptr<Engine> engine = MakeEngine();
    RepairOptions o;
    o.k = 40;
    o.score = SaliencyScore::kGradTimesWeight;
    o.reset = reset;
    o.batch_size = 16;
    absl::StatusOr<std::vector<ValuePosition>> got =
        Repair(*engine, tensors_, d.x, d.y, o);
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->size(), 40u);
    std::set<ValuePosition> chosen(got->begin(), got->end());
    double weakest_chosen = 1e30, strongest_other = 0;
    for (const std::string& n : tensors_) {
      const float* g = lr->grads.at(n).data<float>();
      const std::vector<float>& w = before_.at(n);
      for (size_t i = 0; i < w.size(); ++i) {
        const double s = std::abs(static_cast<double>(g[i]) * w[i]);
        if (chosen.count({n, static_cast<int64_t>(i)})) {
          weakest_chosen = std::min(weakest_chosen, s);
        } else {
          strongest_other = std::max(strongest_other, s);
        }
      }
    }
    // float32 batch gradients against one float32 pass: equal up to rounding.
    EXPECT_GE(weakest_chosen, strongest_other * (1 - 1e-4));
    const auto after = Snapshot(*engine, tensors_);
    int64_t changed = 0;
    for (const auto& [n, v] : before_) {
      std::vector<float> sorted = v;
      std::sort(sorted.begin(), sorted.end());
      const size_t m = sorted.size() / 2;
      const float median =
          sorted.size() % 2
              ? sorted[m]
              : static_cast<float>(
                    (static_cast<double>(sorted[m - 1]) + sorted[m]) / 2);
      for (size_t i = 0; i < v.size(); ++i) {
        if (chosen.count({n, static_cast<int64_t>(i)})) {
          EXPECT_EQ(after.at(n)[i], reset == ResetValue::kZero ? 0.0f : median);
        } else {
          EXPECT_EQ(after.at(n)[i], v[i]);
        }
        changed += after.at(n)[i] != v[i];
      }
    }
    EXPECT_EQ(changed, 40);
  }
}

TEST_F(AttackTest, OutliersFindAPlantedExtremeValueAndNotABulkValue) {
  // fc1.weight[5000] becomes 3x the largest |w| of the model: the top value
  // for every detector. fc2.weight[77] becomes its row's median: no outlier.
  float largest = 0;
  for (const auto& [n, v] : before_)
    for (float w : v) largest = std::max(largest, std::abs(w));
  ASSERT_TRUE(engine_
                  ->SetInitializerValues(
                      "fc1.weight", {5000},
                      Tensor::FromVector<float>({1}, {3.0f * largest}))
                  .ok());
  std::vector<float> row(before_.at("fc2.weight").begin(),
                         before_.at("fc2.weight").begin() + 120);
  std::sort(row.begin(), row.end());
  ASSERT_TRUE(
      engine_
          ->SetInitializerValues("fc2.weight", {77},
                                 Tensor::FromVector<float>({1}, {row[60]}))
          .ok());
  absl::StatusOr<OutlierReport> r = LockedOutliers(
      *engine_, tensors_, {{"fc1.weight", 5000}, {"fc2.weight", 77}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->locked, 2);
  EXPECT_EQ(r->total_values, 61470);
  ASSERT_EQ(r->detectors.size(), 3u);
  for (const OutlierDetector& d : r->detectors) {
    EXPECT_EQ(d.best_rank, 0) << d.name;
    EXPECT_EQ(d.in_top_0_01, 1) << d.name;
    EXPECT_EQ(d.in_top_0_1, 1) << d.name;
  }
  EXPECT_EQ(r->any_in_top_0_1, 1);
  // The median value repeats another value of its tensor (the median itself).
  EXPECT_EQ(r->repeated, 1);
  EXPECT_FALSE(LockedOutliers(*engine_, tensors_, {{"fc1.bias", 0}}).ok());
}

TEST_F(AttackTest, FineTuneWithZeroLearningRateKeepsTheModel) {
  const Data train = Load("fmnist_train1pct.npz", 128);
  const Data test = Load("fmnist_test.npz", 1000);
  absl::StatusOr<double> acc0 = Accuracy(*engine_, test.x, test.y);
  ASSERT_TRUE(acc0.ok());
  EXPECT_GT(*acc0, 0.85);
  const std::vector<std::string> all = AttackTensors(engine_->graph(), true);
  FineTuneOptions o;
  o.epochs = 1;
  o.lr = 0.0;
  for (Optimizer opt : {Optimizer::kAdam, Optimizer::kSgd}) {
    o.optimizer = opt;
    absl::StatusOr<std::vector<double>> losses =
        FineTune(*engine_, all, train.x, train.y, o);
    ASSERT_TRUE(losses.ok()) << losses.status();
    ASSERT_EQ(losses->size(), 1u);
    EXPECT_GT((*losses)[0], 0.0);
  }
  EXPECT_EQ(Snapshot(*engine_, tensors_), before_);
  absl::StatusOr<double> acc1 = Accuracy(*engine_, test.x, test.y);
  ASSERT_TRUE(acc1.ok());
  EXPECT_EQ(*acc0, *acc1);
}

TEST_F(AttackTest, FromScratchTrainingLearns) {
  const std::vector<std::string> all = AttackTensors(engine_->graph(), true);
  ASSERT_TRUE(ReinitializeTensors(*engine_, all, 7).ok());
  // PyTorch's bound 1/sqrt(fan_in): conv1 fan-in 25, fc1 fan-in 400.
  const auto init = Snapshot(*engine_, all);
  for (const auto& [name, bound] :
       std::map<std::string, float>{{"conv1.weight", 0.2f},
                                    {"fc1.weight", 0.05f},
                                    {"fc1.bias", 0.05f}}) {
    float m = 0;
    for (float w : init.at(name)) m = std::max(m, std::abs(w));
    EXPECT_LE(m, bound) << name;
    EXPECT_GT(m, 0.9f * bound) << name;
  }
  const Data train = Load("fmnist_train1pct.npz", 600);
  const Data test = Load("fmnist_test.npz", 1000);
  absl::StatusOr<double> before = Accuracy(*engine_, test.x, test.y);
  ASSERT_TRUE(before.ok());
  FineTuneOptions o;
  o.epochs = 2;
  absl::StatusOr<std::vector<double>> losses =
      FineTune(*engine_, all, train.x, train.y, o);
  ASSERT_TRUE(losses.ok()) << losses.status();
  EXPECT_LT((*losses)[1], (*losses)[0]);
  absl::StatusOr<double> after = Accuracy(*engine_, test.x, test.y);
  ASSERT_TRUE(after.ok());
  EXPECT_LT(*before, 0.25);
  EXPECT_GT(*after, 0.4);
}

std::string RunCli(const std::string& args) {
  const std::string cli = testing::BinaryDir() + "/tools/onnx-crypt";
  EXPECT_TRUE(fs::exists(cli))
      << cli << " missing: build the onnx-crypt target";
  std::string out;
  FILE* p = popen((cli + " " + args + " 2>/dev/null").c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  EXPECT_EQ(pclose(p), 0) << args;
  return out;
}

std::string LastLine(const std::string& s) {
  std::string t = s;
  while (!t.empty() && t.back() == '\n') t.pop_back();
  const size_t nl = t.rfind('\n');
  return nl == std::string::npos ? t : t.substr(nl + 1);
}

TEST(AttackCliTest, JsonLineHasAccuracyAndParameters) {
  const std::string test = testing::DataDir() + "/fmnist_test.npz";
  const std::string line =
      LastLine(RunCli("attack prune " + ModelPath() + " --eval-data " + test +
                      " --eval-limit 500 --fraction 0 --json"));
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.front(), '{');
  EXPECT_EQ(line.back(), '}');
  EXPECT_NE(line.find("\"attack\":\"prune\""), std::string::npos) << line;
  EXPECT_NE(line.find("\"fraction\":0,"), std::string::npos) << line;
  EXPECT_NE(line.find("\"zeroed\":0,"), std::string::npos) << line;
  EXPECT_NE(line.find("\"eval_samples\":500,"), std::string::npos) << line;
  // Pruning nothing keeps the accuracy: both fields hold the same number.
  auto field = [&](const std::string& name) {
    const size_t at = line.find("\"" + name + "\":");
    EXPECT_NE(at, std::string::npos) << name;
    return at == std::string::npos
               ? -1.0
               : std::stod(line.substr(at + name.size() + 3));
  };
  EXPECT_GT(field("accuracy"), 0.8);
  EXPECT_EQ(field("accuracy"), field("accuracy_before"));

  const std::string repair = LastLine(
      RunCli("attack repair " + ModelPath() + " --data " + testing::DataDir() +
             "/fmnist_train1pct.npz --limit 64 --eval-data " + test +
             " --eval-limit 200 --k 5 --score g --reset median --json"));
  EXPECT_NE(repair.find("\"k\":5,\"score\":\"g\",\"reset\":\"median\""),
            std::string::npos)
      << repair;
  EXPECT_NE(repair.find("\"samples\":64,"), std::string::npos) << repair;
}

// A fine-tune that diverges (an absurd SGD step) ends with a NaN loss; JSON has
// no NaN, so the field is null and the line stays valid JSON.
TEST(AttackCliTest, DivergedFineTuneWritesNullLoss) {
  const std::string line = LastLine(RunCli(
      "attack finetune " + ModelPath() + " --data " + testing::DataDir() +
      "/fmnist_train1pct.npz --limit 64 --optimizer sgd --lr 1e30 --epochs 1 "
      "--eval-data " +
      testing::DataDir() + "/fmnist_test.npz --eval-limit 200 --json"));
  EXPECT_NE(line.find("\"final_train_loss\":null,"), std::string::npos) << line;
  for (const char* bad : {":nan", ":-nan", ":inf", ":-inf"}) {
    EXPECT_EQ(line.find(bad), std::string::npos) << bad << " in " << line;
  }
}

// --reinit re-initializes exactly the named tensors (PyTorch's bound
// 1/sqrt(fan_in)) and keeps every other value; with zero epochs nothing else
// happens, so the written model shows the re-initialization alone.
TEST(AttackCliTest, FineTuneReinitReplacesOnlyTheNamedTensor) {
  const fs::path dir =
      fs::temp_directory_path() / ("oc_reinit_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string out = (dir / "reinit.onnx").string();
  const std::string line = LastLine(RunCli(
      "attack finetune " + ModelPath() + " --data " + testing::DataDir() +
      "/fmnist_train1pct.npz --limit 32 --eval-data " + testing::DataDir() +
      "/fmnist_test.npz --eval-limit 200 --epochs 0 --reinit conv1.weight -o " +
      out + " --json"));
  EXPECT_NE(line.find("\"reinit\":[\"conv1.weight\"]"), std::string::npos)
      << line;
  absl::StatusOr<OnnxModel> a = OnnxModel::Load(ModelPath());
  absl::StatusOr<OnnxModel> b = OnnxModel::Load(out);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  for (const std::string name : {"conv1.weight", "conv1.bias", "conv2.weight",
                                 "fc1.weight", "fc3.weight", "fc3.bias"}) {
    absl::StatusOr<Tensor> ta = a->ReadInitializer(name);
    absl::StatusOr<Tensor> tb = b->ReadInitializer(name);
    ASSERT_TRUE(ta.ok() && tb.ok()) << name;
    const std::vector<float> va(ta->data<float>(),
                                ta->data<float>() + ta->numel());
    const std::vector<float> vb(tb->data<float>(),
                                tb->data<float>() + tb->numel());
    if (name != std::string("conv1.weight")) {
      EXPECT_EQ(va, vb) << name << " must be kept";
      continue;
    }
    int64_t same = 0;
    float m = 0;
    for (size_t i = 0; i < va.size(); ++i) {
      same += va[i] == vb[i];
      m = std::max(m, std::abs(vb[i]));
    }
    EXPECT_EQ(same, 0) << "conv1.weight must be re-initialized";
    EXPECT_LE(m, 0.2f);  // fan-in 25
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace
}  // namespace onnx_crypt
