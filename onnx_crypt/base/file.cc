#include "onnx_crypt/base/file.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <new>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "onnx_crypt/base/memory_budget.h"
#include "onnx_crypt/base/status.h"

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

// Writes all of `n` bytes to `fd`: at `offset` (pwrite), or at the current
// position when offset < 0.
absl::Status WriteAll(int fd, const std::string& path, const char* data,
                      size_t n, int64_t offset) {
  size_t done = 0;
  while (done < n) {
    const ssize_t w = offset < 0 ? write(fd, data + done, n - done)
                                 : pwrite(fd, data + done, n - done,
                                          static_cast<off_t>(offset + done));
    if (w < 0) {
      if (errno == EINTR) continue;
      return absl::DataLossError(
          absl::StrCat(path, ": write failed (", std::strerror(errno), ")"));
    }
    done += static_cast<size_t>(w);
  }
  return absl::OkStatus();
}

// Copies the whole of `source` to the start of `fd` (an empty file): by the
// kernel where it can, else through a buffer.
absl::Status CopyRange(const ReadOnlyFile& source, int fd,
                       const std::string& path) {
  int64_t done = 0;
  bool kernel_copy = true;
  while (done < source.size() && kernel_copy) {
    loff_t in = done, out = done;
    const ssize_t n =
        copy_file_range(source.fd(), &in, fd, &out,
                        static_cast<size_t>(std::min<int64_t>(
                            source.size() - done, int64_t{1} << 30)),
                        0);
    if (n > 0) {
      done += n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 && done < source.size()) {
      return absl::DataLossError(
          absl::StrCat(source.path(), ": the file shrank while being copied"));
    }
    if (n < 0 && done == 0 &&
        (errno == EXDEV || errno == ENOSYS || errno == EINVAL ||
         errno == EOPNOTSUPP || errno == EPERM || errno == EBADF)) {
      kernel_copy = false;  // not supported here: copy through a buffer
      break;
    }
    return absl::DataLossError(absl::StrCat(path, ": copying ", source.path(),
                                            " failed (", std::strerror(errno),
                                            ")"));
  }
  if (kernel_copy) return absl::OkStatus();
  std::vector<char> buffer(size_t{4} << 20);
  while (done < source.size()) {
    const size_t n = static_cast<size_t>(
        std::min<int64_t>(source.size() - done, buffer.size()));
    OC_RETURN_IF_ERROR(source.ReadAt(done, buffer.data(), n));
    OC_RETURN_IF_ERROR(WriteAll(fd, path, buffer.data(), n, done));
    done += static_cast<int64_t>(n);
  }
  return absl::OkStatus();
}

int64_t MtimeNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 +
         st.st_mtim.tv_nsec;
}

}  // namespace

absl::StatusOr<ReadOnlyFile> ReadOnlyFile::Open(const std::string& path) {
  const int fd =
      open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return OpenError(path, errno);
  ReadOnlyFile file;
  file.fd_ = fd;
  file.path_ = path;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    return absl::DataLossError(
        absl::StrCat(path, ": cannot stat (", std::strerror(errno), ")"));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": ", S_ISDIR(st.st_mode) ? "is " : "is not a regular file but ",
        KindOf(st.st_mode)));
  }
  file.size_ = static_cast<int64_t>(st.st_size);
  file.mtime_ns_ = MtimeNs(st);
  return file;
}

ReadOnlyFile::ReadOnlyFile(ReadOnlyFile&& other) noexcept
    : path_(std::move(other.path_)),
      fd_(std::exchange(other.fd_, -1)),
      size_(other.size_),
      mtime_ns_(other.mtime_ns_) {}

ReadOnlyFile& ReadOnlyFile::operator=(ReadOnlyFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
    size_ = other.size_;
    mtime_ns_ = other.mtime_ns_;
  }
  return *this;
}

ReadOnlyFile::~ReadOnlyFile() {
  if (fd_ >= 0) close(fd_);
}

absl::Status ReadOnlyFile::CheckUnchanged() const {
  struct stat st;
  if (fstat(fd_, &st) != 0 || static_cast<int64_t>(st.st_size) != size_ ||
      MtimeNs(st) != mtime_ns_) {
    return absl::DataLossError(
        absl::StrCat(path_, ": the file changed after it was opened"));
  }
  return absl::OkStatus();
}

absl::Status ReadOnlyFile::ReadAt(int64_t offset, void* dst, size_t n) const {
  if (offset < 0 || offset > size_ ||
      static_cast<int64_t>(n) > size_ - offset) {
    return absl::OutOfRangeError(
        absl::StrCat(path_, ": ", n, " bytes at offset ", offset,
                     " lie outside its ", size_, " bytes"));
  }
  OC_RETURN_IF_ERROR(CheckUnchanged());
  char* out = static_cast<char*>(dst);
  size_t done = 0;
  while (done < n) {
    const ssize_t r =
        pread(fd_, out + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      return absl::DataLossError(
          absl::StrCat(path_, ": read error (", std::strerror(errno), ")"));
    }
    if (r == 0) {
      return absl::DataLossError(
          absl::StrCat(path_, ": the file shrank while being read"));
    }
    done += static_cast<size_t>(r);
  }
  return absl::OkStatus();
}

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

template <typename Write>
absl::Status OutputSet::AddWith(const std::string& path, mode_t mode,
                                Write write) {
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
  if (absl::Status s = write(f.fd); !s.ok()) {
    unlink(tmp.c_str());
    return s;
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

absl::Status OutputSet::Add(const std::string& path, absl::string_view bytes,
                            mode_t mode) {
  return AddWith(path, mode, [&](int fd) {
    return WriteAll(fd, path, bytes.data(), bytes.size(), -1);
  });
}

absl::Status OutputSet::AddCopy(const std::string& path,
                                const ReadOnlyFile& source,
                                const std::vector<FilePatch>& patches,
                                mode_t mode) {
  for (const FilePatch& p : patches) {
    if (p.offset < 0 ||
        p.offset > source.size() - static_cast<int64_t>(p.bytes.size())) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": a patch of ", p.bytes.size(), " bytes at offset ", p.offset,
          " lies outside the ", source.size(), " bytes of ", source.path()));
    }
  }
  OC_RETURN_IF_ERROR(source.CheckUnchanged());
  return AddWith(path, mode, [&](int fd) -> absl::Status {
    OC_RETURN_IF_ERROR(CopyRange(source, fd, path));
    for (const FilePatch& p : patches) {
      OC_RETURN_IF_ERROR(
          WriteAll(fd, path, p.bytes.data(), p.bytes.size(), p.offset));
    }
    // A source changed while it was copied gives a mix of old and new bytes.
    return source.CheckUnchanged();
  });
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
