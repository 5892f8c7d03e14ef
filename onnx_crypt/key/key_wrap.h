// Passphrase-wrapped keys: a key file encrypted at rest (format: key_format.md,
// "Wrapped key").
//
// A wrapped key is a WrappedKey message (key.proto) around the exact bytes of
// a key file (EncodeKey's output): AES-256-GCM under a 32-byte key derived from
// the passphrase and a random 16-byte salt with scrypt, a random 12-byte nonce,
// and every header field authenticated with the ciphertext. Wrapping is not
// deterministic (fresh salt and nonce each time); what it wraps is, so the
// locked model and the unwrapped key bytes of a lock are the same with or
// without a passphrase.
//
// All functions are thread-safe (OpenSSL 3 needs no locking set up) and keep
// no state. The derived AES key is wiped after use; the passphrase and the
// plaintext key are the caller's strings and are not.
#ifndef ONNX_CRYPT_KEY_KEY_WRAP_H_
#define ONNX_CRYPT_KEY_KEY_WRAP_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "onnx_crypt/key/key.pb.h"

namespace onnx_crypt {

inline constexpr char kWrappedKeyMagic[] = "onnx-crypt-wrapped-key";
inline constexpr uint32_t kWrappedKeyFormatVersion = 1;
inline constexpr char kWrappedKeyKdf[] = "scrypt";
inline constexpr char kWrappedKeyCipher[] = "aes-256-gcm";
inline constexpr size_t kWrappedKeySaltBytes = 16;
inline constexpr size_t kWrappedKeyNonceBytes = 12;
inline constexpr size_t kWrappedKeyTagBytes = 16;

// scrypt's cost parameters. The defaults (N = 2^16, r = 8, p = 1: 64 MiB of
// memory) take about 0.2-0.5 s on one core of a current x86 server: small
// next to loading a model, once per unlock, and memory-hard, so each guess of
// a passphrase costs an attacker the same 64 MiB and fraction of a second.
struct ScryptParams {
  uint64_t n = uint64_t{1} << 16;  // a power of two, >= 2
  uint32_t r = 8;
  uint32_t p = 1;
};

// What a wrapped key may ask for, checked before any work: at most 256 MiB of
// scrypt memory (128 * r * (N + p + 2) bytes, what scrypt allocates) and
// N * r * p <= 2^22 (8 times the default work, a few seconds). A key asking for more is refused at once
// rather than allocating gigabytes or spinning for minutes; WrapKey refuses
// to write one.
inline constexpr uint64_t kMaxScryptMemoryBytes = uint64_t{256} << 20;
inline constexpr uint64_t kMaxScryptWork = uint64_t{1} << 22;

// OK when `params` are valid scrypt parameters within the limits above;
// InvalidArgument naming the parameter otherwise. No work is done.
absl::Status CheckScryptParams(const ScryptParams& params);

// Whether `bytes` are a wrapped key (as opposed to a plain key file): its
// magic field comes first, as every writer puts it, or the whole message
// parses with that magic. A truncated wrapped key with its magic intact still
// counts, so that UnwrapKey can say it is truncated. No crypto.
bool IsWrappedKey(absl::string_view bytes);

// Wraps `key_bytes` (a key file's bytes; their content is not checked) with
// `passphrase`. A new random salt and nonce every call. `params` other than the
// defaults are for tests (cheaper is weaker). Errors: InvalidArgument for an
// empty passphrase, empty key bytes or parameters beyond the limits; Internal
// when OpenSSL fails (no randomness, for one).
absl::StatusOr<std::string> WrapKey(absl::string_view key_bytes,
                                    absl::string_view passphrase,
                                    const ScryptParams& params = {});

// The key file bytes inside a wrapped key. Errors, all before the KDF runs
// except the last:
//  - DataLoss: truncated or malformed (unparseable, a salt, nonce or tag of
//    the wrong size, no ciphertext);
//  - InvalidArgument: not a wrapped key (wrong magic), a newer format version,
//    an unknown KDF or cipher, scrypt parameters beyond the limits, an empty
//    passphrase;
//  - InvalidArgument "wrong passphrase, or the key file was changed" when the
//    GCM tag does not match: a wrong passphrase and any change to the header
//    or ciphertext cannot be told apart, by design.
absl::StatusOr<std::string> UnwrapKey(absl::string_view wrapped,
                                      absl::string_view passphrase);

// The envelope's header (every field but the ciphertext and tag), parsed and
// checked like UnwrapKey does, without a passphrase: for describing a key.
absl::StatusOr<keyfile::WrappedKey> ReadWrappedKeyHeader(
    absl::string_view wrapped);

// ---------------------------------------------------------------- key files
// The passphrase-aware forms of EncodeKey / DecodeKey (key.h) that the API
// uses.

// EncodeKey(key), wrapped with `passphrase` when it has a value.
absl::StatusOr<std::string> EncodeKeyWithPassphrase(
    const keyfile::LockKey& key, const std::optional<std::string>& passphrase);

// The plain key file bytes of a key file: `bytes` as they are when they are
// not a wrapped key, unwrapped otherwise. A wrapped key needs the passphrase:
// without one, InvalidArgument saying the key is protected by a passphrase and
// how to give it; otherwise UnwrapKey's errors. A plain key ignores the
// passphrase, so that old keys keep working where one is configured.
absl::StatusOr<std::string> UnwrapKeyIfWrapped(
    absl::string_view bytes, const std::optional<std::string>& passphrase);

// DecodeKey of UnwrapKeyIfWrapped(bytes, passphrase): the key in a key file,
// plain or wrapped, with both's errors.
absl::StatusOr<keyfile::LockKey> OpenKey(
    absl::string_view bytes, const std::optional<std::string>& passphrase);

// A passphrase file's passphrase: the whole file with one trailing line end
// ("\n" or "\r\n") removed, so that `echo secret > F` and `printf secret > F`
// give the same passphrase; every other byte counts. Errors: NotFound;
// InvalidArgument when it is not a regular file (a directory, a FIFO, a
// device; a symbolic link to a regular file is fine), is larger than 64 KiB
// (not a passphrase file), or the passphrase is empty.
absl::StatusOr<std::string> ReadPassphraseFile(const std::string& path);

// ---------------------------------------------------------------- primitives
// The OpenSSL calls underneath, exposed for known-answer tests.

// scrypt (RFC 7914) of `passphrase` and `salt`: `length` bytes.
// InvalidArgument for parameters beyond the limits; Internal if OpenSSL fails.
absl::StatusOr<std::string> ScryptDerive(absl::string_view passphrase,
                                         absl::string_view salt,
                                         const ScryptParams& params,
                                         size_t length);

// AES-256-GCM with a 12-byte nonce: the ciphertext (as long as `plaintext`)
// followed by the 16-byte tag. InvalidArgument for a key that is not 32 bytes
// or a nonce that is not 12.
absl::StatusOr<std::string> AesGcmSeal(absl::string_view key,
                                       absl::string_view nonce,
                                       absl::string_view aad,
                                       absl::string_view plaintext);
// The inverse: the plaintext, or InvalidArgument when the tag does not match
// (nothing of the plaintext is returned then).
absl::StatusOr<std::string> AesGcmOpen(absl::string_view key,
                                       absl::string_view nonce,
                                       absl::string_view aad,
                                       absl::string_view sealed);

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_KEY_KEY_WRAP_H_
