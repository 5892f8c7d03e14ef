// The wrapped key envelope on OpenSSL's EVP interface: scrypt through
// EVP_PBE_scrypt, AES-256-GCM through EVP_aes_256_gcm, salts and nonces from
// RAND_bytes. Writing either by hand would only add risk; what is ours is the
// envelope, its parameter limits and the associated data (below).
#include "onnx_crypt/key/key_wrap.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <climits>
#include <filesystem>
#include <memory>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "onnx_crypt/base/file.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/key/key.h"

namespace onnx_crypt {

namespace {

constexpr size_t kAesKeyBytes = 32;
constexpr uintmax_t kMaxPassphraseFileBytes = 64 << 10;

// A std::string that is wiped when it goes: for derived keys.
class SecretBytes {
 public:
  explicit SecretBytes(std::string bytes) : bytes_(std::move(bytes)) {}
  ~SecretBytes() { OPENSSL_cleanse(bytes_.data(), bytes_.size()); }
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  const std::string& get() const { return bytes_; }

 private:
  std::string bytes_;
};

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;

const unsigned char* Bytes(absl::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

absl::Status CheckAeadSizes(absl::string_view key, absl::string_view nonce,
                            size_t data_size) {
  if (key.size() != kAesKeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("AES-256-GCM needs a 32-byte key, got ", key.size()));
  }
  if (nonce.size() != kWrappedKeyNonceBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "AES-256-GCM here takes a 12-byte nonce, got ", nonce.size()));
  }
  if (data_size > static_cast<size_t>(INT_MAX)) {
    return absl::InvalidArgumentError("too much data for one AES-GCM message");
  }
  return absl::OkStatus();
}

void AppendU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}
void AppendU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}
void AppendField(std::string& out, absl::string_view bytes) {
  AppendU32(out, static_cast<uint32_t>(bytes.size()));
  out.append(bytes.data(), bytes.size());
}

// The associated data: every header field (1-9) in field order, integers as
// fixed-width little-endian, byte strings with a u32 little-endian length in
// front. Spelled out rather than a re-serialization of the message so that it
// depends on the field values alone (not on how a writer ordered or encoded
// them) and is easy to restate in key_format.md.
std::string AssociatedData(const keyfile::WrappedKey& w) {
  std::string aad;
  AppendField(aad, w.magic());
  AppendU32(aad, w.format_version());
  AppendField(aad, w.kdf());
  AppendU64(aad, w.scrypt_n());
  AppendU32(aad, w.scrypt_r());
  AppendU32(aad, w.scrypt_p());
  AppendField(aad, w.salt());
  AppendField(aad, w.cipher());
  AppendField(aad, w.nonce());
  return aad;
}

// The serialized prefix every writer produces: field 1 (tag 0x0a), its length,
// the magic.
std::string MagicPrefix() {
  const absl::string_view magic = kWrappedKeyMagic;
  std::string prefix;
  prefix.push_back('\x0a');
  prefix.push_back(static_cast<char>(magic.size()));
  prefix.append(magic.data(), magic.size());
  return prefix;
}

// A name read from a file, fit for a message: escaped, at most 32 bytes.
std::string Quoted(absl::string_view bytes) {
  return absl::StrCat("'", absl::CHexEscape(bytes.substr(0, 32)),
                      bytes.size() > 32 ? "...'" : "'");
}

ScryptParams ParamsOf(const keyfile::WrappedKey& w) {
  ScryptParams p;
  p.n = w.scrypt_n();
  p.r = w.scrypt_r();
  p.p = w.scrypt_p();
  return p;
}

