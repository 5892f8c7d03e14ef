// Tests of the .npy/.npz reader and writer.
//
// The fixtures in tests/data/fixtures/ were written by numpy 1.24 with:
//   cd tests/data/fixtures && .venv/bin/python -c "
//   import numpy as np
//   a = dict(x=(np.arange(6, dtype='<f4').reshape(2, 3) / 4), y=np.array([3,
//   1], dtype='<i8'),
//            d=np.array([1.5, -2.25]), i=np.array([-1, 7, 100000],
//            dtype='<i4'), u=np.array([0, 255, 7], dtype='u1'),
//            b=np.array([True, False, True]), s=np.float32(2.5))
//   np.savez('savez.npz', **a)
//   np.savez_compressed('savez_compressed.npz', **a)
//   np.savez('fortran.npz', f=np.asfortranarray(np.arange(6,
//   dtype='<f4').reshape(2, 3))) np.savez('bigendian.npz', be=np.arange(3,
//   dtype='>f4')) for v in [(2, 0), (3, 0)]:
//       with open('v%d.npy' % v[0], 'wb') as f:
//           np.lib.format.write_array(f, np.arange(4, dtype='<i8').reshape(2,
//           2), version=v)
//   "
#include "onnx_crypt/data/npz.h"

#include <stdlib.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "onnx_crypt/base/file.h"

