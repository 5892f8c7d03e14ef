// Reading the zip container of .npz files: see zip.h.
#include "onnx_crypt/data/zip.h"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "onnx_crypt/base/memory_budget.h"
#include "onnx_crypt/base/status.h"

namespace onnx_crypt::zip {
namespace {

// Inflates `in` into exactly `out_size` bytes. The output grows with what the
// stream really holds (doubling from a few times the input), so an entry that
// claims gigabytes but holds little costs little before it is found corrupt.
absl::StatusOr<std::string> Inflate(absl::string_view in, uint64_t out_size,
                                    const std::string& label) {
  std::string out;
  out.resize(static_cast<size_t>(std::min<uint64_t>(
      out_size,
      std::max<uint64_t>(uint64_t{1} << 20, uint64_t{4} * in.size()))));
  z_stream zs;
  std::memset(&zs, 0, sizeof(zs));
  // Negative window bits: raw deflate data, as zip stores it (no zlib header).
  if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) {
    return absl::InternalError(
        absl::StrCat(label, ": zlib inflateInit2 failed"));
  }
  size_t in_done = 0, out_done = 0;
  int rc = Z_OK;
  while (rc == Z_OK) {
    if (out_done == out.size()) {
      if (out.size() >= out_size) break;  // more data than claimed
      out.resize(static_cast<size_t>(
          std::min<uint64_t>(out_size, uint64_t{2} * out.size())));
    }
    const size_t in_chunk = std::min<size_t>(in.size() - in_done, UINT_MAX);
    const size_t out_chunk = std::min<size_t>(out.size() - out_done, UINT_MAX);
    zs.next_in =
        reinterpret_cast<Bytef*>(const_cast<char*>(in.data() + in_done));
    zs.avail_in = static_cast<uInt>(in_chunk);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + out_done);
    zs.avail_out = static_cast<uInt>(out_chunk);
    rc = inflate(&zs, Z_NO_FLUSH);
    in_done += in_chunk - zs.avail_in;
    out_done += out_chunk - zs.avail_out;
    if (rc == Z_OK && in_chunk == zs.avail_in && out_chunk == zs.avail_out)
      break;  // stuck
  }
  inflateEnd(&zs);
  if (rc != Z_STREAM_END || out_done != out_size) {
    return absl::InvalidArgumentError(
        absl::StrCat(label, ": corrupt deflate data (zlib code ", rc, ", ",
                     out_done, " of ", out_size, " bytes inflated)"));
  }
  return out;
}

