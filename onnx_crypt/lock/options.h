// The options of one lock as the public API takes them: the lock loop's
// configuration plus where it runs. Shared by a single lock (file or bytes) and
// a batch, so the CLI's `lock` and `lock-batch`, and the Python module, all set
// the same fields.
#ifndef ONNX_CRYPT_LOCK_OPTIONS_H_
#define ONNX_CRYPT_LOCK_OPTIONS_H_

#include <optional>
#include <string>

#include "onnx_crypt/lock/locker.h"

namespace onnx_crypt {

struct LockOptions {
  // Budget, target, seed, bias, values per round, candidates, the hardened
  // lock and its stealth quantile and repair target, a progress callback.
  LockConfig config;
  std::string device = "cpu";  // cpu | cuda | auto
  int threads = 0;             // BLAS threads for the CPU engine (0 = default)
  // When set, every key written or returned is wrapped with this passphrase
  // (key/key_wrap.h: scrypt + AES-256-GCM, a fresh salt and nonce per key);
  // the locked model and the key inside do not change. Must not be empty.
  std::optional<std::string> passphrase;
  // The classification output, by name, when the model has several ("" =
  // the first); engine/classifier.h.
  std::string output;
};

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_LOCK_OPTIONS_H_
