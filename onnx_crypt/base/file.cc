#include "onnx_crypt/base/file.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <new>

#include "absl/strings/str_cat.h"
#include "onnx_crypt/base/memory_budget.h"

namespace onnx_crypt {
namespace {

// Closes a descriptor on every path out of a function.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

const char* KindOf(mode_t mode) {
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

absl::Status OpenError(const std::string& path, int err) {
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return absl::NotFoundError(absl::StrCat(path, ": no such file"));
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(
          absl::StrCat(path, ": cannot open for reading (permission denied)"));
    case ENXIO:  // a socket
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": not a regular file"));
    default:
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": cannot open (", std::strerror(err), ")"));
  }
}

std::string RealPath(const std::string& path, int* err) {
  std::unique_ptr<char, decltype(&std::free)> p(realpath(path.c_str(), nullptr),
                                                &std::free);
  *err = p ? 0 : errno;
  return p ? std::string(p.get()) : std::string();
}

// Makes the renames in `folder` durable; best effort (some file systems
// refuse fsync on a folder).
void SyncFolder(const std::string& path) {
  std::string folder = std::filesystem::path(path).parent_path().string();
  if (folder.empty()) folder = ".";
  const int fd = open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  fsync(fd);
  close(fd);
}

}  // namespace

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused
  // below); it changes nothing for regular files.
  Fd f(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (f.fd < 0) return OpenError(path, errno);
  struct stat st;
  if (fstat(f.fd, &st) != 0) {
    return absl::DataLossError(
        absl::StrCat(path, ": cannot stat (", std::strerror(errno), ")"));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": ", S_ISDIR(st.st_mode) ? "is " : "is not a regular file but ",
        KindOf(st.st_mode)));
  }
  const int64_t size = static_cast<int64_t>(st.st_size);
  if (size > MemoryBudgetBytes()) {
    return absl::ResourceExhaustedError(
        absl::StrCat(path, ": ", ByteSizeText(size), " is ", OverBudgetText()));
  }
  std::string out;
  try {
    out.resize(static_cast<size_t>(size));
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(
        absl::StrCat(path, ": out of memory reading ", ByteSizeText(size)));
  }
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = read(f.fd, out.data() + done, out.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::DataLossError(
          absl::StrCat(path, ": read error (", std::strerror(errno), ")"));
    }
    if (n == 0) {
      return absl::DataLossError(
          absl::StrCat(path, ": the file shrank while being read"));
    }
    done += static_cast<size_t>(n);
  }
  char extra;
  ssize_t n;
  while ((n = read(f.fd, &extra, 1)) < 0 && errno == EINTR) {
  }
  if (n > 0) {
    return absl::DataLossError(
        absl::StrCat(path, ": the file grew while being read"));
  }
  return out;
}

absl::StatusOr<std::string> ResolveInsideFolder(const std::string& folder,
                                                const std::string& relative) {
  const std::string joined =
      (std::filesystem::path(folder) / relative).string();
  if (relative.empty() || std::filesystem::path(relative).is_absolute()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", relative, "' is not a relative path inside '", folder, "'"));
  }
  int err = 0;
  const std::string base = RealPath(folder.empty() ? "." : folder, &err);
  if (base.empty()) return OpenError(folder, err);
  const std::string full = RealPath(joined, &err);
  if (full.empty()) return OpenError(joined, err);
  const std::string prefix = base == "/" ? base : base + "/";
  if (full.size() <= prefix.size() ||
      full.compare(0, prefix.size(), prefix) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", relative, "' resolves to '", full,
        "', outside the model's folder '", base,
        "' (through '..' or a symlink); only files inside it are read"));
  }
  return full;
}

OutputSet::~OutputSet() { Discard(); }

absl::Status OutputSet::Add(const std::string& path, absl::string_view bytes,
                            mode_t mode) {
  for (const Pending& p : pending_) {
    if (SamePath(p.path, path)) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": written twice by one command"));
    }
  }
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": is a folder; cannot write a file there"));
  }
  static std::atomic<uint64_t> counter{0};
  const std::string tmp =
      absl::StrCat(path, ".tmp.", getpid(), ".", counter.fetch_add(1));
  // O_EXCL | O_NOFOLLOW: never write through a file or link that is already
  // there.
  Fd f(open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
            mode));
  if (f.fd < 0) {
    return absl::PermissionDeniedError(
        absl::StrCat(path, ": cannot create (", std::strerror(errno), ")"));
  }
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = write(f.fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string err = std::strerror(errno);
      unlink(tmp.c_str());
      return absl::DataLossError(
          absl::StrCat(path, ": write failed (", err, ")"));
    }
    done += static_cast<size_t>(n);
  }
  const bool synced = fsync(f.fd) == 0;
  const int fd = f.fd;
  f.fd = -1;
  if (close(fd) != 0 || !synced) {
    unlink(tmp.c_str());
    return absl::DataLossError(absl::StrCat(path, ": could not flush to disk"));
  }
  pending_.push_back({tmp, path});
  return absl::OkStatus();
}

absl::Status OutputSet::Commit() {
  for (size_t i = 0; i < pending_.size(); ++i) {
    if (std::rename(pending_[i].tmp.c_str(), pending_[i].path.c_str()) != 0) {
      const std::string err = std::strerror(errno);
      const std::string path = pending_[i].path;
      pending_.erase(pending_.begin(), pending_.begin() + i);
      Discard();
      return absl::DataLossError(
          absl::StrCat(path, ": rename failed (", err, ")"));
    }
    SyncFolder(pending_[i].path);
  }
  pending_.clear();
  return absl::OkStatus();
}

void OutputSet::Discard() {
  for (const Pending& p : pending_) unlink(p.tmp.c_str());
  pending_.clear();
}

absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view bytes, mode_t mode) {
  OutputSet out;
  if (absl::Status s = out.Add(path, bytes, mode); !s.ok()) return s;
  return out.Commit();
}

bool SamePath(const std::string& a, const std::string& b) {
  std::error_code ec1, ec2;
  if (std::filesystem::exists(a, ec1) && std::filesystem::exists(b, ec2)) {
    return std::filesystem::equivalent(a, b, ec1);
  }
  return std::filesystem::weakly_canonical(a, ec1) ==
         std::filesystem::weakly_canonical(b, ec2);
}

}  // namespace onnx_crypt