absl::Status ApplyZip64Extra(absl::string_view extra, bool need_uncompressed,
                             bool need_compressed, bool need_offset,
                             ZipEntry* entry, const std::string& label) {
  size_t pos = 0;
  while (pos + 4 <= extra.size()) {
    const uint16_t id = Le16(extra.data() + pos);
    const uint16_t size = Le16(extra.data() + pos + 2);
    if (pos + 4 + size > extra.size()) break;
    if (id == kZip64ExtraId) {
      absl::string_view field = extra.substr(pos + 4, size);
      size_t f = 0;
      auto next = [&](uint64_t* value) {
        if (f + 8 > field.size()) return false;
        *value = Le64(field.data() + f);
        f += 8;
        return true;
      };
      if ((need_uncompressed && !next(&entry->uncompressed_size)) ||
          (need_compressed && !next(&entry->compressed_size)) ||
          (need_offset && !next(&entry->local_offset))) {
        return absl::InvalidArgumentError(
            absl::StrCat(label, ": entry '", entry->name,
                         "' has a short ZIP64 extra field"));
      }
      return absl::OkStatus();
    }
    pos += 4 + size;
  }
  if (need_uncompressed || need_compressed || need_offset) {
    return absl::InvalidArgumentError(absl::StrCat(
        label, ": entry '", entry->name, "' lacks its ZIP64 extra field"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<ZipEntry>> ReadCentralDirectory(
    absl::string_view zip, const std::string& label) {
  auto corrupt = [&](absl::string_view what) {
    return absl::InvalidArgumentError(
        absl::StrCat(label, ": not a valid .npz (zip) file: ", what));
  };
  if (zip.size() < kEndOfCentralDirSize) return corrupt("too short");
  // The end record sits at the end, followed only by a comment of at most 65535
  // bytes.
  size_t eocd = std::string::npos;
  const size_t lowest = zip.size() > kEndOfCentralDirSize + 0xffff
                            ? zip.size() - kEndOfCentralDirSize - 0xffff
                            : 0;
  for (size_t pos = zip.size() - kEndOfCentralDirSize + 1; pos-- > lowest;) {
    if (Le32(zip.data() + pos) == kEndOfCentralDirSig) {
      eocd = pos;
      break;
    }
  }
  if (eocd == std::string::npos)
    return corrupt("no end-of-central-directory record");
  const char* e = zip.data() + eocd;
  if (Le16(e + 4) != 0 || Le16(e + 6) != 0)
    return corrupt("multi-disk archives are not supported");
  uint64_t count = Le16(e + 10);
  uint64_t cd_size = Le32(e + 12);
  uint64_t cd_offset = Le32(e + 16);
  if (count == 0xffff || cd_size == 0xffffffff || cd_offset == 0xffffffff) {
    if (eocd < kZip64LocatorSize) return corrupt("missing ZIP64 locator");
    const char* loc = zip.data() + eocd - kZip64LocatorSize;
    if (Le32(loc) != kZip64LocatorSig) return corrupt("missing ZIP64 locator");
    const uint64_t z64 = Le64(loc + 8);
    if (z64 > zip.size() || zip.size() - z64 < kZip64EndOfCentralDirSize ||
        Le32(zip.data() + z64) != kZip64EndOfCentralDirSig) {
      return corrupt("bad ZIP64 end-of-central-directory record");
    }
    const char* z = zip.data() + z64;
    count = Le64(z + 32);
    cd_size = Le64(z + 40);
    cd_offset = Le64(z + 48);
  }
  if (cd_offset > zip.size() || cd_size > zip.size() - cd_offset) {
    return corrupt("central directory lies outside the file");
  }
  std::vector<ZipEntry> entries;
  size_t pos = cd_offset;
  const size_t end = cd_offset + cd_size;
  for (uint64_t i = 0; i < count; ++i) {
    if (end - pos < kCentralHeaderSize ||
        Le32(zip.data() + pos) != kCentralHeaderSig) {
      return corrupt("bad central directory entry");
    }
    const char* h = zip.data() + pos;
    ZipEntry entry;
    entry.flags = Le16(h + 8);
    entry.method = Le16(h + 10);
    entry.crc = Le32(h + 16);
    entry.compressed_size = Le32(h + 20);
    entry.uncompressed_size = Le32(h + 24);
    const size_t name_len = Le16(h + 28), extra_len = Le16(h + 30),
                 comment_len = Le16(h + 32);
    entry.local_offset = Le32(h + 42);
    if (end - pos - kCentralHeaderSize < name_len + extra_len + comment_len) {
      return corrupt("central directory entry overruns the directory");
    }
    entry.name.assign(h + kCentralHeaderSize, name_len);
    OC_RETURN_IF_ERROR(ApplyZip64Extra(
        absl::string_view(h + kCentralHeaderSize + name_len, extra_len),
        entry.uncompressed_size == 0xffffffff,
        entry.compressed_size == 0xffffffff, entry.local_offset == 0xffffffff,
        &entry, label));
    entries.push_back(std::move(entry));
    pos += kCentralHeaderSize + name_len + extra_len + comment_len;
  }
  return entries;
}

namespace {

// The entry's stored (possibly compressed) bytes, after checking its local
// header and that they lie inside the file.
absl::StatusOr<absl::string_view> EntryData(absl::string_view zip,
                                            const ZipEntry& entry,
                                            const std::string& where) {
  if (entry.flags & 1) {
    return absl::InvalidArgumentError(absl::StrCat(where, " is encrypted"));
  }
  if (entry.local_offset > zip.size() ||
      zip.size() - entry.local_offset < kLocalHeaderSize ||
      Le32(zip.data() + entry.local_offset) != kLocalHeaderSig) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": bad local header"));
  }
  const char* h = zip.data() + entry.local_offset;
  const uint64_t data_offset =
      entry.local_offset + kLocalHeaderSize + Le16(h + 26) + Le16(h + 28);
  if (data_offset > zip.size() ||
      entry.compressed_size > zip.size() - data_offset) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": data lies outside the file"));
  }
  return zip.substr(data_offset, entry.compressed_size);
}

}  // namespace

