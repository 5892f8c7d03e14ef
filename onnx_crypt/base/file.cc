#include "onnx_crypt/base/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace onnx_crypt {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  }
  if (std::filesystem::is_directory(path, ec)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": is a directory"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return absl::PermissionDeniedError(
        absl::StrCat(path, ": cannot open for reading"));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat(path, ": read error"));
  return ss.str();
}

absl::StatusOr<std::string> WriteTemporaryFile(const std::string& path,
                                               absl::string_view bytes,
                                               int mode) {
  const std::string tmp = absl::StrCat(path, ".tmp.", getpid());
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                      static_cast<mode_t>(mode));
  if (fd < 0) {
    return absl::PermissionDeniedError(
        absl::StrCat(path, ": cannot create (", std::strerror(errno), ")"));
  }
  // A stale temporary file of the same name keeps its own bits through
  // O_TRUNC: narrow them to `mode` before anything is written.
  struct stat st;
  if (fstat(fd, &st) != 0 ||
      ((st.st_mode & 07777 & ~static_cast<mode_t>(mode)) != 0 &&
       fchmod(fd, st.st_mode & 07777 & static_cast<mode_t>(mode)) != 0)) {
    const std::string err = std::strerror(errno);
    close(fd);
    unlink(tmp.c_str());
    return absl::PermissionDeniedError(
        absl::StrCat(path, ": cannot set permissions (", err, ")"));
  }
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string err = std::strerror(errno);
      close(fd);
      unlink(tmp.c_str());
      return absl::DataLossError(
          absl::StrCat(path, ": write failed (", err, ")"));
    }
    done += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0 || close(fd) != 0) {
    unlink(tmp.c_str());
    return absl::DataLossError(absl::StrCat(path, ": could not flush to disk"));
  }
  return tmp;
}

absl::Status CommitTemporaryFile(const std::string& tmp,
                                 const std::string& path) {
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string err = std::strerror(errno);
    unlink(tmp.c_str());
    return absl::DataLossError(
        absl::StrCat(path, ": rename failed (", err, ")"));
  }
  return absl::OkStatus();
}

void DiscardTemporaryFile(const std::string& tmp) { unlink(tmp.c_str()); }

absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view bytes, int mode) {
  absl::StatusOr<std::string> tmp = WriteTemporaryFile(path, bytes, mode);
  if (!tmp.ok()) return tmp.status();
  return CommitTemporaryFile(*tmp, path);
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
