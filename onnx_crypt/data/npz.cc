// .npy and .npz by hand: the format is small (a Python-literal header, then raw
// bytes; a zip of such files), and reading it here avoids a dependency on a zip
// library besides zlib. Every length read from the file is checked against the
// bytes actually present before use, and the output of inflate is bounded by
// deflate's maximum ratio, so corrupt files give errors.
#include "onnx_crypt/data/npz.h"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>
#include <set>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "onnx_crypt/base/file.h"
#include "onnx_crypt/base/memory_budget.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/data/zip.h"

namespace onnx_crypt {
namespace {

using zip::kCentralHeaderSig;
using zip::kDosDate1980;
using zip::kEndOfCentralDirSig;
using zip::kLocalHeaderSig;
using zip::Le16;
using zip::Le32;
using zip::PutLe16;
using zip::PutLe32;
using zip::ReadCentralDirectory;
using zip::ReadEntry;
using zip::ReadEntryPrefix;
using zip::ZipEntry;

constexpr char kNpyMagic[] = "\x93NUMPY";
constexpr size_t kNpyMagicLen = 6;

// --- .npy header
// ------------------------------------------------------------------------------

struct DescrInfo {
  const char* descr;
  DType dtype;
};
constexpr DescrInfo kDescrs[] = {
    {"<f4", DType::kFloat32}, {"<f8", DType::kFloat64}, {"<i8", DType::kInt64},
    {"<i4", DType::kInt32},   {"|u1", DType::kUint8},   {"|i1", DType::kInt8},
    {"|b1", DType::kBool},
};

// A value in the header dict: a string, a bool, or a tuple of integers.
struct HeaderValue {
  enum class Kind { kString, kBool, kTuple } kind = Kind::kString;
  std::string s;
  bool b = false;
  std::vector<int64_t> ints;
};

// Parses the Python dict literal numpy writes, e.g.
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
class HeaderParser {
 public:
  explicit HeaderParser(absl::string_view text) : text_(text) {}

  absl::StatusOr<std::map<std::string, HeaderValue>> Parse() {
    std::map<std::string, HeaderValue> dict;
    if (!Consume('{')) return Error("expected '{'");
    while (!Consume('}')) {
      OC_ASSIGN_OR_RETURN(std::string key, ParseString());
      if (!Consume(':')) return Error("expected ':'");
      OC_ASSIGN_OR_RETURN(HeaderValue value, ParseValue());
      dict[key] = std::move(value);
      if (!Consume(',')) {
        if (!Consume('}')) return Error("expected ',' or '}'");
        break;
      }
    }
    SkipSpace();
    if (pos_ != text_.size())
      return Error("trailing characters after the dict");
    return dict;
  }

 private:
  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat(
        "malformed .npy header (", what, " at offset ", pos_, "): ", text_));
  }
  void SkipSpace() {
    while (pos_ < text_.size() &&
           absl::ascii_isspace(static_cast<unsigned char>(text_[pos_]))) {
      ++pos_;
    }
  }
  bool Consume(char c) {
    SkipSpace();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool ConsumeWord(absl::string_view word) {
    SkipSpace();
    if (text_.substr(pos_, word.size()) == word) {
      pos_ += word.size();
      return true;
    }
    return false;
  }
  absl::StatusOr<std::string> ParseString() {
    SkipSpace();
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"')) {
      return Error("expected a quoted string");
    }
    const char quote = text_[pos_++];
    size_t end = text_.find(quote, pos_);
    if (end == absl::string_view::npos) return Error("unterminated string");
    std::string s(text_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return s;
  }
  absl::StatusOr<int64_t> ParseInt() {
    SkipSpace();
    size_t start = pos_;
    int64_t value = 0;
    while (pos_ < text_.size() &&
           absl::ascii_isdigit(static_cast<unsigned char>(text_[pos_]))) {
      if (value > (INT64_MAX - 9) / 10) return Error("dimension too large");
      value = value * 10 + (text_[pos_++] - '0');
    }
    // Python 2 era files may write "3L".
    if (pos_ < text_.size() && text_[pos_] == 'L') ++pos_;
    if (pos_ == start) return Error("expected an integer");
    return value;
  }
  absl::StatusOr<HeaderValue> ParseValue() {
    HeaderValue value;
    SkipSpace();
    if (ConsumeWord("True")) {
      value.kind = HeaderValue::Kind::kBool;
      value.b = true;
    } else if (ConsumeWord("False")) {
      value.kind = HeaderValue::Kind::kBool;
    } else if (Consume('(')) {
      value.kind = HeaderValue::Kind::kTuple;
      while (!Consume(')')) {
        OC_ASSIGN_OR_RETURN(int64_t v, ParseInt());
        value.ints.push_back(v);
        if (!Consume(',')) {
          if (!Consume(')')) return Error("expected ',' or ')' in the shape");
          break;
        }
      }
    } else {
      value.kind = HeaderValue::Kind::kString;
      OC_ASSIGN_OR_RETURN(value.s, ParseString());
    }
    return value;
  }

  absl::string_view text_;
  size_t pos_ = 0;
};

std::string ShapeTuple(const Shape& shape) {
  if (shape.size() == 1) return absl::StrCat("(", shape[0], ",)");
  return absl::StrCat("(", absl::StrJoin(shape, ", "), ")");
}

}  // namespace

