#include "onnx_crypt/key/key.h"

#include <openssl/evp.h>

#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/ir/tensor.h"

namespace onnx_crypt {

namespace {

// Incremental SHA-256 through OpenSSL's EVP interface (libcrypto is already a
// dependency for this; writing SHA-256 by hand would only add risk).
class Sha256Hasher {
 public:
  Sha256Hasher() : ctx_(EVP_MD_CTX_new()) {
    EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr);
  }
  ~Sha256Hasher() { EVP_MD_CTX_free(ctx_); }
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;
  void Update(const void* data, size_t n) { EVP_DigestUpdate(ctx_, data, n); }
  void UpdateU64(uint64_t v) {
    unsigned char b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>(v >> (8 * i));
    Update(b, 8);
  }
  std::string Finish() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_, digest, &len);
    return std::string(reinterpret_cast<char*>(digest), len);
  }

 private:
  EVP_MD_CTX* ctx_;
};

}  // namespace

std::string SerializeDeterministic(const google::protobuf::MessageLite& msg) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    msg.SerializeToCodedStream(&coded);
  }
  return out;
}

bool KeyFingerprintsWholeModel(const keyfile::LockKey& key) {
  return !key.model_structure_sha256().empty();
}

std::string Sha256(absl::string_view data) {
  Sha256Hasher h;
  h.Update(data.data(), data.size());
  return h.Finish();
}

std::string HexString(absl::string_view bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

std::string TensorSha256(const Tensor& tensor) {
  Sha256Hasher h;
  h.Update(tensor.raw(), tensor.nbytes());
  return h.Finish();
}

struct InitializersSha256::State {
  Sha256Hasher h;
};

InitializersSha256::InitializersSha256() : state_(std::make_unique<State>()) {}
InitializersSha256::~InitializersSha256() = default;

void InitializersSha256::Add(const std::string& name, const Tensor& t) {
  Sha256Hasher& h = state_->h;
  h.UpdateU64(name.size());
  h.Update(name.data(), name.size());
  h.UpdateU64(static_cast<uint64_t>(t.dtype()));
  h.UpdateU64(t.shape().size());
  for (int64_t d : t.shape()) h.UpdateU64(static_cast<uint64_t>(d));
  h.UpdateU64(t.nbytes());
  h.Update(t.raw(), t.nbytes());
}

std::string InitializersSha256::Finish() { return state_->h.Finish(); }

std::string GraphInitializersSha256(const Graph& graph) {
  InitializersSha256 h;
  for (const std::string& name : graph.initializer_order) {
    auto it = graph.initializers.find(name);
    if (it == graph.initializers.end()) continue;
    h.Add(name, it->second);
  }
  return h.Finish();
}

std::string EncodeKey(const keyfile::LockKey& key) {
  keyfile::KeyFile file;
  file.set_magic(kKeyMagic);
  file.set_format_version(kKeyFormatVersion);
  file.set_payload(SerializeDeterministic(key));
  file.set_payload_sha256(Sha256(file.payload()));
  return SerializeDeterministic(file);
}

absl::Status ValidateKey(const keyfile::LockKey& key) {
  std::map<std::string, const keyfile::TensorFingerprint*> tensors;
  for (const keyfile::TensorFingerprint& fp : key.tensors()) {
    if (!tensors.emplace(fp.name(), &fp).second) {
      return absl::DataLossError(
          absl::StrCat("key fingerprints tensor '", fp.name(), "' twice"));
    }
    if (fp.sha256_original().size() != 32 || fp.sha256_locked().size() != 32) {
      return absl::DataLossError(absl::StrCat(
          "key has a malformed fingerprint for tensor '", fp.name(), "'"));
    }
  }
  if (key.model_sha256_original().size() != 32 ||
      key.model_sha256_locked().size() != 32) {
    return absl::DataLossError("key has malformed model fingerprints");
  }
  if (KeyFingerprintsWholeModel(key) &&
      key.model_structure_sha256().size() != 32) {
    return absl::DataLossError("key has a malformed whole-model fingerprint");
  }
  if (key.values_size() == 0)
    return absl::DataLossError("key holds no locked values");
  std::set<std::pair<std::string, int64_t>> seen;
  for (const keyfile::LockedValue& v : key.values()) {
    auto it = tensors.find(v.tensor());
    if (it == tensors.end()) {
      return absl::DataLossError(
          absl::StrCat("key value refers to tensor '", v.tensor(),
                       "' which the key does not fingerprint"));
    }
    const keyfile::TensorFingerprint& fp = *it->second;
    absl::StatusOr<int64_t> checked_numel =
        CheckedNumElements(Shape(fp.dims().begin(), fp.dims().end()));
    if (!checked_numel.ok()) {
      return absl::DataLossError(absl::StrCat(
          "key fingerprint of tensor '", fp.name(),
          "' has a malformed shape: ", checked_numel.status().message()));
    }
    const int64_t numel = *checked_numel;
    const size_t elem = DTypeSize(static_cast<DType>(fp.data_type()));
    if (v.index() < 0 || v.index() >= numel) {
      return absl::DataLossError(
          absl::StrCat("key value index ", v.index(), " is outside tensor '",
                       v.tensor(), "' of ", numel, " elements"));
    }
    if (elem == 0 || v.original().size() != elem || v.locked().size() != elem) {
      return absl::DataLossError(absl::StrCat("key value ", v.tensor(), "[",
                                              v.index(),
                                              "] has bytes of the wrong size"));
    }
    if (!seen.emplace(v.tensor(), v.index()).second) {
      return absl::DataLossError(
          absl::StrCat("key locks ", v.tensor(), "[", v.index(), "] twice"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<keyfile::LockKey> DecodeKey(absl::string_view bytes) {
  keyfile::KeyFile file;
  if (bytes.empty()) return absl::DataLossError("key file is empty");
  if (!file.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError(
        "key file is truncated or corrupted (cannot be parsed)");
  }
  if (file.magic() != kKeyMagic) {
    return absl::InvalidArgumentError(
        absl::StrCat("not an onnx-crypt key (magic is '", file.magic(), "')"));
  }
  if (file.format_version() == 0 || file.format_version() > kKeyFormatVersion) {
    return absl::InvalidArgumentError(absl::StrCat(
        "key format version ", file.format_version(),
        " is not supported (this build reads up to ", kKeyFormatVersion, ")"));
  }
  if (Sha256(file.payload()) != file.payload_sha256()) {
    return absl::DataLossError(
        "key file is corrupted (payload checksum mismatch)");
  }
  keyfile::LockKey key;
  if (!key.ParseFromString(file.payload())) {
    return absl::DataLossError("key payload is corrupted (cannot be parsed)");
  }
  OC_RETURN_IF_ERROR(ValidateKey(key));
  return key;
}

}  // namespace onnx_crypt
