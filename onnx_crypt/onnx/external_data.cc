// Patches are kept relative to the file, not to earlier writes: a write
// compares the new bytes with the file's own and replaces every patch inside
// its range, so writing the original bytes back (an unlock) leaves no patch.
#include "onnx_crypt/onnx/external_data.h"

#include <algorithm>
#include <cstring>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "onnx_crypt/base/status.h"

namespace onnx_crypt {

namespace {

// Bytes compared with the file per read while writing.
constexpr int64_t kCompareChunk = int64_t{4} << 20;
// Two differing runs closer than this are kept as one patch (fewer, larger
// patches; the bytes between are the file's own either way).
constexpr int64_t kMergeGap = 16;

}  // namespace

absl::Status ExternalData::Open(const std::string& location,
                                const std::string& file) {
  if (files_.count(location)) return absl::OkStatus();
  OC_ASSIGN_OR_RETURN(ReadOnlyFile f, ReadOnlyFile::Open(file));
  files_.emplace(location, File{std::move(f), {}});
  return absl::OkStatus();
}

bool ExternalData::Has(const std::string& location) const {
  return files_.count(location) > 0;
}

int64_t ExternalData::FileSize(const std::string& location) const {
  auto it = files_.find(location);
  return it == files_.end() ? 0 : it->second.file.size();
}

std::vector<std::string> ExternalData::locations() const {
  std::vector<std::string> out;
  for (const auto& [location, file] : files_) out.push_back(location);
  return out;
}

absl::StatusOr<const ExternalData::File*> ExternalData::Find(
    const std::string& location, int64_t offset, int64_t length) const {
  auto it = files_.find(location);
  if (it == files_.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("external data file '", location, "' was not loaded"));
  }
  const int64_t size = it->second.file.size();
  if (offset < 0 || length < 0 || offset > size || length > size - offset) {
    return absl::InvalidArgumentError(absl::StrCat(
        "external data range of ", length, " bytes at offset ", offset,
        " lies outside '", location, "' (", size, " bytes)"));
  }
  return &it->second;
}

absl::Status ExternalData::Read(const std::string& location, int64_t offset,
                                int64_t length, uint8_t* dst) const {
  OC_ASSIGN_OR_RETURN(const File* f, Find(location, offset, length));
  if (length == 0) return absl::OkStatus();
  OC_RETURN_IF_ERROR(f->file.ReadAt(offset, dst, static_cast<size_t>(length)));
  const int64_t end = offset + length;
  // The first patch that can overlap: the last one starting at or before
  // `offset`, then every one starting before `end`.
  auto it = f->patches.upper_bound(offset);
  if (it != f->patches.begin()) --it;
  for (; it != f->patches.end() && it->first < end; ++it) {
    const int64_t p0 = it->first;
    const int64_t p1 = p0 + static_cast<int64_t>(it->second.size());
    const int64_t a = std::max(p0, offset), b = std::min(p1, end);
    if (a < b)
      std::memcpy(dst + (a - offset), it->second.data() + (a - p0), b - a);
  }
  return absl::OkStatus();
}

absl::Status ExternalData::Write(const std::string& location, int64_t offset,
                                 int64_t length, const uint8_t* src) {
  OC_RETURN_IF_ERROR(Find(location, offset, length).status());
  File& f = files_.at(location);
  const int64_t end = offset + length;
  // The differing runs of the new bytes against the file, found before
  // anything changes (a read error leaves the patches as they were).
  std::vector<std::pair<int64_t, int64_t>> runs;  // [begin, end)
  std::vector<uint8_t> chunk;
  for (int64_t at = offset; at < end; at += kCompareChunk) {
    const int64_t n = std::min(kCompareChunk, end - at);
    chunk.resize(static_cast<size_t>(n));
    OC_RETURN_IF_ERROR(f.file.ReadAt(at, chunk.data(), chunk.size()));
    const uint8_t* now = src + (at - offset);
    for (int64_t i = 0; i < n; ++i) {
      if (chunk[i] == now[i]) continue;
      const int64_t pos = at + i;
      if (!runs.empty() && pos - runs.back().second <= kMergeGap) {
        runs.back().second = pos + 1;
      } else {
        runs.push_back({pos, pos + 1});
      }
    }
  }
  // Drop what earlier patches said about [offset, end), keeping their parts
  // outside it.
  auto it = f.patches.upper_bound(offset);
  if (it != f.patches.begin()) --it;
  std::vector<std::pair<int64_t, std::string>> kept;
  while (it != f.patches.end() && it->first < end) {
    const int64_t p0 = it->first;
    const int64_t p1 = p0 + static_cast<int64_t>(it->second.size());
    if (p1 <= offset) {
      ++it;
      continue;
    }
    if (p0 < offset) kept.push_back({p0, it->second.substr(0, offset - p0)});
    if (p1 > end) kept.push_back({end, it->second.substr(end - p0)});
    it = f.patches.erase(it);
  }
  for (auto& [at, bytes] : kept) f.patches.emplace(at, std::move(bytes));
  for (const auto& [a, b] : runs) {
    f.patches.emplace(
        a, std::string(reinterpret_cast<const char*>(src) + (a - offset),
                       static_cast<size_t>(b - a)));
  }
  return absl::OkStatus();
}

int64_t ExternalData::PatchedBytes() const {
  int64_t total = 0;
  for (const auto& [location, f] : files_) {
    for (const auto& [at, bytes] : f.patches) {
      total += static_cast<int64_t>(bytes.size());
    }
  }
  return total;
}

absl::Status ExternalData::StageCopy(const std::string& location,
                                     const std::string& path,
                                     OutputSet& outputs) const {
  OC_ASSIGN_OR_RETURN(const File* f, Find(location, 0, 0));
  std::vector<FilePatch> patches;
  patches.reserve(f->patches.size());
  for (const auto& [at, bytes] : f->patches) patches.push_back({at, bytes});
  return outputs.AddCopy(path, f->file, patches);
}

}  // namespace onnx_crypt