namespace onnx_crypt {
namespace {

std::string Fixture(const std::string& name) {
  return std::string(OC_SOURCE_DIR) + "/tests/data/fixtures/" + name;
}

std::string MakeTempDir() {
  std::string pattern = ::testing::TempDir() + "/npz_test.XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  char* dir = ::mkdtemp(buf.data());
  EXPECT_NE(dir, nullptr);
  return dir ? std::string(dir) : std::string();
}

std::string ReadOrDie(const std::string& path) {
  absl::StatusOr<std::string> bytes = ReadFile(path);
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  return bytes.ok() ? *bytes : std::string();
}

template <typename T>
std::vector<T> Values(const Tensor& t) {
  return std::vector<T>(t.data<T>(), t.data<T>() + t.numel());
}

void ExpectFixtureArrays(const NpzArrays& arrays) {
  ASSERT_EQ(arrays.size(), 7u);
  const Tensor& x = arrays.at("x");
  EXPECT_EQ(x.dtype(), DType::kFloat32);
  EXPECT_EQ(x.shape(), (Shape{2, 3}));
  EXPECT_EQ(Values<float>(x),
            (std::vector<float>{0, 0.25f, 0.5f, 0.75f, 1, 1.25f}));
  const Tensor& y = arrays.at("y");
  EXPECT_EQ(y.dtype(), DType::kInt64);
  EXPECT_EQ(Values<int64_t>(y), (std::vector<int64_t>{3, 1}));
  const Tensor& d = arrays.at("d");
  EXPECT_EQ(d.dtype(), DType::kFloat64);
  EXPECT_EQ(Values<double>(d), (std::vector<double>{1.5, -2.25}));
  const Tensor& i = arrays.at("i");
  EXPECT_EQ(i.dtype(), DType::kInt32);
  EXPECT_EQ(Values<int32_t>(i), (std::vector<int32_t>{-1, 7, 100000}));
  const Tensor& u = arrays.at("u");
  EXPECT_EQ(u.dtype(), DType::kUint8);
  EXPECT_EQ(Values<uint8_t>(u), (std::vector<uint8_t>{0, 255, 7}));
  const Tensor& b = arrays.at("b");
  EXPECT_EQ(b.dtype(), DType::kBool);
  EXPECT_EQ(Values<uint8_t>(b), (std::vector<uint8_t>{1, 0, 1}));
  const Tensor& s = arrays.at("s");
  EXPECT_EQ(s.dtype(), DType::kFloat32);
  EXPECT_EQ(s.shape(), Shape{});
  EXPECT_EQ(s.data<float>()[0], 2.5f);
}

TEST(NpzTest, ReadsNumpySavez) {
  absl::StatusOr<NpzArrays> arrays = LoadNpz(Fixture("savez.npz"));
  ASSERT_TRUE(arrays.ok()) << arrays.status();
  ExpectFixtureArrays(*arrays);
}

TEST(NpzTest, ReadsNumpySavezCompressed) {
  absl::StatusOr<NpzArrays> arrays = LoadNpz(Fixture("savez_compressed.npz"));
  ASSERT_TRUE(arrays.ok()) << arrays.status();
  ExpectFixtureArrays(*arrays);
}

TEST(NpzTest, ReadsNpyVersions2And3) {
  for (const char* name : {"v2.npy", "v3.npy"}) {
    absl::StatusOr<Tensor> t = ParseNpy(ReadOrDie(Fixture(name)), name);
    ASSERT_TRUE(t.ok()) << name << ": " << t.status();
    EXPECT_EQ(t->dtype(), DType::kInt64);
    EXPECT_EQ(t->shape(), (Shape{2, 2}));
    EXPECT_EQ(Values<int64_t>(*t), (std::vector<int64_t>{0, 1, 2, 3}));
  }
}

TEST(NpzTest, RejectsFortranOrderNamingTheArray) {
  absl::StatusOr<NpzArrays> arrays = LoadNpz(Fixture("fortran.npz"));
  ASSERT_FALSE(arrays.ok());
  EXPECT_EQ(arrays.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(arrays.status().message().find("fortran.npz"), std::string::npos);
  EXPECT_NE(arrays.status().message().find("array 'f'"), std::string::npos);
  EXPECT_NE(arrays.status().message().find("Fortran"), std::string::npos);
}

TEST(NpzTest, RejectsBigEndianNamingTheArray) {
  absl::StatusOr<NpzArrays> arrays = LoadNpz(Fixture("bigendian.npz"));
  ASSERT_FALSE(arrays.ok());
  EXPECT_NE(arrays.status().message().find("array 'be'"), std::string::npos);
  EXPECT_NE(arrays.status().message().find(">f4"), std::string::npos);
}

TEST(NpzTest, MissingFileIsNotFound) {
  absl::StatusOr<NpzArrays> arrays = LoadNpz(Fixture("does_not_exist.npz"));
  ASSERT_FALSE(arrays.ok());
  EXPECT_EQ(arrays.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(arrays.status().message().find("does_not_exist.npz"),
            std::string::npos);
}

// Our .npy serialization must match numpy's byte for byte: numpy's stored
// entries are inside the uncompressed fixture verbatim.
TEST(NpzTest, SerializeNpyMatchesNumpyBytes) {
  const std::string zip = ReadOrDie(Fixture("savez.npz"));
  absl::StatusOr<NpzArrays> arrays = LoadNpz(Fixture("savez.npz"));
  ASSERT_TRUE(arrays.ok()) << arrays.status();
  for (const auto& [name, tensor] : *arrays) {
    absl::StatusOr<std::string> npy = SerializeNpy(tensor);
    ASSERT_TRUE(npy.ok()) << name << ": " << npy.status();
    EXPECT_NE(zip.find(*npy), std::string::npos) << "array " << name;
  }
}

TEST(NpzTest, SaveNpzRoundTrip) {
  const std::string dir = MakeTempDir();
  NpzArrays arrays;
  arrays["weights"] =
      Tensor::FromVector<float>({2, 2}, {1.f, -2.f, 3.5f, 1e-8f});
  arrays["labels"] = Tensor::FromVector<int64_t>({3}, {9, 0, -4});
  arrays["empty"] = Tensor(DType::kFloat64, {0, 5});
  Tensor flags(DType::kBool, {2});
  flags.mutable_raw()[0] = 1;
  arrays["flags"] = flags;
  arrays["scalar"] = Tensor::Scalar<int32_t>(-7);
  const std::string path = dir + "/out.npz";
  ASSERT_TRUE(SaveNpz(path, arrays).ok());
  absl::StatusOr<NpzArrays> back = LoadNpz(path);
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->size(), arrays.size());
  for (const auto& [name, tensor] : arrays) {
    const Tensor& got = back->at(name);
    EXPECT_EQ(got.dtype(), tensor.dtype()) << name;
    EXPECT_EQ(got.shape(), tensor.shape()) << name;
    ASSERT_EQ(got.nbytes(), tensor.nbytes()) << name;
    // An empty tensor's raw() may be null, which memcmp must not get.
    if (got.nbytes() > 0) {
      EXPECT_EQ(0, std::memcmp(got.raw(), tensor.raw(), got.nbytes())) << name;
    }
  }
  // A dtype .npy cannot hold here is refused, naming the array.
  NpzArrays bad;
  bad["h"] = Tensor(DType::kFloat16, {2});
  absl::Status status = SaveNpz(dir + "/bad.npz", bad);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("array 'h'"), std::string::npos);
}

// Every truncation of a valid file is an error (the end record is gone or
// points past the end), and no corruption crashes.
TEST(NpzTest, TruncatedAndCorruptFilesGiveErrors) {
  for (const char* name : {"savez.npz", "savez_compressed.npz"}) {
    const std::string zip = ReadOrDie(Fixture(name));
    for (size_t len = 0; len < zip.size(); ++len) {
      EXPECT_FALSE(ParseNpz(absl::string_view(zip).substr(0, len), name).ok())
          << name << " truncated to " << len;
    }
    int failures = 0;
    for (size_t pos = 0; pos < zip.size(); ++pos) {
      std::string flipped = zip;
      flipped[pos] ^= 0x5a;
      failures += !ParseNpz(flipped, name).ok();
    }
    // Flips in names, padding or ignored header fields may still parse; most
    // must not.
    EXPECT_GT(failures, static_cast<int>(zip.size() / 2)) << name;
  }
}

TEST(NpzTest, CorruptStoredDataIsDataLoss) {
  std::string zip = ReadOrDie(Fixture("savez.npz"));
  absl::StatusOr<NpzArrays> arrays = LoadNpz(Fixture("savez.npz"));
  ASSERT_TRUE(arrays.ok());
  absl::StatusOr<std::string> x_npy = SerializeNpy(arrays->at("x"));
  ASSERT_TRUE(x_npy.ok());
  size_t at = zip.find(*x_npy);
  ASSERT_NE(at, std::string::npos);
  zip[at + x_npy->size() - 1] ^= 1;  // last byte of x's data
  absl::StatusOr<NpzArrays> parsed = ParseNpz(zip, "savez.npz");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(parsed.status().message().find("x.npy"), std::string::npos);
}

TEST(NpzTest, ParseNpyRejectsBadHeaders) {
  absl::StatusOr<std::string> good =
      SerializeNpy(Tensor::FromVector<float>({2}, {1, 2}));
  ASSERT_TRUE(good.ok());
  ASSERT_TRUE(ParseNpy(*good, "a").ok());
  EXPECT_FALSE(
      ParseNpy(good->substr(0, good->size() - 1), "a").ok());  // short data
  EXPECT_FALSE(ParseNpy(*good + "x", "a").ok());               // extra data
  std::string bad_magic = *good;
  bad_magic[1] = 'X';
  EXPECT_FALSE(ParseNpy(bad_magic, "a").ok());
  std::string object = *good;
  object.replace(object.find("<f4"), 3, "|O8");
  absl::StatusOr<Tensor> t = ParseNpy(object, "file.npz: array 'a'");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("file.npz: array 'a'"),
            std::string::npos);
  std::string bad_shape = *good;
  bad_shape.replace(bad_shape.find("(2,)"), 4, "(2,x");
  EXPECT_FALSE(ParseNpy(bad_shape, "a").ok());
}

TEST(NpzTest, LoadDatasetFromNumpyFile) {
  absl::StatusOr<Dataset> ds = LoadDataset(Fixture("savez.npz"));
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_EQ(ds->inputs.at("x").shape(), (Shape{2, 3}));
  EXPECT_EQ(ds->y.dtype(), DType::kInt64);
  EXPECT_EQ(Values<int64_t>(ds->y), (std::vector<int64_t>{3, 1}));
}

TEST(NpzTest, LoadDatasetChecksArrays) {
  const std::string dir = MakeTempDir();
  const Tensor x = Tensor::FromVector<float>({3, 2}, {1, 2, 3, 4, 5, 6});
  auto load = [&](const NpzArrays& arrays) {
    const std::string path = dir + "/ds.npz";
    EXPECT_TRUE(SaveNpz(path, arrays).ok());
    return LoadDataset(path);
  };
  // y widened from uint8 and int32.
  absl::StatusOr<Dataset> ds =
      load({{"x", x}, {"y", Tensor::FromVector<uint8_t>({3}, {7, 8, 9})}});
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_EQ(ds->y.dtype(), DType::kInt64);
  EXPECT_EQ(Values<int64_t>(ds->y), (std::vector<int64_t>{7, 8, 9}));
  ds = load({{"x", x}, {"y", Tensor::FromVector<int32_t>({3}, {-1, 0, 5})}});
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_EQ(Values<int64_t>(ds->y), (std::vector<int64_t>{-1, 0, 5}));
  // No y: undefined labels.
  ds = load({{"x", x}});
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_FALSE(ds->y.defined());
  EXPECT_EQ(Values<float>(ds->inputs.at("x")),
            (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(ds->inputs.size(), 1u);  // y is not an input
  // Errors name the array.
  struct Bad {
    NpzArrays arrays;
    const char* needle;
  };
  // (What the arrays must be for a model, their dtypes, shapes and row
  // counts, is BindSamples's to check: tests/engine/samples_test.cc.)
  const std::vector<Bad> bad = {
      {{{"y", Tensor::FromVector<int64_t>({3}, {1, 2, 3})}}, "no array 'x'"},
      {{{"x", x}, {"y", Tensor::FromVector<int64_t>({3, 1}, {1, 2, 3})}},
       "array 'y'"},
      {{{"x", x}, {"y", Tensor::FromVector<float>({3}, {1, 2, 3})}},
       "array 'y'"},
  };
  for (const Bad& b : bad) {
    ds = load(b.arrays);
    ASSERT_FALSE(ds.ok()) << b.needle;
    EXPECT_EQ(ds.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(ds.status().message().find(b.needle), std::string::npos)
        << ds.status();
    EXPECT_NE(ds.status().message().find("ds.npz"), std::string::npos)
        << ds.status();
  }
}

}  // namespace
}  // namespace onnx_crypt
