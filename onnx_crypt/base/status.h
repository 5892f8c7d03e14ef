// Status helpers used by every library file.
//
// Library code returns absl::Status / absl::StatusOr<T>; it never throws, exits
// or aborts. Only tools/ turns a Status into a message and an exit code.
#ifndef ONNX_CRYPT_BASE_STATUS_H_
#define ONNX_CRYPT_BASE_STATUS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

#define OC_CONCAT_INNER_(a, b) a##b
#define OC_CONCAT_(a, b) OC_CONCAT_INNER_(a, b)

// Returns from the enclosing function when `expr` (an absl::Status) is not OK.
#define OC_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::absl::Status oc_status_ = (expr);      \
    if (!oc_status_.ok()) return oc_status_; \
  } while (0)

// `lhs` = value of `rexpr` (an absl::StatusOr<T>), or returns its error.
#define OC_ASSIGN_OR_RETURN(lhs, rexpr) \
  OC_ASSIGN_OR_RETURN_IMPL_(OC_CONCAT_(oc_statusor_, __LINE__), lhs, rexpr)
#define OC_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                              \
  if (!tmp.ok()) return tmp.status();              \
  lhs = std::move(tmp).value()

namespace onnx_crypt {

// Prefixes `status`'s message with `context` ("context: message"), keeping its
// code.
inline absl::Status Annotate(const absl::Status& status,
                             absl::string_view context) {
  if (status.ok()) return status;
  return absl::Status(status.code(),
                      absl::StrCat(context, ": ", status.message()));
}

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_BASE_STATUS_H_
