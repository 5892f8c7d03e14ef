// Passphrase-wrapped keys: known answers of the KDF and AEAD underneath, the
// round trip, and every way a wrapped key or its passphrase can be wrong
// (wrong passphrase, each header field tampered with, every byte flipped,
// every truncation, hostile scrypt parameters refused before any work), plus
// passphrase files. Most cases use cheap scrypt parameters (N = 2^10) so that
// hundreds of unwraps stay fast; one test measures the defaults.
#include "onnx_crypt/key/key_wrap.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"
#include "onnx_crypt/key/key.h"

namespace onnx_crypt {
namespace {

namespace fs = std::filesystem;

constexpr ScryptParams kCheap = {uint64_t{1} << 10, 8, 1};
constexpr char kPassphrase[] = "correct horse battery staple";

std::string Hex(absl::string_view hex) { return absl::HexStringToBytes(hex); }

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since)
      .count();
}

// A small but complete key, as EncodeKey writes it.
std::string PlainKey() {
  keyfile::LockKey key;
  key.set_tool_version("onnx-crypt test");
  key.set_seed(7);
  keyfile::TensorFingerprint* fp = key.add_tensors();
  fp->set_name("w");
  fp->set_data_type(1);  // float32
  fp->add_dims(4);
  fp->set_sha256_original(std::string(32, 'a'));
  fp->set_sha256_locked(std::string(32, 'b'));
  keyfile::LockedValue* v = key.add_values();
  v->set_tensor("w");
  v->set_index(2);
  v->set_original(std::string("\x00\x00\x80\x3f", 4));
  v->set_locked(std::string("\x00\x00\x00\x40", 4));
  v->set_round(1);
  key.set_model_sha256_original(std::string(32, 'c'));
  key.set_model_sha256_locked(std::string(32, 'd'));
  return EncodeKey(key);
}

keyfile::WrappedKey Parse(const std::string& wrapped) {
  keyfile::WrappedKey w;
  EXPECT_TRUE(w.ParseFromString(wrapped));
  return w;
}

bool IsWrongPassphrase(const absl::Status& s) {
  return s.code() == absl::StatusCode::kInvalidArgument &&
         s.message().find("wrong passphrase, or the key file was changed") !=
             std::string::npos;
}

// RFC 7914, section 12: the first three test vectors (the fourth needs 1 GiB,
// beyond what a key may ask for).
TEST(KeyWrapTest, ScryptMatchesRfc7914) {
  struct Case {
    const char* passphrase;
    const char* salt;
    ScryptParams params;
    const char* hex;
  };
  const Case cases[] = {
      {"",
       "",
       {16, 1, 1},
       "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442"
       "fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906"},
      {"password",
       "NaCl",
       {1024, 8, 16},
       "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162"
       "2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640"},
      {"pleaseletmein",
       "SodiumChloride",
       {16384, 8, 1},
       "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2"
       "d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<std::string> out =
        ScryptDerive(c.passphrase, c.salt, c.params, 64);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(absl::BytesToHexString(*out), c.hex) << c.passphrase;
  }
}

// The GCM specification's test case 16 (McGrew and Viega): AES-256, a 12-byte
// IV, associated data.
TEST(KeyWrapTest, AesGcmMatchesTheGcmSpecificationTestCase16) {
  const std::string key =
      Hex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
  const std::string iv = Hex("cafebabefacedbaddecaf888");
  const std::string plaintext =
      Hex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
          "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39");
  const std::string aad = Hex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
  const std::string want =
      "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
      "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
      "76fc6ece0f4e1768cddf8853bb2d551b";  // ciphertext, then the tag
  absl::StatusOr<std::string> sealed = AesGcmSeal(key, iv, aad, plaintext);
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  EXPECT_EQ(absl::BytesToHexString(*sealed), want);
  absl::StatusOr<std::string> opened = AesGcmOpen(key, iv, aad, *sealed);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, plaintext);
  // One bit anywhere (ciphertext, tag, associated data) fails the tag.
  std::string bad = *sealed;
  bad[3] ^= 1;
  EXPECT_FALSE(AesGcmOpen(key, iv, aad, bad).ok());
  bad = *sealed;
  bad.back() ^= 1;
  EXPECT_FALSE(AesGcmOpen(key, iv, aad, bad).ok());
  std::string other_aad = aad;
  other_aad[0] ^= 1;
  EXPECT_FALSE(AesGcmOpen(key, iv, other_aad, *sealed).ok());
  EXPECT_FALSE(AesGcmSeal(key.substr(1), iv, aad, plaintext).ok());
  EXPECT_FALSE(AesGcmSeal(key, iv + "x", aad, plaintext).ok());
}