// Parses `wrapped` and checks everything that needs no passphrase.
absl::StatusOr<keyfile::WrappedKey> ParseAndCheck(absl::string_view wrapped,
                                                  bool need_body) {
  keyfile::WrappedKey w;
  if (wrapped.empty()) return absl::DataLossError("wrapped key is empty");
  if (wrapped.size() > static_cast<size_t>(INT_MAX) ||
      !w.ParseFromArray(wrapped.data(), static_cast<int>(wrapped.size()))) {
    return absl::DataLossError(
        "wrapped key is truncated or corrupted (cannot be parsed)");
  }
  if (w.magic() != kWrappedKeyMagic) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a passphrase-wrapped onnx-crypt key (magic is ",
                     Quoted(w.magic()), ")"));
  }
  if (w.format_version() == 0 ||
      w.format_version() > kWrappedKeyFormatVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat("wrapped key format version ", w.format_version(),
                     " is not supported (this build reads up to ",
                     kWrappedKeyFormatVersion, ")"));
  }
  if (w.kdf() != kWrappedKeyKdf) {
    return absl::InvalidArgumentError(absl::StrCat(
        "wrapped key uses the key derivation ", Quoted(w.kdf()),
        ", which this build does not know (it knows ", kWrappedKeyKdf, ")"));
  }
  if (w.cipher() != kWrappedKeyCipher) {
    return absl::InvalidArgumentError(absl::StrCat(
        "wrapped key uses the cipher ", Quoted(w.cipher()),
        ", which this build does not know (it knows ", kWrappedKeyCipher, ")"));
  }
  OC_RETURN_IF_ERROR(Annotate(CheckScryptParams(ParamsOf(w)), "wrapped key"));
  struct Field {
    const char* what;
    const std::string& bytes;
    size_t size;
  };
  for (const Field& f : {Field{"salt", w.salt(), kWrappedKeySaltBytes},
                         Field{"nonce", w.nonce(), kWrappedKeyNonceBytes}}) {
    if (f.bytes.size() != f.size) {
      return absl::DataLossError(
          absl::StrCat("wrapped key is truncated or corrupted (its ", f.what,
                       " has ", f.bytes.size(), " bytes, not ", f.size, ")"));
    }
  }
  if (need_body && w.tag().size() != kWrappedKeyTagBytes) {
    return absl::DataLossError(
        absl::StrCat("wrapped key is truncated or corrupted (its tag has ",
                     w.tag().size(), " bytes, not ", kWrappedKeyTagBytes, ")"));
  }
  if (need_body && w.ciphertext().empty()) {
    return absl::DataLossError(
        "wrapped key is truncated or corrupted (no ciphertext)");
  }
  return w;
}

absl::Status RandomBytes(std::string& out, size_t n) {
  out.resize(n);
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()),
                 static_cast<int>(n)) != 1) {
    return absl::InternalError("OpenSSL could not produce random bytes");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckScryptParams(const ScryptParams& params) {
  const uint64_t n = params.n, r = params.r, p = params.p;
  if (n < 2 || (n & (n - 1)) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("scrypt N must be a power of two >= 2, got ", n));
  }
  if (r < 1 || p < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("scrypt r and p must be >= 1, got r=", r, " p=", p));
  }
  // scrypt allocates 128 * r * (N + 2) bytes for its table and 128 * r * p
  // for its blocks. r and p are 32-bit and N and r are bounded first, so no
  // product below overflows 64 bits.
  const uint64_t max_n = kMaxScryptMemoryBytes / 128;
  if (n > max_n || r > max_n || 128 * r * (n + p + 2) > kMaxScryptMemoryBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "scrypt N=", n, " r=", r, " p=", p, " needs more than the ",
        kMaxScryptMemoryBytes >> 20, " MiB this build allows; refused"));
  }
  if (n * r > kMaxScryptWork || n * r * p > kMaxScryptWork) {
    return absl::InvalidArgumentError(
        absl::StrCat("scrypt N=", n, " r=", r, " p=", p,
                     " is more work than this build allows (N*r*p at most ",
                     kMaxScryptWork, "); refused"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ScryptDerive(absl::string_view passphrase,
                                         absl::string_view salt,
                                         const ScryptParams& params,
                                         size_t length) {
  OC_RETURN_IF_ERROR(CheckScryptParams(params));
  std::string out(length, '\0');
  // OpenSSL's own memory cap counts what CheckScryptParams does; set a little
  // above ours so that ours is the one that decides.
  const uint64_t maxmem = kMaxScryptMemoryBytes + (uint64_t{1} << 20);
  const char* pass = passphrase.empty() ? "" : passphrase.data();
  const unsigned char* salt_bytes =
      salt.empty() ? reinterpret_cast<const unsigned char*>("") : Bytes(salt);
  if (EVP_PBE_scrypt(pass, passphrase.size(), salt_bytes, salt.size(), params.n,
                     params.r, params.p, maxmem,
                     reinterpret_cast<unsigned char*>(out.data()),
                     length) != 1) {
    OPENSSL_cleanse(out.data(), out.size());
    return absl::InternalError("OpenSSL scrypt failed");
  }
  return out;
}

absl::StatusOr<std::string> AesGcmSeal(absl::string_view key,
                                       absl::string_view nonce,
                                       absl::string_view aad,
                                       absl::string_view plaintext) {
  OC_RETURN_IF_ERROR(
      CheckAeadSizes(key, nonce, std::max(aad.size(), plaintext.size())));
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  std::string out(plaintext.size() + kWrappedKeyTagBytes, '\0');
  unsigned char* dst = reinterpret_cast<unsigned char*>(out.data());
  int len = 0, total = 0;
  bool ok = ctx != nullptr &&
            EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr,
                               nullptr) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN,
                                static_cast<int>(nonce.size()), nullptr) == 1 &&
            EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, Bytes(key),
                               Bytes(nonce)) == 1;
  if (ok && !aad.empty()) {
    ok = EVP_EncryptUpdate(ctx.get(), nullptr, &len, Bytes(aad),
                           static_cast<int>(aad.size())) == 1;
  }
  if (ok && !plaintext.empty()) {
    ok = EVP_EncryptUpdate(ctx.get(), dst, &len, Bytes(plaintext),
                           static_cast<int>(plaintext.size())) == 1;
    total = len;
  }
  ok = ok && EVP_EncryptFinal_ex(ctx.get(), dst + total, &len) == 1 &&
       total + len == static_cast<int>(plaintext.size()) &&
       EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG,
                           static_cast<int>(kWrappedKeyTagBytes),
                           dst + plaintext.size()) == 1;
  if (!ok) return absl::InternalError("OpenSSL AES-256-GCM encryption failed");
  return out;
}

