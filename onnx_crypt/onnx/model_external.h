// The external-data side of loading an ONNX model (model.cc): opening and
// checking every file a model's tensors reference, and inlining their bytes
// into a copy for the checker, shape inference and serialization. Covers every
// tensor of the model: initializers, sparse initializers, tensor attributes,
// and those of subgraphs and functions.
#ifndef ONNX_CRYPT_ONNX_MODEL_EXTERNAL_H_
#define ONNX_CRYPT_ONNX_MODEL_EXTERNAL_H_

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "onnx_crypt/onnx/tensor_proto.h"  // ExternalFiles

namespace onnx_crypt {

// External tensors up to this size are inlined with their real bytes into the
// copy the checker and shape inference see (shape inference reads the values
// of small constants: infer_shapes.h); larger ones get a one-element
// placeholder, so the copy costs no memory. The checker (libonnx 1.12) checks
// that a tensor has exactly one value field, not the length of raw_data, and
// our own decoder checks every external range (LoadExternalFiles).
inline constexpr int64_t kInlineForChecksBytes = int64_t{64} << 10;

// Opens every external data file the model references (ExternalData reads
// them in place, only the tensors that are decoded) and checks each external
// tensor's location, offset and length against them.
absl::Status LoadExternalFiles(onnx::ModelProto* model,
                               const std::string& base_dir,
                               ExternalFiles* files);

// Replaces every external tensor's location by raw_data holding its bytes
// (with `placeholders`, only those up to kInlineForChecksBytes; larger ones get
// the bytes of one element instead).
absl::Status InlineExternal(onnx::ModelProto* model, const ExternalFiles& files,
                            bool placeholders);

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_ONNX_MODEL_EXTERNAL_H_