// A wrapped key written by the first version of the envelope (PlainKey() with
// kPassphrase, N = 2^10, r = 8, p = 1): it must stay readable.
constexpr char kStoredWrappedKeyHex[] =
    "0a166f6e6e782d63727970742d777261707065642d6b657910011a0673637279"
    "7074208008280830013a10b3f0d81bef079d7e1ab9cda332a3e78c420b616573"
    "2d3235362d67636d4a0c9e29c5d6d1830640ddef024f52f101af4d8eda94e02c"
    "f6290969dd352c1fd1f9eb75aaa8faabf0e8dc266f7cb2c07d605a4e215f590d"
    "8fec175e514ef4aacfae463c77c4ed0df0e801c82b025ac3cfad3d21f838be04"
    "0d6e8d8042fab0c5db5c831e23e35c78d0a3f35e15709f31c2e4199be7933d91"
    "1ce8d84fb0ba2641e255ffdcf177bd3014b7f754254f8130976f02e36da5bd8c"
    "a6fe4fb1bc9d27ac194b821f696134c6a2434c2dc77cf405d609ed125763cd59"
    "d1163701255476a4a5233c934896fb3738a195c01edb85c13ebc9669119d68fa"
    "146ea2e2ab2ff777c700dec2bd3e9c0ac9e3d58c35000dd7a01f63af9ad70b0e"
    "d916f011b2cfea7649185a10291056610fb437a4f5031e5316334691";

TEST(KeyWrapTest, AWrappedKeyFromVersionOneStaysReadable) {
  const std::string stored = Hex(kStoredWrappedKeyHex);
  ASSERT_TRUE(IsWrappedKey(stored));
  absl::StatusOr<std::string> plain = UnwrapKey(stored, kPassphrase);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(*plain, PlainKey());
}

// The associated data is the header encoding key_format.md states: built here
// from the spec, the tag opens with it and not without it.
TEST(KeyWrapTest, AssociatedDataIsTheDocumentedHeaderEncoding) {
  const keyfile::WrappedKey w = Parse(Hex(kStoredWrappedKeyHex));
  auto u32 = [](uint32_t v) {
    std::string b;
    for (int i = 0; i < 4; ++i) b.push_back(static_cast<char>(v >> (8 * i)));
    return b;
  };
  auto u64 = [](uint64_t v) {
    std::string b;
    for (int i = 0; i < 8; ++i) b.push_back(static_cast<char>(v >> (8 * i)));
    return b;
  };
  auto field = [&](const std::string& s) {
    return u32(static_cast<uint32_t>(s.size())) + s;
  };
  const std::string aad = field("onnx-crypt-wrapped-key") + u32(1) +
                          field("scrypt") + u64(1024) + u32(8) + u32(1) +
                          field(w.salt()) + field("aes-256-gcm") +
                          field(w.nonce());
  const std::string aes_key =
      *ScryptDerive(kPassphrase, w.salt(), {1024, 8, 1}, 32);
  const std::string sealed = w.ciphertext() + w.tag();
  absl::StatusOr<std::string> plain =
      AesGcmOpen(aes_key, w.nonce(), aad, sealed);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(*plain, PlainKey());
  EXPECT_FALSE(AesGcmOpen(aes_key, w.nonce(), "", sealed).ok());
}

