// The options of one lock as the public API takes them: the lock loop's
// configuration plus where it runs. Shared by a single lock (file or bytes) and
// a batch, so the CLI's `lock` and `lock-batch`, and the Python module, all set
// the same fields.
#ifndef ONNX_CRYPT_LOCK_OPTIONS_H_
#define ONNX_CRYPT_LOCK_OPTIONS_H_

#include <string>

#include "onnx_crypt/lock/locker.h"

namespace onnx_crypt {

struct LockOptions {
  // Budget, target, seed, bias, values per round, candidates, the hardened
  // lock and its stealth quantile and repair target, a progress callback.
  LockConfig config;
  std::string device = "cpu";  // cpu | cuda | auto
  int threads = 0;             // BLAS threads for the CPU engine (0 = default)
};

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_LOCK_OPTIONS_H_
