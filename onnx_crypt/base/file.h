// Whole-file reads and atomic writes.
#ifndef ONNX_CRYPT_BASE_FILE_H_
#define ONNX_CRYPT_BASE_FILE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace onnx_crypt {

// NotFound / PermissionDenied / DataLoss naming the file.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// Writes to "<path>.tmp.<pid>", fsyncs, renames over `path`: readers see the
// old file or the whole new one, never a part. The temporary file is removed on
// failure. The new file's permission bits are at most `mode` (less what the
// umask removes): 0600 for secrets such as keys.
absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view bytes, int mode = 0644);

// The two halves of WriteFileAtomically, for writing several outputs all or
// none: WriteTemporaryFile writes and fsyncs "<path>.tmp.<pid>" and returns its
// name (failing, with nothing left behind, when the folder is missing or not
// writable); CommitTemporaryFile renames it over `path` (removing it on
// failure); DiscardTemporaryFile removes it.
absl::StatusOr<std::string> WriteTemporaryFile(const std::string& path,
                                               absl::string_view bytes,
                                               int mode = 0644);
absl::Status CommitTemporaryFile(const std::string& tmp,
                                 const std::string& path);
void DiscardTemporaryFile(const std::string& tmp);

// Whether two paths name the same file (existing or not: compared after
// normalization).
bool SamePath(const std::string& a, const std::string& b);

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_BASE_FILE_H_