namespace {

// What a .npy header says: the array's type and shape, where its data starts
// and how many bytes it must have.
struct NpyHeader {
  DType dtype = DType::kUndefined;
  Shape shape;
  size_t data_offset = 0;
  int64_t nbytes = 0;
};

// Parses the header of a .npy image; `bytes` may be only its beginning (the
// data is not looked at).
absl::StatusOr<NpyHeader> ParseNpyHeader(absl::string_view bytes,
                                         const std::string& label) {
  auto bad = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(label, ": ", what));
  };
  if (bytes.size() < kNpyMagicLen + 4 ||
      bytes.substr(0, kNpyMagicLen) != kNpyMagic) {
    return bad("not a .npy array (bad magic)");
  }
  const int major = static_cast<unsigned char>(bytes[6]);
  size_t header_len, header_start;
  if (major == 1) {
    header_len = Le16(bytes.data() + 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) return bad("truncated .npy header");
    header_len = Le32(bytes.data() + 8);
    header_start = 12;
  } else {
    return bad(absl::StrCat(".npy format version ", major,
                            " is not supported (1, 2 or 3)"));
  }
  if (header_len > bytes.size() - header_start)
    return bad("truncated .npy header");
  absl::StatusOr<std::map<std::string, HeaderValue>> dict =
      HeaderParser(bytes.substr(header_start, header_len)).Parse();
  if (!dict.ok()) return Annotate(dict.status(), label);

  auto descr = dict->find("descr");
  auto fortran = dict->find("fortran_order");
  auto shape_it = dict->find("shape");
  if (descr == dict->end() ||
      descr->second.kind != HeaderValue::Kind::kString ||
      fortran == dict->end() ||
      fortran->second.kind != HeaderValue::Kind::kBool ||
      shape_it == dict->end() ||
      shape_it->second.kind != HeaderValue::Kind::kTuple) {
    return bad(".npy header lacks 'descr', 'fortran_order' or 'shape'");
  }
  // numpy writes object arrays ('O', the elements pickled) only with
  // allow_pickle; unpickling runs code, so they are refused as such, by name.
  const std::string& d = descr->second.s;
  if (!d.empty() && d.back() == 'O' && d.size() <= 2) {
    return bad(absl::StrCat(
        "dtype '", d,
        "' holds pickled Python objects, which onnx-crypt never unpickles; "
        "save a numeric array (e.g. np.asarray(a, np.float32))"));
  }
  DType dtype = DType::kUndefined;
  for (const DescrInfo& info : kDescrs) {
    if (descr->second.s == info.descr) dtype = info.dtype;
  }
  if (dtype == DType::kUndefined) {
    return bad(absl::StrCat(
        "dtype '", descr->second.s,
        "' is not supported (little-endian f4, f8, i8, i4, u1, i1, b1)"));
  }
  if (fortran->second.b) {
    return bad(
        "array is in Fortran order; save it C-contiguous "
        "(np.ascontiguousarray)");
  }
  Shape shape = shape_it->second.ints;
  int64_t nbytes = static_cast<int64_t>(DTypeSize(dtype));
  for (int64_t d : shape) {
    if (d < 0 || (d != 0 && nbytes > MemoryBudgetBytes() / d)) {
      return bad(absl::StrCat(
          DTypeName(dtype), ShapeToString(shape), " is ",
          d < 0 ? std::string("not a valid shape") : OverBudgetText()));
    }
    nbytes *= d;
  }
  NpyHeader header;
  header.dtype = dtype;
  header.shape = std::move(shape);
  header.data_offset = header_start + header_len;
  header.nbytes = nbytes;
  return header;
}

// How much of a deflated entry is inflated to read its .npy header first: all
// of any header numpy writes (version 1 headers are at most 64 KiB).
constexpr size_t kNpyHeaderPeekBytes = size_t{1} << 20;

}  // namespace