TEST(KeyWrapTest, RoundTripRestoresTheKeyBytesExactly) {
  const std::string plain = PlainKey();
  absl::StatusOr<std::string> wrapped = WrapKey(plain, kPassphrase, kCheap);
  ASSERT_TRUE(wrapped.ok()) << wrapped.status();
  EXPECT_TRUE(IsWrappedKey(*wrapped));
  EXPECT_FALSE(IsWrappedKey(plain));
  absl::StatusOr<std::string> unwrapped = UnwrapKey(*wrapped, kPassphrase);
  ASSERT_TRUE(unwrapped.ok()) << unwrapped.status();
  EXPECT_EQ(*unwrapped, plain);
  absl::StatusOr<keyfile::LockKey> opened = OpenKey(*wrapped, kPassphrase);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(opened->seed(), 7u);

  const keyfile::WrappedKey w = Parse(*wrapped);
  EXPECT_EQ(w.magic(), kWrappedKeyMagic);
  EXPECT_EQ(w.format_version(), kWrappedKeyFormatVersion);
  EXPECT_EQ(w.kdf(), "scrypt");
  EXPECT_EQ(w.cipher(), "aes-256-gcm");
  EXPECT_EQ(w.scrypt_n(), kCheap.n);
  EXPECT_EQ(w.salt().size(), 16u);
  EXPECT_EQ(w.nonce().size(), 12u);
  EXPECT_EQ(w.tag().size(), 16u);
  EXPECT_EQ(w.ciphertext().size(), plain.size());
  EXPECT_EQ(w.ciphertext().find("onnx-crypt-key"), std::string::npos);
  EXPECT_EQ(wrapped->find(plain.substr(plain.size() / 2)), std::string::npos);

  // Not deterministic: a new salt and nonce each time, the same key inside.
  absl::StatusOr<std::string> again = WrapKey(plain, kPassphrase, kCheap);
  ASSERT_TRUE(again.ok());
  EXPECT_NE(*again, *wrapped);
  EXPECT_NE(Parse(*again).salt(), w.salt());
  EXPECT_NE(Parse(*again).nonce(), w.nonce());
  EXPECT_EQ(*UnwrapKey(*again, kPassphrase), plain);

  absl::StatusOr<keyfile::WrappedKey> header = ReadWrappedKeyHeader(*wrapped);
  ASSERT_TRUE(header.ok()) << header.status();
  EXPECT_EQ(header->scrypt_r(), 8u);
  EXPECT_TRUE(header->ciphertext().empty());
}

// The defaults, as `lock --passphrase-file` uses them: their cost, measured.
TEST(KeyWrapTest, DefaultParametersTakeAFractionOfASecond) {
  const std::string plain = PlainKey();
  auto t0 = std::chrono::steady_clock::now();
  absl::StatusOr<std::string> wrapped = WrapKey(plain, kPassphrase);
  const double wrap_s = Seconds(t0);
  ASSERT_TRUE(wrapped.ok()) << wrapped.status();
  t0 = std::chrono::steady_clock::now();
  absl::StatusOr<std::string> unwrapped = UnwrapKey(*wrapped, kPassphrase);
  const double unwrap_s = Seconds(t0);
  ASSERT_TRUE(unwrapped.ok()) << unwrapped.status();
  EXPECT_EQ(*unwrapped, plain);
  const keyfile::WrappedKey w = Parse(*wrapped);
  EXPECT_EQ(w.scrypt_n(), uint64_t{1} << 16);
  EXPECT_EQ(w.scrypt_r(), 8u);
  EXPECT_EQ(w.scrypt_p(), 1u);
  std::cout << "default scrypt (N=2^16, r=8, p=1): wrap " << wrap_s
            << " s, unwrap " << unwrap_s << " s\n";
  // Loose: a loaded, shared machine may be several times slower.
  EXPECT_LT(unwrap_s, 5.0);
}

