// Lock and unlock end to end on the bundled LeNet-5 with real Fashion-MNIST
// owner samples: determinism, bit-exact unlock, what the locked model may and
// may not differ in, and every way a key or a locked model can be wrong
// (nothing is written then).
#include <sys/stat.h>

#include <filesystem>
#include <functional>
#include <set>

#include "absl/strings/match.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "onnx/onnx_pb.h"
#include "onnx_crypt/api.h"
#include "onnx_crypt/base/file.h"
#include "onnx_crypt/data/npz.h"
#include "onnx_crypt/key/key.h"
#include "onnx_crypt/key/key_wrap.h"
#include "onnx_crypt/onnx/model.h"
#include "tests/support/paths.h"

namespace onnx_crypt {
namespace {

namespace fs = std::filesystem;

class LockUnlockTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(fs::temp_directory_path() /
                        ("oc_lock_test_" + std::to_string(getpid())));
    fs::create_directories(*dir_);
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
  }
  static std::string Model() { return testing::ModelsDir() + "/lenet5.onnx"; }
  static std::string Data() {
    return testing::DataDir() + "/fmnist_owner256.npz";
  }
  static std::string Path(const std::string& name) {
    return (*dir_ / name).string();
  }

  // A short lock (4 values) keeps the suite fast; the full-target locks run in
  // the results test.
  static LockOptions Options(uint64_t seed) {
    LockOptions o;
    o.config.harden = false;  // the fast loop: these tests are about the files
    o.config.max_values = 4;
    o.config.target_accuracy = 0.0;
    o.config.seed = seed;
    return o;
  }
  void Lock(const std::string& tag, uint64_t seed,
            std::optional<std::string> passphrase = std::nullopt) {
    ASSERT_TRUE(fs::exists(Model())) << Model() << " missing";
    ASSERT_TRUE(fs::exists(Data())) << Data() << " missing: run tools/setup.sh";
    LockOptions options = Options(seed);
    options.passphrase = std::move(passphrase);
    absl::StatusOr<LockSummary> s = LockFile(
        Model(), Data(), Path(tag + ".onnx"), Path(tag + ".key"), options);
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ(s->result.changes.size(), 4u);
    EXPECT_EQ(s->result.stop_reason, "budget");
  }
  static int Mode(const std::string& path) {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) return -1;
    return static_cast<int>(st.st_mode & 0777);
  }
  static fs::path* dir_;
};
fs::path* LockUnlockTest::dir_ = nullptr;

TEST_F(LockUnlockTest, SameInputsGiveByteIdenticalOutputs) {
  Lock("a", 5);
  Lock("b", 5);
  Lock("c", 6);
  EXPECT_EQ(*ReadFile(Path("a.onnx")), *ReadFile(Path("b.onnx")));
  EXPECT_EQ(*ReadFile(Path("a.key")), *ReadFile(Path("b.key")));
  EXPECT_NE(*ReadFile(Path("a.key")), *ReadFile(Path("c.key")));
}

// Locks of a convolutional model with 2 threads (the fast CPU kernels, trials
// over kept values, the screening subset, several values per round), each
// twice: byte-identical outputs. The fast loop runs to its target; the
// hardened default runs one round (its three states; a full lock takes
// minutes under the sanitizers).
TEST_F(LockUnlockTest, LocksWithTwoThreadsAreByteIdenticalTwice) {
  const std::string model = testing::ModelsDir() + "/bn_cnn.onnx";
  ASSERT_TRUE(fs::exists(model)) << model << " missing";
  for (const bool harden : {false, true}) {
    LockOptions o;
    o.threads = 2;
    o.config.harden = harden;
    if (harden) o.config.max_values = 4;
    const std::string name = harden ? "hardened" : "fast";
    for (const char* tag : {"t1", "t2"}) {
      absl::StatusOr<LockSummary> s =
          LockFile(model, Data(), Path(name + tag + ".onnx"),
                   Path(name + tag + ".key"), o);
      ASSERT_TRUE(s.ok()) << name << ": " << s.status();
      if (harden) {
        EXPECT_EQ(s->result.changes.size(), 4u);
        EXPECT_GE(s->result.reset_zero_accuracy, 0.0);
      } else {
        EXPECT_EQ(s->result.stop_reason, "target");
        EXPECT_LE(s->result.sample_accuracy_after, s->result.target_accuracy);
      }
    }
    EXPECT_EQ(*ReadFile(Path(name + "t1.onnx")),
              *ReadFile(Path(name + "t2.onnx")))
        << name;
    EXPECT_EQ(*ReadFile(Path(name + "t1.key")),
              *ReadFile(Path(name + "t2.key")))
        << name;
  }
}