absl::StatusOr<Tensor> ParseNpy(absl::string_view bytes,
                                const std::string& label) {
  OC_ASSIGN_OR_RETURN(NpyHeader header, ParseNpyHeader(bytes, label));
  const DType dtype = header.dtype;
  const int64_t nbytes = header.nbytes;
  absl::string_view data = bytes.substr(header.data_offset);
  if (static_cast<int64_t>(data.size()) != nbytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        label, ": ", DTypeName(dtype), ShapeToString(header.shape), " needs ",
        nbytes, " bytes of data, the file has ", data.size()));
  }
  Tensor tensor(dtype, std::move(header.shape));
  if (nbytes > 0) std::memcpy(tensor.mutable_raw(), data.data(), data.size());
  if (dtype == DType::kBool) {
    uint8_t* p = tensor.mutable_raw();
    for (int64_t i = 0; i < tensor.numel(); ++i) p[i] = p[i] != 0;
  }
  return tensor;
}

absl::StatusOr<std::string> SerializeNpy(const Tensor& tensor) {
  const char* descr = nullptr;
  for (const DescrInfo& info : kDescrs) {
    if (info.dtype == tensor.dtype()) descr = info.descr;
  }
  if (descr == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot write a ", DTypeName(tensor.dtype()), " array to .npy"));
  }
  std::string dict =
      absl::StrCat("{'descr': '", descr, "', 'fortran_order': False, 'shape': ",
                   ShapeTuple(tensor.shape()), ", }");
  // numpy pads with spaces and ends with '\n' so the data starts at a multiple
  // of 64 bytes.
  const size_t prefix = kNpyMagicLen + 4;
  size_t total = prefix + dict.size() + 1;
  total = (total + 63) / 64 * 64;
  dict.append(total - prefix - dict.size() - 1, ' ');
  dict.push_back('\n');
  if (dict.size() > 0xffff)
    return absl::InvalidArgumentError("shape too long for .npy v1.0");
  std::string out(kNpyMagic, kNpyMagicLen);
  out.push_back(1);
  out.push_back(0);
  PutLe16(&out, static_cast<uint16_t>(dict.size()));
  out += dict;
  out.append(reinterpret_cast<const char*>(tensor.raw()), tensor.nbytes());
  return out;
}

absl::StatusOr<NpzArrays> ParseNpz(absl::string_view bytes,
                                   const std::string& label) {
  OC_ASSIGN_OR_RETURN(std::vector<ZipEntry> entries,
                      ReadCentralDirectory(bytes, label));
  NpzArrays arrays;
  for (const ZipEntry& entry : entries) {
    if (!entry.name.empty() && entry.name.back() == '/') continue;  // a folder
    constexpr absl::string_view kSuffix = ".npy";
    if (entry.name.size() <= kSuffix.size() ||
        absl::string_view(entry.name)
                .substr(entry.name.size() - kSuffix.size()) != kSuffix) {
      return absl::InvalidArgumentError(absl::StrCat(
          label, ": entry '", entry.name, "' is not a .npy array"));
    }
    const std::string name =
        entry.name.substr(0, entry.name.size() - kSuffix.size());
    if (arrays.count(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat(label, ": array '", name, "' appears twice"));
    }
    const std::string array_label = absl::StrCat(label, ": array '", name, "'");
    // A deflated entry is inflated whole before it is parsed, and deflate
    // packs zeros about 1000:1: a few MB can hold gigabytes behind a header
    // that describes a small array. The header says how large the entry must
    // be, so it is read (and checked) first.
    if (entry.method != 0 && entry.uncompressed_size > kNpyHeaderPeekBytes) {
      OC_ASSIGN_OR_RETURN(
          std::string head,
          ReadEntryPrefix(bytes, entry, kNpyHeaderPeekBytes, label));
      OC_ASSIGN_OR_RETURN(NpyHeader header, ParseNpyHeader(head, array_label));
      const uint64_t needed =
          header.data_offset + static_cast<uint64_t>(header.nbytes);
      if (needed != entry.uncompressed_size) {
        return absl::InvalidArgumentError(absl::StrCat(
            array_label, ": its header describes ", DTypeName(header.dtype),
            ShapeToString(header.shape), " (", needed,
            " bytes with the header), but the zip entry holds ",
            entry.uncompressed_size, " bytes"));
      }
    }
    OC_ASSIGN_OR_RETURN(std::string npy, ReadEntry(bytes, entry, label));
    OC_ASSIGN_OR_RETURN(Tensor tensor, ParseNpy(npy, array_label));
    arrays.emplace(name, std::move(tensor));
  }
  return arrays;
}