absl::StatusOr<std::string> AesGcmOpen(absl::string_view key,
                                       absl::string_view nonce,
                                       absl::string_view aad,
                                       absl::string_view sealed) {
  OC_RETURN_IF_ERROR(
      CheckAeadSizes(key, nonce, std::max(aad.size(), sealed.size())));
  if (sealed.size() < kWrappedKeyTagBytes) {
    return absl::InvalidArgumentError("AES-GCM message shorter than its tag");
  }
  const absl::string_view ciphertext =
      sealed.substr(0, sealed.size() - kWrappedKeyTagBytes);
  std::string tag(sealed.substr(ciphertext.size()));
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  std::string out(ciphertext.size(), '\0');
  unsigned char* dst = reinterpret_cast<unsigned char*>(out.data());
  int len = 0, total = 0;
  bool ok = ctx != nullptr &&
            EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr,
                               nullptr) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN,
                                static_cast<int>(nonce.size()), nullptr) == 1 &&
            EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, Bytes(key),
                               Bytes(nonce)) == 1;
  if (ok && !aad.empty()) {
    ok = EVP_DecryptUpdate(ctx.get(), nullptr, &len, Bytes(aad),
                           static_cast<int>(aad.size())) == 1;
  }
  if (ok && !ciphertext.empty()) {
    ok = EVP_DecryptUpdate(ctx.get(), dst, &len, Bytes(ciphertext),
                           static_cast<int>(ciphertext.size())) == 1;
    total = len;
  }
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG,
                                 static_cast<int>(tag.size()), tag.data()) == 1;
  if (!ok) return absl::InternalError("OpenSSL AES-256-GCM decryption failed");
  // The tag is checked here, after the whole message: until then `out` holds
  // unauthenticated bytes, which are wiped, not returned, on a mismatch.
  if (EVP_DecryptFinal_ex(ctx.get(), dst + total, &len) != 1 ||
      total + len != static_cast<int>(out.size())) {
    OPENSSL_cleanse(out.data(), out.size());
    return absl::InvalidArgumentError("AES-GCM tag mismatch");
  }
  return out;
}

bool IsWrappedKey(absl::string_view bytes) {
  static const std::string* const kPrefix = new std::string(MagicPrefix());
  if (absl::StartsWith(bytes, *kPrefix)) return true;
  keyfile::WrappedKey w;
  return bytes.size() <= static_cast<size_t>(INT_MAX) &&
         w.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())) &&
         w.magic() == kWrappedKeyMagic;
}

absl::StatusOr<std::string> WrapKey(absl::string_view key_bytes,
                                    absl::string_view passphrase,
                                    const ScryptParams& params) {
  if (passphrase.empty()) {
    return absl::InvalidArgumentError("the passphrase is empty");
  }
  if (key_bytes.empty()) {
    return absl::InvalidArgumentError("no key bytes to wrap");
  }
  OC_RETURN_IF_ERROR(CheckScryptParams(params));
  keyfile::WrappedKey w;
  w.set_magic(kWrappedKeyMagic);
  w.set_format_version(kWrappedKeyFormatVersion);
  w.set_kdf(kWrappedKeyKdf);
  w.set_scrypt_n(params.n);
  w.set_scrypt_r(params.r);
  w.set_scrypt_p(params.p);
  OC_RETURN_IF_ERROR(RandomBytes(*w.mutable_salt(), kWrappedKeySaltBytes));
  w.set_cipher(kWrappedKeyCipher);
  OC_RETURN_IF_ERROR(RandomBytes(*w.mutable_nonce(), kWrappedKeyNonceBytes));
  OC_ASSIGN_OR_RETURN(std::string derived,
                      ScryptDerive(passphrase, w.salt(), params, kAesKeyBytes));
  const SecretBytes aes_key(std::move(derived));
  OC_ASSIGN_OR_RETURN(
      std::string sealed,
      AesGcmSeal(aes_key.get(), w.nonce(), AssociatedData(w), key_bytes));
  w.set_tag(sealed.substr(sealed.size() - kWrappedKeyTagBytes));
  sealed.resize(sealed.size() - kWrappedKeyTagBytes);
  w.set_ciphertext(std::move(sealed));
  return SerializeDeterministic(w);
}