// The progress callback gets every round, each with the lock's starting
// accuracy and its target (what the CLI's progress bar estimates from).
TEST_F(LockUnlockTest, ProgressRoundsCarryTheStartAndTheTarget) {
  LockOptions o = Options(3);
  o.config.target_accuracy = -1;  // chance + 0.02: budget first
  std::vector<LockRound> rounds;
  o.config.progress = [&](const LockRound& r) { rounds.push_back(r); };
  absl::StatusOr<LockSummary> s =
      LockFile(Model(), Data(), Path("p.onnx"), Path("p.key"), o);
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(static_cast<int>(rounds.size()), s->result.rounds);
  for (size_t i = 0; i < rounds.size(); ++i) {
    EXPECT_EQ(rounds[i].round, static_cast<int>(i) + 1);
    EXPECT_EQ(rounds[i].sample_accuracy_before,
              s->result.sample_accuracy_before);
    EXPECT_EQ(rounds[i].target_accuracy, s->result.target_accuracy);
  }
  EXPECT_DOUBLE_EQ(s->result.target_accuracy, 0.1 + 0.02);
  EXPECT_EQ(rounds.back().locked, 4);
  EXPECT_EQ(rounds.back().sample_accuracy, s->result.sample_accuracy_after);
}

TEST_F(LockUnlockTest, UnlockRestoresTheOriginalBitForBit) {
  Lock("u", 1);
  ASSERT_TRUE(
      UnlockFile(Path("u.onnx"), Path("u.key"), Path("u.unlocked.onnx")).ok());
  EXPECT_EQ(*ReadFile(Path("u.unlocked.onnx")), *ReadFile(Model()));
  EXPECT_TRUE(VerifyFiles(Model(), Path("u.onnx"), Path("u.key")).ok());
  absl::StatusOr<std::string> bytes =
      UnlockToBytes(*ReadFile(Path("u.onnx")), *ReadFile(Path("u.key")));
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_EQ(*bytes, *ReadFile(Model()));
}

