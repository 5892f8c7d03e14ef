// Conversion between onnx::TensorProto and our host Tensor, in every storage
// form ONNX allows.
//
// Storage forms (onnx.proto, TensorProto):
//  - raw_data: little-endian bytes, numel * element size of them;
//  - typed fields: float_data (float32), double_data (float64), int64_data
//  (int64),
//    uint64_data (uint32, uint64), int32_data (int32, and the bits of int8,
//    uint8, int16, uint16, bool, float16, bfloat16: one element per int32);
//  - external data (data_location = EXTERNAL): external_data keys "location" (a
//  path relative to
//    the model's folder), "offset" and "length" (decimal bytes) name a byte
//    range of a file.
// float16 and bfloat16 stay raw 2-byte elements in the Tensor. String, complex
// and segmented tensors are Unimplemented. Errors name the tensor. The host
// must be little-endian (checked at compile time). Functions here are
// thread-compatible.
#ifndef ONNX_CRYPT_ONNX_TENSOR_PROTO_H_
#define ONNX_CRYPT_ONNX_TENSOR_PROTO_H_

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "onnx_crypt/ir/tensor.h"
#include "onnx_crypt/onnx/external_data.h"

namespace onnx_crypt {

// External data files of one model (external_data.h: read in place, written
// as patches).
using ExternalFiles = ExternalData;

// Where the bytes of an external tensor live.
struct ExternalDataRef {
  std::string location;  // normalized, relative to the model's folder
  int64_t offset = 0;
  int64_t length = 0;  // == numel * element size
};

// Normalizes a relative location lexically ("a/./b" -> "a/b"). InvalidArgument
// for an empty or absolute path, or one that leaves the folder after
// normalization ("../x", "a/../../x"). `tensor_name` is used in the message.
absl::StatusOr<std::string> NormalizeExternalLocation(
    const std::string& location, const std::string& tensor_name);

// Reads and validates the external_data entries of an EXTERNAL tensor
// (location, offset, length; a missing length means numel * element size). Does
// not look at the file.
absl::StatusOr<ExternalDataRef> ParseExternalDataRef(
    const onnx::TensorProto& proto);

// The tensor's shape and element type, validated (known dtype, non-negative
// dims, size that fits in memory).
absl::StatusOr<Shape> TensorProtoShape(const onnx::TensorProto& proto);
absl::StatusOr<DType> TensorProtoDType(const onnx::TensorProto& proto);

// Decodes `proto`. `external` supplies the bytes of external tensors (nullptr:
// external tensors are an error). InvalidArgument when the data does not match
// the shape and type.
absl::StatusOr<Tensor> TensorFromProto(const onnx::TensorProto& proto,
                                       const ExternalFiles* external = nullptr);

// Replaces the values of `proto` with those of `value`, keeping its storage
// form: raw_data stays raw_data, a typed field stays that field with the same
// length, an external tensor has its byte range in `external` written (kept
// as patches of the bytes that differ).
// `value` must have the proto's dtype and shape.
absl::Status WriteTensorValues(const Tensor& value, onnx::TensorProto* proto,
                               ExternalFiles* external);

// Parses a serialized TensorProto file (the input_N.pb / output_N.pb of ONNX
// test data) and decodes it. External data is not supported here.
absl::StatusOr<Tensor> LoadTensorProtoFile(const std::string& path);

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_ONNX_TENSOR_PROTO_H_