absl::StatusOr<keyfile::WrappedKey> ReadWrappedKeyHeader(
    absl::string_view wrapped) {
  OC_ASSIGN_OR_RETURN(keyfile::WrappedKey w,
                      ParseAndCheck(wrapped, /*need_body=*/false));
  w.clear_ciphertext();
  w.clear_tag();
  return w;
}

absl::StatusOr<std::string> UnwrapKey(absl::string_view wrapped,
                                      absl::string_view passphrase) {
  OC_ASSIGN_OR_RETURN(const keyfile::WrappedKey w,
                      ParseAndCheck(wrapped, /*need_body=*/true));
  if (passphrase.empty()) {
    return absl::InvalidArgumentError("the passphrase is empty");
  }
  OC_ASSIGN_OR_RETURN(
      std::string derived,
      ScryptDerive(passphrase, w.salt(), ParamsOf(w), kAesKeyBytes));
  const SecretBytes aes_key(std::move(derived));
  absl::StatusOr<std::string> key_bytes =
      AesGcmOpen(aes_key.get(), w.nonce(), AssociatedData(w),
                 absl::StrCat(w.ciphertext(), w.tag()));
  if (absl::IsInvalidArgument(key_bytes.status())) {
    return absl::InvalidArgumentError(
        "wrong passphrase, or the key file was changed (the wrapped key's "
        "authentication tag does not match)");
  }
  return key_bytes;
}

absl::StatusOr<std::string> EncodeKeyWithPassphrase(
    const keyfile::LockKey& key, const std::optional<std::string>& passphrase) {
  std::string bytes = EncodeKey(key);
  if (!passphrase.has_value()) return bytes;
  return WrapKey(bytes, *passphrase);
}

absl::StatusOr<std::string> UnwrapKeyIfWrapped(
    absl::string_view bytes, const std::optional<std::string>& passphrase) {
  if (!IsWrappedKey(bytes)) return std::string(bytes);
  if (!passphrase.has_value()) {
    return absl::InvalidArgumentError(
        "the key is protected by a passphrase, and none was given (command "
        "line: --passphrase-file FILE, or the environment variable "
        "ONNX_CRYPT_PASSPHRASE_FILE naming one; Python: passphrase=...)");
  }
  return UnwrapKey(bytes, *passphrase);
}

absl::StatusOr<keyfile::LockKey> OpenKey(
    absl::string_view bytes, const std::optional<std::string>& passphrase) {
  // What the tag vouches for was written by EncodeKey: still decoded with
  // every check, like a plain key.
  OC_ASSIGN_OR_RETURN(const std::string key_bytes,
                      UnwrapKeyIfWrapped(bytes, passphrase));
  return DecodeKey(key_bytes);
}

absl::StatusOr<std::string> ReadPassphraseFile(const std::string& path) {
  std::error_code ec;
  const std::filesystem::file_status st = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(st)) {
    return absl::NotFoundError(absl::StrCat(path, ": no such passphrase file"));
  }
  if (!std::filesystem::is_regular_file(st)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": is ",
                     std::filesystem::is_directory(st) ? "a directory"
                                                       : "not a regular file",
                     " (a passphrase file must be a regular file)"));
  }
  const uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec || size > kMaxPassphraseFileBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": too large for a passphrase file (more than ",
                     kMaxPassphraseFileBytes >> 10, " KiB)"));
  }
  OC_ASSIGN_OR_RETURN(std::string passphrase, ReadFile(path));
  if (absl::EndsWith(passphrase, "\r\n")) {
    passphrase.resize(passphrase.size() - 2);
  } else if (absl::EndsWith(passphrase, "\n")) {
    passphrase.pop_back();
  }
  if (passphrase.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": the passphrase file is empty"));
  }
  return passphrase;
}

}  // namespace onnx_crypt