TEST_F(LockUnlockTest, LockedModelDiffersOnlyInTheLockedValues) {
  Lock("d", 2);
  absl::StatusOr<OnnxModel> original = OnnxModel::Load(Model());
  absl::StatusOr<OnnxModel> locked = OnnxModel::Load(Path("d.onnx"));
  ASSERT_TRUE(original.ok() && locked.ok());
  absl::StatusOr<keyfile::LockKey> key = DecodeKey(*ReadFile(Path("d.key")));
  ASSERT_TRUE(key.ok()) << key.status();
  ASSERT_EQ(key->values_size(), 4);

  std::map<std::string, std::set<int64_t>> positions;
  std::set<std::string> values_bits;
  for (const keyfile::LockedValue& v : key->values()) {
    positions[v.tensor()].insert(v.index());
    EXPECT_TRUE(values_bits.insert(v.locked()).second)
        << "two locked values are equal";
    EXPECT_NE(v.locked(), v.original());
  }
  // Same graph and every non-initializer field: compare with the initializers'
  // data cleared.
  onnx::ModelProto a = original->proto(), b = locked->proto();
  for (onnx::ModelProto* m : {&a, &b}) {
    for (onnx::TensorProto& t : *m->mutable_graph()->mutable_initializer()) {
      t.clear_raw_data();
      t.clear_float_data();
    }
  }
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(a, b));
  // Same storage form, and element by element only the key's positions differ,
  // each one inside its tensor's original range.
  for (int i = 0; i < original->proto().graph().initializer_size(); ++i) {
    const onnx::TensorProto& ta = original->proto().graph().initializer(i);
    const onnx::TensorProto& tb = locked->proto().graph().initializer(i);
    EXPECT_EQ(ta.has_raw_data(), tb.has_raw_data());
    EXPECT_EQ(ta.float_data_size(), tb.float_data_size());
    Tensor va = *original->ReadInitializer(ta.name());
    Tensor vb = *locked->ReadInitializer(tb.name());
    ASSERT_EQ(va.nbytes(), vb.nbytes());
    if (va.dtype() != DType::kFloat32) {
      EXPECT_EQ(0, std::memcmp(va.raw(), vb.raw(), va.nbytes()));
      continue;
    }
    const float* pa = va.data<float>();
    const float* pb = vb.data<float>();
    const auto [mn, mx] = std::minmax_element(pa, pa + va.numel());
    for (int64_t k = 0; k < va.numel(); ++k) {
      const bool is_locked = positions[ta.name()].count(k) > 0;
      if (!is_locked) {
        EXPECT_EQ(0, std::memcmp(pa + k, pb + k, 4))
            << ta.name() << "[" << k << "]";
      } else {
        EXPECT_GT(pb[k], *mn) << ta.name() << "[" << k << "]";
        EXPECT_LT(pb[k], *mx) << ta.name() << "[" << k << "]";
      }
    }
  }
}

TEST_F(LockUnlockTest, CorruptedOrTruncatedKeysAreRejectedAndNothingIsWritten) {
  Lock("k", 3);
  const std::string key = *ReadFile(Path("k.key"));
  const std::string out = Path("k.unlocked.onnx");
  // Every truncation.
  for (size_t n = 0; n < key.size(); ++n) {
    ASSERT_TRUE(WriteFileAtomically(Path("bad.key"), key.substr(0, n)).ok());
    const absl::Status s = UnlockFile(Path("k.onnx"), Path("bad.key"), out);
    ASSERT_FALSE(s.ok()) << "truncated to " << n;
    ASSERT_FALSE(fs::exists(out));
  }
  // Every single-byte corruption.
  for (size_t i = 0; i < key.size(); ++i) {
    std::string bad = key;
    bad[i] = static_cast<char>(bad[i] ^ 0x5a);
    absl::StatusOr<keyfile::LockKey> decoded = DecodeKey(bad);
    ASSERT_FALSE(decoded.ok()) << "byte " << i;
    EXPECT_TRUE(decoded.status().code() == absl::StatusCode::kDataLoss ||
                decoded.status().code() == absl::StatusCode::kInvalidArgument)
        << decoded.status();
  }
  ASSERT_TRUE(WriteFileAtomically(Path("bad.key"), key + "x").ok());
  EXPECT_FALSE(UnlockFile(Path("k.onnx"), Path("bad.key"), out).ok());
  EXPECT_FALSE(fs::exists(out));
}

