// The one place onnx-crypt opens files: whole-file reads of inputs, checked
// before anything is allocated, and outputs written all or none.
//
// Inputs. Every file the tool reads (a model, its external data, a key, a data
// file, a list of models) is read by ReadFile: only a regular file (a FIFO,
// a device or a folder is refused, so nothing blocks or reads without end),
// at most the memory budget (base/memory_budget.h) in size, checked before the
// read. A path given by the user may be a symlink; paths that come from inside
// a file (external data locations) go through ResolveInsideFolder, which
// resolves symlinks and refuses anything that leaves the folder.
//
// Outputs. An OutputSet writes each output to a temporary beside it, fsyncs
// it, and renames all of them into place only when all were written: readers
// see the old files or the new ones, and a failure leaves no output and no
// temporary behind.
#ifndef ONNX_CRYPT_BASE_FILE_H_
#define ONNX_CRYPT_BASE_FILE_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace onnx_crypt {

// File modes of outputs: keys are secrets (owner read/write only).
inline constexpr mode_t kPublicFileMode = 0644;
inline constexpr mode_t kSecretFileMode = 0600;

// The whole content of the regular file `path`. Errors name the path:
// NotFound, PermissionDenied, InvalidArgument (a folder, FIFO, socket or
// device), ResourceExhausted (larger than the memory budget), DataLoss (a read
// error, or the file changed size while being read).
absl::StatusOr<std::string> ReadFile(const std::string& path);

// `relative` (a relative path read from a file in `folder`) resolved inside
// `folder`: symlinks are followed, and the result must be an existing path
// strictly inside the folder's own resolved path. InvalidArgument when it
// leaves the folder (`..`, an absolute path, or a symlink pointing outside),
// NotFound when it does not exist. The result is the resolved path.
absl::StatusOr<std::string> ResolveInsideFolder(const std::string& folder,
                                                const std::string& relative);

// ---- Large inputs read in place (external data, issue #12): a file kept open
// and read at offsets, and outputs copied from it with a few byte ranges
// changed.

// A regular file opened for reading and kept open, so that its bytes can be
// read where they are needed instead of whole. The same checks as ReadFile
// (regular file; NotFound, PermissionDenied, InvalidArgument), but no size
// limit: nothing is allocated for it. The descriptor refers to the file that
// was opened even if the path is later replaced; a change to the file itself
// (size or modification time) after Open makes every later read and copy fail
// with DataLoss instead of mixing old and new bytes. Move-only; const methods
// may run concurrently (pread).
class ReadOnlyFile {
 public:
  static absl::StatusOr<ReadOnlyFile> Open(const std::string& path);
  ReadOnlyFile(ReadOnlyFile&& other) noexcept;
  ReadOnlyFile& operator=(ReadOnlyFile&& other) noexcept;
  ReadOnlyFile(const ReadOnlyFile&) = delete;
  ReadOnlyFile& operator=(const ReadOnlyFile&) = delete;
  ~ReadOnlyFile();

  const std::string& path() const { return path_; }
  int64_t size() const { return size_; }
  int fd() const { return fd_; }
  // Reads `n` bytes at `offset` into `dst`. OutOfRange when the range is not
  // inside the file as opened; DataLoss on a read error or a changed file.
  absl::Status ReadAt(int64_t offset, void* dst, size_t n) const;
  // DataLoss, naming the file, when its size or modification time is no
  // longer what it was at Open.
  absl::Status CheckUnchanged() const;

 private:
  ReadOnlyFile() = default;
  std::string path_;
  int fd_ = -1;
  int64_t size_ = 0;
  int64_t mtime_ns_ = 0;
};

// Bytes to write over a copy, at an offset of the copied file.
struct FilePatch {
  int64_t offset = 0;
  absl::string_view bytes;
};

// ---- end of the large-input block

// Several outputs, written all or none. Not thread-safe.
class OutputSet {
 public:
  OutputSet() = default;
  OutputSet(const OutputSet&) = delete;
  OutputSet& operator=(const OutputSet&) = delete;
  // Removes the temporaries of a set that was not committed.
  ~OutputSet();

  // Writes `bytes` to a new temporary "<path>.tmp.<pid>.<n>" with `mode` and
  // fsyncs it. Fails, naming `path`, when the folder is missing or not
  // writable, the write fails, or `path` is already in the set; the set then
  // stays as it was.
  absl::Status Add(const std::string& path, absl::string_view bytes,
                   mode_t mode = kPublicFileMode);
  // The same for a copy of `source` with `patches` (inside the source's
  // size, in any order) written over it: the bulk is copied by the kernel
  // (copy_file_range, which shares extents on file systems with reflinks;
  // read/write where it is not available), so only the patched bytes pass
  // through memory. DataLoss when the source changed since it was opened.
  absl::Status AddCopy(const std::string& path, const ReadOnlyFile& source,
                       const std::vector<FilePatch>& patches,
                       mode_t mode = kPublicFileMode);
  // Renames every temporary over its path, in the order added. Should a
  // rename fail (rare: the folder changed under us), the temporaries not yet
  // renamed are removed and the error names the path.
  absl::Status Commit();
  // Removes every temporary; the set is empty afterwards.
  void Discard();

  bool empty() const { return pending_.empty(); }

 private:
  struct Pending {
    std::string tmp, path;
  };
  // Creates the temporary of `path`, lets `write` fill the open descriptor,
  // fsyncs and closes it, and records it (removing it on any failure).
  template <typename Write>
  absl::Status AddWith(const std::string& path, mode_t mode, Write write);
  std::vector<Pending> pending_;
};

// One output, written atomically (an OutputSet of one).
absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view bytes,
                                 mode_t mode = kPublicFileMode);

// Whether two paths name the same file (existing or not: compared after
// normalization).
bool SamePath(const std::string& a, const std::string& b);

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_BASE_FILE_H_