TEST(KeyWrapTest, WrongOrEmptyPassphraseIsRefused) {
  const std::string wrapped = *WrapKey(PlainKey(), kPassphrase, kCheap);
  for (const std::string& wrong :
       {std::string("correct horse battery stapl"),
        std::string(kPassphrase) + "\n", std::string("x")}) {
    const absl::Status s = UnwrapKey(wrapped, wrong).status();
    EXPECT_TRUE(IsWrongPassphrase(s)) << s;
    EXPECT_TRUE(IsWrongPassphrase(OpenKey(wrapped, wrong).status()));
  }
  EXPECT_EQ(UnwrapKey(wrapped, "").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(WrapKey(PlainKey(), "", kCheap).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(WrapKey("", kPassphrase, kCheap).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(KeyWrapTest, MissingPassphraseSaysHowToGiveIt) {
  const std::string wrapped = *WrapKey(PlainKey(), kPassphrase, kCheap);
  const absl::Status s = OpenKey(wrapped, std::nullopt).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("protected by a passphrase"), std::string::npos)
      << s;
  EXPECT_NE(s.message().find("--passphrase-file"), std::string::npos) << s;
  EXPECT_NE(s.message().find("ONNX_CRYPT_PASSPHRASE_FILE"), std::string::npos);
  EXPECT_NE(s.message().find("passphrase="), std::string::npos);
}

TEST(KeyWrapTest, PlainKeysIgnoreAPassphrase) {
  const std::string plain = PlainKey();
  EXPECT_TRUE(OpenKey(plain, std::nullopt).ok());
  EXPECT_TRUE(OpenKey(plain, std::string("anything")).ok());
  EXPECT_EQ(*UnwrapKeyIfWrapped(plain, std::string("anything")), plain);
  absl::StatusOr<std::string> s =
      EncodeKeyWithPassphrase(*DecodeKey(plain), std::nullopt);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, plain);
}

// Each header field, the ciphertext and the tag, changed on its own: the tag
// no longer matches (the header is associated data), or the field itself is
// refused before the KDF runs.
TEST(KeyWrapTest, EachTamperedFieldFails) {
  const std::string wrapped = *WrapKey(PlainKey(), kPassphrase, kCheap);
  struct Case {
    const char* what;
    std::function<void(keyfile::WrappedKey&)> change;
    bool tag_fails;  // else refused by the field's own check
  };
  auto flip = [](std::string* s, size_t i) { (*s)[i] ^= 0x01; };
  const std::vector<Case> cases = {
      {"salt", [&](auto& w) { flip(w.mutable_salt(), 5); }, true},
      {"nonce", [&](auto& w) { flip(w.mutable_nonce(), 0); }, true},
      {"ciphertext", [&](auto& w) { flip(w.mutable_ciphertext(), 9); }, true},
      {"ciphertext end",
       [&](auto& w) {
         flip(w.mutable_ciphertext(), w.ciphertext().size() - 1);
       },
       true},
      {"tag", [&](auto& w) { flip(w.mutable_tag(), 15); }, true},
      {"scrypt N", [](auto& w) { w.set_scrypt_n(w.scrypt_n() * 2); }, true},
      {"scrypt r", [](auto& w) { w.set_scrypt_r(w.scrypt_r() + 1); }, true},
      {"scrypt p", [](auto& w) { w.set_scrypt_p(2); }, true},
      {"salt size", [](auto& w) { w.mutable_salt()->pop_back(); }, false},
      {"nonce size", [](auto& w) { w.mutable_nonce()->append("x"); }, false},
      {"tag size", [](auto& w) { w.mutable_tag()->pop_back(); }, false},
      {"no ciphertext", [](auto& w) { w.clear_ciphertext(); }, false},
      {"version 2", [](auto& w) { w.set_format_version(2); }, false},
      {"version 0", [](auto& w) { w.set_format_version(0); }, false},
      {"kdf", [](auto& w) { w.set_kdf("argon2id"); }, false},
      {"cipher", [](auto& w) { w.set_cipher("aes-128-gcm"); }, false},
      {"magic", [](auto& w) { w.set_magic("onnx-crypt-wrapped-kez"); }, false},
  };
  for (const Case& c : cases) {
    keyfile::WrappedKey w = Parse(wrapped);
    c.change(w);
    const std::string bad = w.SerializeAsString();
    const absl::Status s = UnwrapKey(bad, kPassphrase).status();
    ASSERT_FALSE(s.ok()) << c.what;
    EXPECT_EQ(IsWrongPassphrase(s), c.tag_fails) << c.what << ": " << s;
    EXPECT_TRUE(s.code() == absl::StatusCode::kInvalidArgument ||
                s.code() == absl::StatusCode::kDataLoss)
        << c.what << ": " << s;
    EXPECT_FALSE(OpenKey(bad, std::string(kPassphrase)).ok()) << c.what;
  }
}

TEST(KeyWrapTest, EveryByteFlipAndEveryTruncationFails) {
  const std::string wrapped = *WrapKey(PlainKey(), kPassphrase, kCheap);
  const auto t0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < wrapped.size(); ++i) {
    std::string bad = wrapped;
    bad[i] ^= 0x5a;
    const absl::Status s = OpenKey(bad, std::string(kPassphrase)).status();
    ASSERT_FALSE(s.ok()) << "byte " << i;
    EXPECT_TRUE(s.code() == absl::StatusCode::kInvalidArgument ||
                s.code() == absl::StatusCode::kDataLoss)
        << "byte " << i << ": " << s;
  }
  for (size_t n = 0; n < wrapped.size(); ++n) {
    const absl::Status s =
        OpenKey(wrapped.substr(0, n), std::string(kPassphrase)).status();
    ASSERT_FALSE(s.ok()) << "truncated to " << n;
    EXPECT_TRUE(s.code() == absl::StatusCode::kInvalidArgument ||
                s.code() == absl::StatusCode::kDataLoss)
        << "truncated to " << n << ": " << s;
  }
  EXPECT_FALSE(OpenKey(wrapped + "x", std::string(kPassphrase)).ok());
  std::cout << 2 * wrapped.size() << " damaged keys refused in " << Seconds(t0)
            << " s\n";
}

// A wrapped key asking for absurd scrypt parameters is refused before the KDF
// runs: no gigabytes allocated, no minutes spent.
TEST(KeyWrapTest, HostileScryptParametersAreRefusedAtOnce) {
  const std::string wrapped = *WrapKey(PlainKey(), kPassphrase, kCheap);
  const struct {
    uint64_t n;
    uint32_t r, p;
  } cases[] = {
      {uint64_t{1} << 40, 8, 1},         // 128 TiB
      {uint64_t{1} << 63, 1, 1},         // overflow bait
      {uint64_t{1} << 20, 32, 1},        // 4 GiB
      {uint64_t{1} << 19, 8, 1},         // 512 MiB
      {2, 1, 1u << 21},                  // 256 MiB of blocks, not of table
      {uint64_t{1} << 16, 8, 1u << 20},  // hours of work, little memory
      {uint64_t{1} << 16, 0xffffffffu, 1},
      {uint64_t{1} << 16, 8, 0xffffffffu},
      {3, 8, 1},  // not a power of two
      {0, 8, 1},
      {1, 8, 1},
      {1024, 0, 1},
      {1024, 8, 0},
  };
  for (const auto& c : cases) {
    keyfile::WrappedKey w = Parse(wrapped);
    w.set_scrypt_n(c.n);
    w.set_scrypt_r(c.r);
    w.set_scrypt_p(c.p);
    const auto t0 = std::chrono::steady_clock::now();
    const absl::Status s =
        UnwrapKey(w.SerializeAsString(), kPassphrase).status();
    const double seconds = Seconds(t0);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument)
        << c.n << " " << c.r << " " << c.p << ": " << s;
    EXPECT_NE(s.message().find("scrypt"), std::string::npos) << s;
    EXPECT_LT(seconds, 0.05) << s;
    EXPECT_FALSE(ReadWrappedKeyHeader(w.SerializeAsString()).ok());
    EXPECT_FALSE(WrapKey(PlainKey(), kPassphrase, {c.n, c.r, c.p}).ok());
  }
  // At the limits: N*r*p = 2^22 (128 MiB) passes, one more p does not; at
  // r = 8, N = 2^18 needs just over 256 MiB.
  EXPECT_TRUE(CheckScryptParams({uint64_t{1} << 17, 8, 4}).ok());
  EXPECT_FALSE(CheckScryptParams({uint64_t{1} << 17, 8, 5}).ok());
  EXPECT_TRUE(CheckScryptParams({uint64_t{1} << 18, 4, 1}).ok());
  EXPECT_FALSE(CheckScryptParams({uint64_t{1} << 18, 8, 1}).ok());
  // Many blocks with little table: p's memory counts too.
  EXPECT_FALSE(CheckScryptParams({2, 1, 1u << 21}).ok());
}