TEST_F(LockUnlockTest, WrongKeyOrChangedModelIsRejected) {
  Lock("m1", 10);
  Lock("m2", 11);
  const std::string out = Path("m.unlocked.onnx");
  // A key made for another locked model.
  absl::Status s = UnlockFile(Path("m1.onnx"), Path("m2.key"), out);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_FALSE(fs::exists(out));
  // The original (unlocked) model is not the locked one.
  s = UnlockFile(Model(), Path("m1.key"), out);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_FALSE(fs::exists(out));
  // The locked model changed after locking (one untouched weight nudged).
  absl::StatusOr<OnnxModel> m = OnnxModel::Load(Path("m1.onnx"));
  ASSERT_TRUE(m.ok());
  Tensor fc2 = *m->ReadInitializer("fc2.weight");
  fc2.mutable_data<float>()[7] += 1e-3f;
  ASSERT_TRUE(m->WriteInitializer("fc2.weight", fc2).ok());
  ASSERT_TRUE(m->Save(Path("m1.changed.onnx")).ok());
  s = UnlockFile(Path("m1.changed.onnx"), Path("m1.key"), out);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_NE(s.message().find("changed since locking"), std::string::npos) << s;
  EXPECT_FALSE(fs::exists(out));
  // verify agrees.
  EXPECT_FALSE(VerifyFiles(Model(), Path("m1.onnx"), Path("m2.key")).ok());
  EXPECT_TRUE(VerifyFiles(Model(), Path("m1.onnx"), Path("m1.key")).ok());
}

// The key fingerprints the locked model as a whole: a change to the graph,
// an attribute or the metadata (not only to a tensor) makes unlock fail before
// anything is written. A model re-serialized without changes still unlocks.
TEST_F(LockUnlockTest, ChangedGraphOrMetadataIsRejected) {
  Lock("g", 12);
  const std::string out = Path("g.unlocked.onnx");
  onnx::ModelProto locked;
  ASSERT_TRUE(locked.ParseFromString(*ReadFile(Path("g.onnx"))));
  struct Change {
    const char* what;
    std::function<void(onnx::ModelProto&)> apply;
  };
  const std::vector<Change> changes = {
      {"Relu -> Sigmoid",
       [](onnx::ModelProto& m) {
         for (auto& n : *m.mutable_graph()->mutable_node()) {
           if (n.op_type() == "Relu") {
             n.set_op_type("Sigmoid");
             return;
           }
         }
       }},
      {"an attribute",
       [](onnx::ModelProto& m) {
         for (auto& n : *m.mutable_graph()->mutable_node()) {
           for (auto& a : *n.mutable_attribute()) {
             if (a.ints_size() > 0) {
               a.set_ints(0, a.ints(0) + 1);
               return;
             }
           }
         }
       }},
      {"a node removed",
       [](onnx::ModelProto& m) {
         m.mutable_graph()->mutable_node()->RemoveLast();
       }},
      {"the input shape",
       [](onnx::ModelProto& m) {
         m.mutable_graph()
             ->mutable_input(0)
             ->mutable_type()
             ->mutable_tensor_type()
             ->mutable_shape()
             ->mutable_dim(1)
             ->set_dim_value(3);
       }},
      {"doc_string", [](onnx::ModelProto& m) { m.set_doc_string("changed"); }},
      {"an output name",
       [](onnx::ModelProto& m) {
         m.mutable_graph()->mutable_output(0)->set_name("renamed");
       }},
  };
  for (const Change& c : changes) {
    SCOPED_TRACE(c.what);
    onnx::ModelProto m = locked;
    c.apply(m);
    ASSERT_FALSE(google::protobuf::util::MessageDifferencer::Equals(m, locked));
    std::string bytes;
    ASSERT_TRUE(m.SerializeToString(&bytes));
    ASSERT_TRUE(WriteFileAtomically(Path("g.changed.onnx"), bytes).ok());
    const absl::Status s =
        UnlockFile(Path("g.changed.onnx"), Path("g.key"), out);
    ASSERT_FALSE(s.ok());
    // Some changes are caught when the model loads (onnx's checker); all the
    // others by the fingerprint. These two load fine: only the fingerprint
    // can catch them.
    const bool loads = std::string(c.what) == "Relu -> Sigmoid" ||
                       std::string(c.what) == "doc_string";
    if (loads)
      EXPECT_TRUE(absl::StrContains(s.message(), "does not match")) << s;
    if (absl::StrContains(s.message(), "does not match")) {
      EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
      EXPECT_NE(s.message().find("changed since locking"), std::string::npos)
          << s;
    }
    EXPECT_FALSE(fs::exists(out));
  }
  // Unchanged, re-serialized by protobuf: still the same model.
  std::string bytes;
  ASSERT_TRUE(locked.SerializeToString(&bytes));
  ASSERT_TRUE(WriteFileAtomically(Path("g.same.onnx"), bytes).ok());
  std::vector<std::string> notes;
  ASSERT_TRUE(
      UnlockFile(Path("g.same.onnx"), Path("g.key"), out, std::nullopt, &notes)
          .ok());
  EXPECT_TRUE(notes.empty());
  EXPECT_EQ(*ReadFile(out), *ReadFile(Model()));
}

