// ExternalData: the external data files of one model, read where they are
// needed instead of held in memory.
//
// Each file a model references is opened once (base/file.h ReadOnlyFile: kept
// open, so a path replaced later does not matter, and a file changed in place
// makes reads fail with DataLoss) and read at the offsets of the tensors that
// are decoded. Writes (the values a lock or an unlock changes) are kept as
// patches: only the byte runs that differ from the file, so a lock that changes
// a few values of a 2 GB file holds a few bytes. Reads see the patches. Saving
// copies each file by the kernel (OutputSet::AddCopy) and writes the patches
// over the copy: the model is never in memory as a whole, and the output
// differs from the input only in the bytes that were changed.
//
// Errors name the file (location) and the tensor where the caller gives one.
// Thread safety: const methods may run concurrently; Write needs exclusive
// access.
#ifndef ONNX_CRYPT_ONNX_EXTERNAL_DATA_H_
#define ONNX_CRYPT_ONNX_EXTERNAL_DATA_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "onnx_crypt/base/file.h"

namespace onnx_crypt {

class ExternalData {
 public:
  ExternalData() = default;
  ExternalData(ExternalData&&) noexcept = default;
  ExternalData& operator=(ExternalData&&) noexcept = default;

  // Opens `file` (an already resolved path) as the data of `location`
  // (normalized, relative to the model's folder). Opening a location twice
  // is a no-op.
  absl::Status Open(const std::string& location, const std::string& file);
  bool Has(const std::string& location) const;
  // The size of the file of `location` as opened (0 for an unknown one).
  int64_t FileSize(const std::string& location) const;
  bool empty() const { return files_.empty(); }
  std::vector<std::string> locations() const;

  // Reads `length` bytes at `offset` of `location`, with the writes so far,
  // into `dst`. InvalidArgument for an unknown location or a range outside
  // the file; DataLoss for a read error or a file changed since Open.
  absl::Status Read(const std::string& location, int64_t offset, int64_t length,
                    uint8_t* dst) const;
  // Makes bytes [offset, offset + length) of `location` read as `src`.
  // Only the runs that differ from the file are kept (an earlier write to the
  // range is replaced). Same errors as Read.
  absl::Status Write(const std::string& location, int64_t offset,
                     int64_t length, const uint8_t* src);
  // Bytes held as patches over all files (what Write kept).
  int64_t PatchedBytes() const;

  // Adds to `outputs` a copy of the file of `location`, with the writes, at
  // `path`.
  absl::Status StageCopy(const std::string& location, const std::string& path,
                         OutputSet& outputs) const;

 private:
  struct File {
    ReadOnlyFile file;
    // Non-overlapping byte runs by offset: the bytes that differ from the
    // file.
    std::map<int64_t, std::string> patches;
  };
  absl::StatusOr<const File*> Find(const std::string& location, int64_t offset,
                                   int64_t length) const;
  std::map<std::string, File> files_;
};

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_ONNX_EXTERNAL_DATA_H_
