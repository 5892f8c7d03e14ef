// The input-safety layer and the all-or-nothing writer (base/file.h), and the
// memory budget (base/memory_budget.h): what may be read, what is refused
// before anything is allocated, and that a failed set of outputs leaves
// nothing behind.
#include "onnx_crypt/base/file.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "onnx_crypt/base/memory_budget.h"

namespace onnx_crypt {
namespace {

namespace fs = std::filesystem;

class FileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "/file_test.XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
    ASSERT_TRUE(SetMemoryBudgetBytes(kDefaultMemoryBudgetBytes).ok());
  }
  std::string Path(const std::string& name) const {
    return (fs::path(dir_) / name).string();
  }
  void Write(const std::string& name, const std::string& bytes) {
    fs::create_directories(fs::path(Path(name)).parent_path());
    std::ofstream(Path(name), std::ios::binary) << bytes;
  }
  // Every entry of the folder, recursively, as relative names.
  std::vector<std::string> Entries() const {
    std::vector<std::string> names;
    for (const auto& e : fs::recursive_directory_iterator(dir_)) {
      names.push_back(fs::relative(e.path(), dir_).string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }
  std::string dir_;
};

TEST_F(FileTest, ReadsRegularFilesAndSymlinksToThem) {
  Write("a.bin", std::string("abc\0def", 7));
  fs::create_symlink(Path("a.bin"), Path("link"));
  EXPECT_EQ(*ReadFile(Path("a.bin")), std::string("abc\0def", 7));
  EXPECT_EQ(*ReadFile(Path("link")), std::string("abc\0def", 7));
  Write("empty", "");
  EXPECT_EQ(*ReadFile(Path("empty")), "");
}

TEST_F(FileTest, RefusesEverythingButRegularFilesAtOnce) {
  ASSERT_EQ(::mkfifo(Path("fifo").c_str(), 0600), 0);
  fs::create_symlink("/dev/zero", Path("zero"));
  fs::create_directories(Path("folder"));
  // A socket file (bound, so it exists on disk).
  const int sock = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(sock, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string sock_path = Path("sock");
  ASSERT_LT(sock_path.size(), sizeof(addr.sun_path));
  std::strcpy(addr.sun_path, sock_path.c_str());
  ASSERT_EQ(::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  struct Case {
    const char* name;
    const char* says;
  };
  for (const Case& c : {Case{"fifo", "FIFO"}, Case{"zero", "character device"},
                        Case{"folder", "folder"}, Case{"sock", "regular"}}) {
    SCOPED_TRACE(c.name);
    // The FIFO has no writer: a blocking open would hang the test here.
    absl::StatusOr<std::string> r = ReadFile(Path(c.name));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument)
        << r.status();
    EXPECT_NE(r.status().message().find(Path(c.name)), std::string::npos)
        << r.status();
    EXPECT_NE(r.status().message().find(c.says), std::string::npos)
        << r.status();
  }
  ::close(sock);
  absl::StatusOr<std::string> missing = ReadFile(Path("missing"));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find(Path("missing")),
            std::string::npos);
}

TEST_F(FileTest, FilesOverTheMemoryBudgetAreRefusedBeforeTheRead) {
  Write("big", std::string(4096, 'x'));
  ASSERT_TRUE(SetMemoryBudgetBytes(4095).ok());
  absl::StatusOr<std::string> r = ReadFile(Path("big"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(r.status().message().find("--max-memory"), std::string::npos)
      << r.status();
  ASSERT_TRUE(SetMemoryBudgetBytes(4096).ok());
  EXPECT_EQ(ReadFile(Path("big"))->size(), 4096u);
}

TEST_F(FileTest, ResolveInsideFolderFollowsLinksButNotOutOfTheFolder) {
  Write("model/w.bin", "w");
  Write("model/sub/v.bin", "v");
  Write("secret", "s");
  fs::create_symlink(Path("model/sub"), Path("model/inside"));
  fs::create_symlink(Path("secret"), Path("model/leak"));
  fs::create_symlink(dir_, Path("model/up"));
  const std::string m = Path("model");
  EXPECT_EQ(*ResolveInsideFolder(m, "w.bin"),
            fs::canonical(Path("model/w.bin")));
  EXPECT_EQ(*ResolveInsideFolder(m, "inside/v.bin"),
            fs::canonical(Path("model/sub/v.bin")));
  for (const char* bad : {"leak", "up/secret", "../secret", "sub/../../secret",
                          ".", "sub/..", "/etc/passwd", ""}) {
    SCOPED_TRACE(bad);
    absl::StatusOr<std::string> r = ResolveInsideFolder(m, bad);
    ASSERT_FALSE(r.ok()) << *r;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument)
        << r.status();
  }
  EXPECT_EQ(ResolveInsideFolder(m, "nothing.bin").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(FileTest, OutputSetWritesAllOrNothing) {
  Write("old.key", "previous");
  {
    OutputSet out;
    ASSERT_TRUE(out.Add(Path("a.onnx"), "model").ok());
    ASSERT_TRUE(out.Add(Path("old.key"), "secret", kSecretFileMode).ok());
    // Nothing appears before the commit, and the old file is untouched.
    EXPECT_FALSE(fs::exists(Path("a.onnx")));
    EXPECT_EQ(*ReadFile(Path("old.key")), "previous");
    // A path in a missing folder fails; the set keeps what it had.
    EXPECT_FALSE(out.Add(Path("missing/b"), "x").ok());
    // The same path twice is refused.
    EXPECT_FALSE(out.Add(Path("a.onnx"), "again").ok());
    ASSERT_TRUE(out.Commit().ok());
  }
  EXPECT_EQ(*ReadFile(Path("a.onnx")), "model");
  EXPECT_EQ(*ReadFile(Path("old.key")), "secret");
  struct stat st;
  ASSERT_EQ(::stat(Path("old.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(Entries(), (std::vector<std::string>{"a.onnx", "old.key"}));
  // Not committed: no output and no temporary remain.
  {
    OutputSet out;
    ASSERT_TRUE(out.Add(Path("c.onnx"), "model").ok());
    ASSERT_TRUE(out.Add(Path("c.key"), "key").ok());
  }
  EXPECT_EQ(Entries(), (std::vector<std::string>{"a.onnx", "old.key"}));
  // A folder where a file should go.
  fs::create_directories(Path("dir.onnx"));
  OutputSet out;
  EXPECT_FALSE(out.Add(Path("dir.onnx"), "x").ok());
  EXPECT_TRUE(out.empty());
}

TEST_F(FileTest, TemporariesNeverWriteThroughALink) {
  // A link planted where a temporary might go is not followed: each temporary
  // is a new file (O_EXCL | O_NOFOLLOW), so the link's target stays as it was.
  Write("target", "keep");
  for (int i = 0; i < 4; ++i) {
    fs::create_symlink(
        Path("target"),
        Path("out.tmp." + std::to_string(getpid()) + "." + std::to_string(i)));
  }
  const absl::Status s = WriteFileAtomically(Path("out"), "new");
  if (s.ok()) EXPECT_EQ(*ReadFile(Path("out")), "new");
  EXPECT_EQ(*ReadFile(Path("target")), "keep");
}

TEST(MemoryBudgetTest, ParsesByteSizes) {
  EXPECT_EQ(*ParseByteSize("1048576"), 1048576);
  EXPECT_EQ(*ParseByteSize("512K"), 512 << 10);
  EXPECT_EQ(*ParseByteSize("64m"), int64_t{64} << 20);
  EXPECT_EQ(*ParseByteSize("8G"), int64_t{8} << 30);
  EXPECT_EQ(*ParseByteSize("8GB"), int64_t{8} << 30);
  EXPECT_EQ(*ParseByteSize("8GiB"), int64_t{8} << 30);
  EXPECT_EQ(*ParseByteSize("1T"), int64_t{1} << 40);
  EXPECT_EQ(*ParseByteSize("100B"), 100);
  for (const char* bad : {"", "0", "-5", "1.5G", "8X", "G", "99999999999T",
                          "9223372036854775808", "nan"}) {
    EXPECT_FALSE(ParseByteSize(bad).ok()) << bad;
  }
  EXPECT_EQ(ByteSizeText(int64_t{16} << 30), "16 GiB");
  EXPECT_EQ(ByteSizeText(17), "17 bytes");
  EXPECT_FALSE(SetMemoryBudgetBytes(0).ok());
  EXPECT_FALSE(SetMemoryBudgetBytes(-1).ok());
}

}  // namespace
}  // namespace onnx_crypt