// A key written before the whole-model fingerprint existed (field 12 absent)
// still unlocks, with a note that the graph was not checked.
TEST_F(LockUnlockTest, OldKeysWithoutTheWholeModelFingerprintStillUnlock) {
  Lock("old", 13);
  absl::StatusOr<keyfile::LockKey> key = DecodeKey(*ReadFile(Path("old.key")));
  ASSERT_TRUE(key.ok()) << key.status();
  ASSERT_TRUE(KeyFingerprintsWholeModel(*key));
  key->clear_model_structure_sha256();
  ASSERT_TRUE(WriteFileAtomically(Path("old1.key"), EncodeKey(*key)).ok());
  std::vector<std::string> notes;
  ASSERT_TRUE(UnlockFile(Path("old.onnx"), Path("old1.key"),
                         Path("old.unlocked.onnx"), std::nullopt, &notes)
                  .ok());
  EXPECT_EQ(*ReadFile(Path("old.unlocked.onnx")), *ReadFile(Model()));
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("graph"), std::string::npos) << notes[0];
  absl::StatusOr<std::string> text =
      DescribeKey(*ReadFile(Path("old1.key")), false);
  ASSERT_TRUE(text.ok());
  EXPECT_NE(text->find("an older key"), std::string::npos) << *text;
  // A malformed fingerprint (not 32 bytes) is a corrupted key.
  key->set_model_structure_sha256("short");
  EXPECT_EQ(DecodeKey(EncodeKey(*key)).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST_F(LockUnlockTest, OutputsThatNameAnInputAreRefused) {
  Lock("o", 4);
  const std::string before = *ReadFile(Path("o.onnx"));
  EXPECT_FALSE(UnlockFile(Path("o.onnx"), Path("o.key"), Path("o.onnx")).ok());
  EXPECT_EQ(*ReadFile(Path("o.onnx")), before);
  EXPECT_FALSE(UnlockFile(Path("o.onnx"), Path("o.key"), Path("o.key")).ok());
  EXPECT_FALSE(
      LockFile(Model(), Data(), Model(), Path("x.key"), Options(0)).ok());
  EXPECT_FALSE(
      LockFile(Model(), Data(), Path("x.onnx"), Data(), Options(0)).ok());
  EXPECT_FALSE(fs::exists(Path("x.key")));
}

// A passphrase wraps the key at rest; the locked model and the key inside are
// those of the same lock without one, and unlock restores the original bit for
// bit through every entry point.
TEST_F(LockUnlockTest, PassphraseWrappedKeyUnlocksBitForBit) {
  const std::string pass = "correct horse battery staple";
  Lock("w", 21, pass);
  Lock("w2", 21, pass);
  Lock("wp", 21);
  const std::string wrapped = *ReadFile(Path("w.key"));
  ASSERT_TRUE(IsWrappedKey(wrapped));
  EXPECT_FALSE(IsWrappedKey(*ReadFile(Path("wp.key"))));
  // Deterministic where it matters: the model and the key inside; the wrapped
  // bytes differ (fresh salt and nonce).
  EXPECT_EQ(*ReadFile(Path("w.onnx")), *ReadFile(Path("wp.onnx")));
  EXPECT_EQ(*ReadFile(Path("w.onnx")), *ReadFile(Path("w2.onnx")));
  EXPECT_NE(wrapped, *ReadFile(Path("w2.key")));
  EXPECT_EQ(*UnwrapKey(wrapped, pass), *ReadFile(Path("wp.key")));
  EXPECT_EQ(*UnwrapKey(*ReadFile(Path("w2.key")), pass),
            *ReadFile(Path("wp.key")));

  ASSERT_TRUE(
      UnlockFile(Path("w.onnx"), Path("w.key"), Path("w.unlocked.onnx"), pass)
          .ok());
  EXPECT_EQ(*ReadFile(Path("w.unlocked.onnx")), *ReadFile(Model()));
  EXPECT_TRUE(VerifyFiles(Model(), Path("w.onnx"), Path("w.key"), pass).ok());
  const std::string locked = *ReadFile(Path("w.onnx"));
  absl::StatusOr<std::string> bytes = UnlockToBytes(locked, wrapped, pass);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_EQ(*bytes, *ReadFile(Model()));
  absl::StatusOr<std::vector<RestoredTensor>> tensors =
      UnlockTensors(locked, wrapped, pass);
  ASSERT_TRUE(tensors.ok()) << tensors.status();
  EXPECT_EQ(tensors->size(),
            UnlockTensors(locked, *ReadFile(Path("wp.key")))->size());
  EXPECT_TRUE(UnlockTensorsFromFile(Path("w.onnx"), wrapped, pass).ok());
  absl::StatusOr<std::string> plain =
      UnwrappedKeyBytes(FileOrBytes::File(Path("w.key")), pass);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(*plain, *ReadFile(Path("wp.key")));
  EXPECT_TRUE(UnlockToBytes(locked, *plain).ok());
  absl::StatusOr<std::string> text = DescribeKey(wrapped, false, pass);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_NE(text->find("wrapped with a passphrase: scrypt N=65536 r=8 p=1"),
            std::string::npos)
      << *text;
  EXPECT_NE(DescribeKey(*ReadFile(Path("wp.key")), false)
                ->find("wrapped with a passphrase: no"),
            std::string::npos);

  // In memory too.
  LockOptions o = Options(21);
  o.passphrase = pass;
  absl::StatusOr<LockedBytes> lb =
      LockBytes(*ReadFile(Model()), LoadDataset(Data())->inputs,
                LoadDataset(Data())->y.ToInt64Vector(), o);
  ASSERT_TRUE(lb.ok()) << lb.status();
  EXPECT_EQ(lb->locked_model, locked);
  EXPECT_TRUE(IsWrappedKey(lb->key));
  EXPECT_EQ(lb->summary.key_bytes, lb->key);
  EXPECT_EQ(*UnwrapKey(lb->key, pass), *ReadFile(Path("wp.key")));
}

TEST_F(LockUnlockTest, WrappedKeyWithoutTheRightPassphraseWritesNothing) {
  const std::string pass = "open sesame";
  Lock("n", 22, pass);
  const std::string out = Path("n.unlocked.onnx");
  // No passphrase: says the key is protected and how to give one.
  absl::Status s = UnlockFile(Path("n.onnx"), Path("n.key"), out);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_NE(s.message().find(Path("n.key")), std::string::npos) << s;
  EXPECT_NE(s.message().find("protected by a passphrase"), std::string::npos);
  EXPECT_FALSE(fs::exists(out));
  // A wrong one: names the key file.
  s = UnlockFile(Path("n.onnx"), Path("n.key"), out, std::string("open sesam"));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_NE(s.message().find(Path("n.key") +
                             ": wrong passphrase, or the key file was changed"),
            std::string::npos)
      << s;
  EXPECT_FALSE(fs::exists(out));
  s = VerifyFiles(Model(), Path("n.onnx"), Path("n.key"), std::string("x"));
  EXPECT_NE(s.message().find(Path("n.key")), std::string::npos) << s;
  EXPECT_FALSE(VerifyFiles(Model(), Path("n.onnx"), Path("n.key")).ok());
  EXPECT_FALSE(DescribeKey(*ReadFile(Path("n.key")), false).ok());
  // Truncated or changed on disk: refused, nothing written.
  const std::string key = *ReadFile(Path("n.key"));
  for (size_t n : {size_t{0}, size_t{10}, key.size() / 2, key.size() - 17,
                   key.size() - 1}) {
    ASSERT_TRUE(WriteFileAtomically(Path("bad.key"), key.substr(0, n)).ok());
    s = UnlockFile(Path("n.onnx"), Path("bad.key"), out, pass);
    EXPECT_FALSE(s.ok()) << "truncated to " << n;
    EXPECT_NE(s.message().find("bad.key"), std::string::npos) << s;
    EXPECT_FALSE(fs::exists(out));
  }
  std::string changed = key;
  changed[key.size() - 20] ^= 0x01;  // inside the ciphertext
  ASSERT_TRUE(WriteFileAtomically(Path("bad.key"), changed).ok());
  s = UnlockFile(Path("n.onnx"), Path("bad.key"), out, pass);
  EXPECT_NE(s.message().find("wrong passphrase, or the key file was changed"),
            std::string::npos)
      << s;
  EXPECT_FALSE(fs::exists(out));
  // An empty passphrase is refused before locking; nothing is written.
  LockOptions o = Options(0);
  o.passphrase = "";
  s = LockFile(Model(), Data(), Path("e.onnx"), Path("e.key"), o).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_FALSE(fs::exists(Path("e.onnx")));
  EXPECT_FALSE(fs::exists(Path("e.key")));
}

// Plain keys keep working as before, with or without a passphrase configured.
TEST_F(LockUnlockTest, PlainKeysIgnoreAPassphrase) {
  Lock("q", 23);
  ASSERT_TRUE(UnlockFile(Path("q.onnx"), Path("q.key"), Path("q.unlocked.onnx"),
                         std::string("unused"))
                  .ok());
  EXPECT_EQ(*ReadFile(Path("q.unlocked.onnx")), *ReadFile(Model()));
  EXPECT_TRUE(
      VerifyFiles(Model(), Path("q.onnx"), Path("q.key"), std::string("u"))
          .ok());
}

TEST_F(LockUnlockTest, KeyFilesAreOwnerOnly) {
  Lock("perm", 24);
  Lock("permw", 24, std::string("pw"));
  EXPECT_EQ(Mode(Path("perm.key")), 0600);
  EXPECT_EQ(Mode(Path("permw.key")), 0600);
  // Overwriting a world-readable key file leaves an owner-only one.
  ASSERT_EQ(chmod(Path("perm.key").c_str(), 0644), 0);
  Lock("perm", 24);
  EXPECT_EQ(Mode(Path("perm.key")), 0600);
  // The locked model is an ordinary file.
  EXPECT_NE(Mode(Path("perm.onnx")) & 0044, 0);
}

TEST_F(LockUnlockTest, PseudoLabelsWhenTheDataHasNoLabels) {
  absl::StatusOr<NpzArrays> arrays = LoadNpz(Data());
  ASSERT_TRUE(arrays.ok());
  arrays->erase("y");
  ASSERT_TRUE(SaveNpz(Path("nolabels.npz"), *arrays).ok());
  absl::StatusOr<LockSummary> s = LockFile(
      Model(), Path("nolabels.npz"), Path("p.onnx"), Path("p.key"), Options(0));
  ASSERT_TRUE(s.ok()) << s.status();
  // Pseudo-labels are the model's own predictions: 100 % accuracy before
  // locking.
  EXPECT_EQ(s->result.sample_accuracy_before, 1.0);
  absl::StatusOr<std::string> text =
      DescribeKey(*ReadFile(Path("p.key")), true);
  ASSERT_TRUE(text.ok());
  EXPECT_NE(text->find("pseudo labels"), std::string::npos) << *text;
  EXPECT_NE(text->find("locked values: 4 of 61470"), std::string::npos)
      << *text;
}

}  // namespace
}  // namespace onnx_crypt