// What a build from before wrapped keys says of one: not a key, no crash.
TEST(KeyWrapTest, PlainKeyDecoderRefusesAWrappedKeyClearly) {
  const std::string wrapped = *WrapKey(PlainKey(), kPassphrase, kCheap);
  const absl::Status s = DecodeKey(wrapped).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_NE(s.message().find("onnx-crypt-wrapped-key"), std::string::npos) << s;
}

class PassphraseFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("oc_passphrase_" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& content) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }
  fs::path dir_;
};

TEST_F(PassphraseFileTest, WholeFileWithOneTrailingLineEndRemoved) {
  const std::pair<std::string, std::string> cases[] = {
      {"secret\n", "secret"},
      {"secret", "secret"},
      {"secret\r\n", "secret"},
      {"secret\n\n", "secret\n"},
      {"two\nlines\n", "two\nlines"},
      {" spaced \n", " spaced "},
      {std::string("nul\0byte", 8), std::string("nul\0byte", 8)},
  };
  for (const auto& [content, want] : cases) {
    absl::StatusOr<std::string> p = ReadPassphraseFile(Write("p", content));
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ(*p, want);
  }
  // Through a symbolic link to a regular file.
  fs::create_symlink(dir_ / "p", dir_ / "link");
  EXPECT_TRUE(ReadPassphraseFile((dir_ / "link").string()).ok());
}

TEST_F(PassphraseFileTest, EmptyMissingAndIrregularFilesAreRefused) {
  for (const char* content : {"", "\n", "\r\n"}) {
    const absl::Status s = ReadPassphraseFile(Write("e", content)).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    EXPECT_NE(s.message().find("empty"), std::string::npos) << s;
  }
  EXPECT_EQ(ReadPassphraseFile((dir_ / "none").string()).status().code(),
            absl::StatusCode::kNotFound);
  const absl::Status dir = ReadPassphraseFile(dir_.string()).status();
  EXPECT_EQ(dir.code(), absl::StatusCode::kInvalidArgument) << dir;
  EXPECT_NE(dir.message().find("regular file"), std::string::npos) << dir;
  const std::string fifo = (dir_ / "fifo").string();
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  // Would block forever if it were read.
  EXPECT_EQ(ReadPassphraseFile(fifo).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadPassphraseFile("/dev/null").status().code(),
            absl::StatusCode::kInvalidArgument);
  const absl::Status big =
      ReadPassphraseFile(Write("big", std::string(65537, 'x'))).status();
  EXPECT_EQ(big.code(), absl::StatusCode::kInvalidArgument) << big;
}

}  // namespace
}  // namespace onnx_crypt
