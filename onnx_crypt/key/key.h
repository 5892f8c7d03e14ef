// Key file encoding, validation and fingerprints (format: key_format.md).
#ifndef ONNX_CRYPT_KEY_KEY_H_
#define ONNX_CRYPT_KEY_KEY_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "onnx_crypt/base/file.h"
#include "onnx_crypt/ir/graph.h"
#include "onnx_crypt/ir/tensor.h"
#include "onnx_crypt/key/key.pb.h"

namespace onnx_crypt {

inline constexpr char kKeyMagic[] = "onnx-crypt-key";
inline constexpr uint32_t kKeyFormatVersion = 1;
// Permission bits of the key files we write (plain or wrapped): owner only.
inline constexpr mode_t kKeyFileMode = kSecretFileMode;

// Wraps `key` in a KeyFile with its checksum; deterministic bytes.
std::string EncodeKey(const keyfile::LockKey& key);

// Parses and validates a key file's bytes:
//  - DataLoss: truncated or corrupted (unparseable, checksum mismatch,
//  inconsistent content);
//  - InvalidArgument: not a key file (wrong magic), or a newer format version.
absl::StatusOr<keyfile::LockKey> DecodeKey(absl::string_view bytes);

// Checks internal consistency: every value's tensor is fingerprinted, indices
// are inside the fingerprinted shape, byte sizes match the element type, no
// (tensor, index) appears twice.
absl::Status ValidateKey(const keyfile::LockKey& key);

// Whether `key` fingerprints the locked model as a whole (graph and metadata
// too, LockKey.model_structure_sha256), not only its initializers: false for
// keys written before that field existed.
bool KeyFingerprintsWholeModel(const keyfile::LockKey& key);

// `msg` serialized with protobuf's deterministic serialization: the same
// message gives the same bytes (keys and their envelopes).
std::string SerializeDeterministic(const google::protobuf::MessageLite& msg);

// SHA-256 (32 raw bytes) and its lowercase hex form.
std::string Sha256(absl::string_view data);
std::string HexString(absl::string_view bytes);

// SHA-256 of a tensor's element bytes.
std::string TensorSha256(const Tensor& tensor);
// SHA-256 over all initializers (name, dtype, dims, bytes) in file order.
std::string GraphInitializersSha256(const Graph& graph);

// The same digest one initializer at a time, for a model too large to decode
// whole (issue #12): Add every initializer in file order, then Finish() equals
// GraphInitializersSha256 of a graph holding them. Single use.
class InitializersSha256 {
 public:
  InitializersSha256();
  ~InitializersSha256();
  InitializersSha256(const InitializersSha256&) = delete;
  InitializersSha256& operator=(const InitializersSha256&) = delete;
  void Add(const std::string& name, const Tensor& t);
  std::string Finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_KEY_KEY_H_