absl::StatusOr<std::string> ReadEntryPrefix(absl::string_view zip,
                                            const ZipEntry& entry,
                                            size_t max_bytes,
                                            const std::string& label) {
  const std::string where = absl::StrCat(label, ": entry '", entry.name, "'");
  OC_ASSIGN_OR_RETURN(absl::string_view data, EntryData(zip, entry, where));
  if (entry.method == 0) return std::string(data.substr(0, max_bytes));
  if (entry.method != 8) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": compression method ", entry.method,
                     " is not supported (stored or deflate)"));
  }
  std::string out(static_cast<size_t>(
                      std::min<uint64_t>(max_bytes, entry.uncompressed_size)),
                  '\0');
  z_stream zs;
  std::memset(&zs, 0, sizeof(zs));
  if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) {
    return absl::InternalError(
        absl::StrCat(where, ": zlib inflateInit2 failed"));
  }
  // One call: the output buffer is small, the input is given whole (zlib
  // stops when the output is full).
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(std::min<size_t>(data.size(), UINT_MAX));
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = inflate(&zs, Z_NO_FLUSH);
  const size_t got = out.size() - zs.avail_out;
  inflateEnd(&zs);
  if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": corrupt deflate data (zlib code ", rc, ")"));
  }
  out.resize(got);
  return out;
}

absl::StatusOr<std::string> ReadEntry(absl::string_view zip,
                                      const ZipEntry& entry,
                                      const std::string& label) {
  const std::string where = absl::StrCat(label, ": entry '", entry.name, "'");
  OC_ASSIGN_OR_RETURN(absl::string_view data, EntryData(zip, entry, where));
  std::string out;
  if (entry.method == 0) {
    if (entry.compressed_size != entry.uncompressed_size) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": stored entry with differing sizes"));
    }
    out.assign(data.data(), data.size());
  } else if (entry.method == 8) {
    if (entry.uncompressed_size > static_cast<uint64_t>(MemoryBudgetBytes())) {
      return absl::ResourceExhaustedError(
          absl::StrCat(where, ": ", entry.uncompressed_size,
                       " bytes uncompressed is ", OverBudgetText()));
    }
    // Deflate expands at most 1032:1; a larger claim is corruption, not data.
    if (entry.uncompressed_size > entry.compressed_size * 1032 + 1024) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": implausible uncompressed size ", entry.uncompressed_size));
    }
    OC_ASSIGN_OR_RETURN(out, Inflate(data, entry.uncompressed_size, where));
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": compression method ", entry.method,
                     " is not supported (stored or deflate)"));
  }
  uLong crc = crc32(0L, Z_NULL, 0);
  size_t done = 0;
  while (done < out.size()) {
    const size_t chunk = std::min<size_t>(out.size() - done, UINT_MAX);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(out.data() + done),
                static_cast<uInt>(chunk));
    done += chunk;
  }
  if (static_cast<uint32_t>(crc) != entry.crc) {
    return absl::DataLossError(
        absl::StrCat(where, ": CRC mismatch (corrupt data)"));
  }
  return out;
}

}  // namespace onnx_crypt::zip
