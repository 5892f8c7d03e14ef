// The zip container of .npz files (PKWARE APPNOTE 4.3), the part npz.cc
// needs: record signatures and sizes, little-endian fields, the central
// directory (ZIP64 included) and one entry's bytes (stored or deflated,
// CRC-checked). Every length read from the file is checked against the bytes
// actually present before use, and inflate's output is bounded by deflate's
// maximum ratio, so corrupt files give errors. Internal to onnx_crypt/data.
#ifndef ONNX_CRYPT_DATA_ZIP_H_
#define ONNX_CRYPT_DATA_ZIP_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace onnx_crypt::zip {

// Zip record signatures and fixed sizes (PKWARE APPNOTE 4.3).
constexpr uint32_t kLocalHeaderSig = 0x04034b50;
constexpr uint32_t kCentralHeaderSig = 0x02014b50;
constexpr uint32_t kEndOfCentralDirSig = 0x06054b50;
constexpr uint32_t kZip64EndOfCentralDirSig = 0x06064b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr size_t kLocalHeaderSize = 30;
constexpr size_t kCentralHeaderSize = 46;
constexpr size_t kEndOfCentralDirSize = 22;
constexpr size_t kZip64LocatorSize = 20;
constexpr size_t kZip64EndOfCentralDirSize = 56;
constexpr uint16_t kZip64ExtraId = 0x0001;
constexpr uint16_t kDosDate1980 =
    (0 << 9) | (1 << 5) | 1;  // 1980-01-01, for reproducible files

inline uint16_t Le16(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint16_t>(u[0] | (u[1] << 8));
}
inline uint32_t Le32(const char* p) {
  return static_cast<uint32_t>(Le16(p)) |
         (static_cast<uint32_t>(Le16(p + 2)) << 16);
}
inline uint64_t Le64(const char* p) {
  return static_cast<uint64_t>(Le32(p)) |
         (static_cast<uint64_t>(Le32(p + 4)) << 32);
}
inline void PutLe16(std::string* out, uint16_t v) {
  out->push_back(static_cast<char>(v & 0xff));
  out->push_back(static_cast<char>(v >> 8));
}
inline void PutLe32(std::string* out, uint32_t v) {
  PutLe16(out, static_cast<uint16_t>(v & 0xffff));
  PutLe16(out, static_cast<uint16_t>(v >> 16));
}

struct ZipEntry {
  std::string name;
  uint16_t flags = 0;
  uint16_t method = 0;
  uint32_t crc = 0;
  uint64_t compressed_size = 0;
  uint64_t uncompressed_size = 0;
  uint64_t local_offset = 0;
};

// The entries of the central directory; InvalidArgument naming `label` when
// the file is not a valid zip.
absl::StatusOr<std::vector<ZipEntry>> ReadCentralDirectory(
    absl::string_view zip, const std::string& label);

// The uncompressed bytes of one entry, CRC-checked (DataLoss on mismatch).
absl::StatusOr<std::string> ReadEntry(absl::string_view zip,
                                      const ZipEntry& entry,
                                      const std::string& label);

// The first min(max_bytes, its size) uncompressed bytes of one entry, without
// the CRC check (that needs all of them): to read a header before committing
// to the whole entry. Errors as ReadEntry's; a stream that ends early just
// gives fewer bytes.
absl::StatusOr<std::string> ReadEntryPrefix(absl::string_view zip,
                                            const ZipEntry& entry,
                                            size_t max_bytes,
                                            const std::string& label);

}  // namespace onnx_crypt::zip

#endif  // ONNX_CRYPT_DATA_ZIP_H_