absl::StatusOr<NpzArrays> LoadNpz(const std::string& path) {
  OC_ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
  return ParseNpz(bytes, path);
}

absl::Status SaveNpz(const std::string& path, const NpzArrays& arrays) {
  std::string zip, central;
  for (const auto& [name, tensor] : arrays) {
    if (name.empty())
      return absl::InvalidArgumentError("an .npz array needs a name");
    absl::StatusOr<std::string> npy = SerializeNpy(tensor);
    if (!npy.ok())
      return Annotate(npy.status(), absl::StrCat(path, ": array '", name, "'"));
    const std::string entry_name = name + ".npy";
    if (npy->size() >= 0xffffffffu || zip.size() >= 0xffffffffu ||
        entry_name.size() > 0xffff || arrays.size() >= 0xffff) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": too large for this writer (no ZIP64 support)"));
    }
    const uint32_t crc = static_cast<uint32_t>(
        crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(npy->data()),
              static_cast<uInt>(npy->size())));
    const uint32_t offset = static_cast<uint32_t>(zip.size());
    const uint32_t size = static_cast<uint32_t>(npy->size());
    // Local header.
    PutLe32(&zip, kLocalHeaderSig);
    PutLe16(&zip, 20);  // version needed: 2.0
    PutLe16(&zip, 0);   // flags
    PutLe16(&zip, 0);   // method: stored
    PutLe16(&zip, 0);   // time
    PutLe16(&zip, kDosDate1980);
    PutLe32(&zip, crc);
    PutLe32(&zip, size);
    PutLe32(&zip, size);
    PutLe16(&zip, static_cast<uint16_t>(entry_name.size()));
    PutLe16(&zip, 0);  // extra length
    zip += entry_name;
    zip += *npy;
    // Central directory entry.
    PutLe32(&central, kCentralHeaderSig);
    PutLe16(&central, 20);  // version made by
    PutLe16(&central, 20);  // version needed
    PutLe16(&central, 0);
    PutLe16(&central, 0);
    PutLe16(&central, 0);
    PutLe16(&central, kDosDate1980);
    PutLe32(&central, crc);
    PutLe32(&central, size);
    PutLe32(&central, size);
    PutLe16(&central, static_cast<uint16_t>(entry_name.size()));
    PutLe16(&central, 0);  // extra
    PutLe16(&central, 0);  // comment
    PutLe16(&central, 0);  // disk
    PutLe16(&central, 0);  // internal attributes
    PutLe32(&central, 0);  // external attributes
    PutLe32(&central, offset);
    central += entry_name;
  }
  if (zip.size() + central.size() >= 0xffffffffu) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": too large for this writer (no ZIP64 support)"));
  }
  const uint32_t cd_offset = static_cast<uint32_t>(zip.size());
  zip += central;
  PutLe32(&zip, kEndOfCentralDirSig);
  PutLe16(&zip, 0);
  PutLe16(&zip, 0);
  PutLe16(&zip, static_cast<uint16_t>(arrays.size()));
  PutLe16(&zip, static_cast<uint16_t>(arrays.size()));
  PutLe32(&zip, static_cast<uint32_t>(central.size()));
  PutLe32(&zip, cd_offset);
  PutLe16(&zip, 0);  // comment length
  return WriteFileAtomically(path, zip);
}

absl::StatusOr<Dataset> LoadDataset(const std::string& path) {
  OC_ASSIGN_OR_RETURN(NpzArrays arrays, LoadNpz(path));
  Dataset dataset;
  auto y = arrays.find("y");
  if (y != arrays.end()) {
    const Tensor& labels = y->second;
    if (labels.dtype() != DType::kInt64 && labels.dtype() != DType::kInt32 &&
        labels.dtype() != DType::kUint8) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": array 'y' must hold int64 (or int32/uint8) labels; it is ",
          labels.DebugString()));
    }
    if (labels.rank() != 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": array 'y' must be 1-D with one label per sample; it is ",
          labels.DebugString()));
    }
    dataset.y = labels.CastTo(DType::kInt64);
    arrays.erase(y);
  }
  if (arrays.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        path,
        ": no array 'x' (nor any array besides 'y'): the samples go in 'x' "
        "for a single-input model, or in one array per model input named "
        "after it"));
  }
  dataset.inputs = std::move(arrays);
  return dataset;
}

}  // namespace onnx_crypt
