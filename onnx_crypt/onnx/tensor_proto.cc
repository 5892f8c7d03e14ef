// TensorProto <-> Tensor. The decoder checks every size against the shape
// before allocating, so a corrupt file whose dims claim terabytes gives an
// error instead of a failed allocation.
#include "onnx_crypt/onnx/tensor_proto.h"

#include <climits>
#include <cstring>
#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "onnx_crypt/base/file.h"
#include "onnx_crypt/base/memory_budget.h"
#include "onnx_crypt/base/status.h"

namespace onnx_crypt {

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error \
    "onnx_crypt reads ONNX raw_data as host memory and needs a little-endian host"
#endif

namespace {

// Tensors larger than the memory budget (base/memory_budget.h) are refused
// before anything is allocated for them, naming the tensor.

// The typed repeated field that holds elements of a dtype when raw_data is not
// used.
enum class TypedField { kFloat, kDouble, kInt32, kInt64, kUint64, kNone };

TypedField TypedFieldFor(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
      return TypedField::kFloat;
    case DType::kFloat64:
      return TypedField::kDouble;
    case DType::kInt64:
      return TypedField::kInt64;
    case DType::kUint32:
    case DType::kUint64:
      return TypedField::kUint64;
    case DType::kInt32:
    case DType::kInt16:
    case DType::kInt8:
    case DType::kUint16:
    case DType::kUint8:
    case DType::kBool:
    case DType::kFloat16:
    case DType::kBFloat16:
      return TypedField::kInt32;
    default:
      return TypedField::kNone;
  }
}

const char* TypedFieldName(TypedField field) {
  switch (field) {
    case TypedField::kFloat:
      return "float_data";
    case TypedField::kDouble:
      return "double_data";
    case TypedField::kInt32:
      return "int32_data";
    case TypedField::kInt64:
      return "int64_data";
    case TypedField::kUint64:
      return "uint64_data";
    case TypedField::kNone:
      break;
  }
  return "(none)";
}

int64_t TypedFieldSize(const onnx::TensorProto& proto, TypedField field) {
  switch (field) {
    case TypedField::kFloat:
      return proto.float_data_size();
    case TypedField::kDouble:
      return proto.double_data_size();
    case TypedField::kInt32:
      return proto.int32_data_size();
    case TypedField::kInt64:
      return proto.int64_data_size();
    case TypedField::kUint64:
      return proto.uint64_data_size();
    case TypedField::kNone:
      break;
  }
  return 0;
}

std::string TensorLabel(const onnx::TensorProto& proto) {
  return absl::StrCat("tensor '", proto.name(), "'");
}

template <typename Dst, typename Src>
void CopyElements(const google::protobuf::RepeatedField<Src>& src,
                  Tensor* dst) {
  Dst* out = dst->mutable_data<Dst>();
  for (int64_t i = 0; i < dst->numel(); ++i)
    out[i] = static_cast<Dst>(src.Get(static_cast<int>(i)));
}

// int32_data keeps one element per int32: the value for signed/unsigned
// integers and bool, the 16 bits for float16/bfloat16.
void CopyFromInt32Data(const onnx::TensorProto& proto, Tensor* dst) {
  const auto& src = proto.int32_data();
  switch (dst->dtype()) {
    case DType::kInt32:
      CopyElements<int32_t>(src, dst);
      break;
    case DType::kInt16:
      CopyElements<int16_t>(src, dst);
      break;
    case DType::kInt8:
      CopyElements<int8_t>(src, dst);
      break;
    case DType::kUint16:
    case DType::kFloat16:
    case DType::kBFloat16:
      CopyElements<uint16_t>(src, dst);
      break;
    case DType::kUint8:
      CopyElements<uint8_t>(src, dst);
      break;
    case DType::kBool: {
      uint8_t* out = dst->mutable_raw();
      for (int64_t i = 0; i < dst->numel(); ++i)
        out[i] = src.Get(static_cast<int>(i)) != 0;
      break;
    }
    default:
      break;
  }
}

template <typename Src, typename Dst>
void StoreElements(const Tensor& src,
                   google::protobuf::RepeatedField<Dst>* dst) {
  const Src* in = src.data<Src>();
  for (int64_t i = 0; i < src.numel(); ++i)
    dst->Set(static_cast<int>(i), static_cast<Dst>(in[i]));
}

void StoreToInt32Data(const Tensor& src, onnx::TensorProto* proto) {
  auto* dst = proto->mutable_int32_data();
  switch (src.dtype()) {
    case DType::kInt32:
      StoreElements<int32_t>(src, dst);
      break;
    case DType::kInt16:
      StoreElements<int16_t>(src, dst);
      break;
    case DType::kInt8:
      StoreElements<int8_t>(src, dst);
      break;
    case DType::kUint16:
    case DType::kFloat16:
    case DType::kBFloat16:
      StoreElements<uint16_t>(src, dst);
      break;
    case DType::kUint8:
      StoreElements<uint8_t>(src, dst);
      break;
    case DType::kBool: {
      const uint8_t* in = src.raw();
      for (int64_t i = 0; i < src.numel(); ++i)
        dst->Set(static_cast<int>(i), in[i] != 0);
      break;
    }
    default:
      break;
  }
}

// Byte size of the tensor's data, checked against the memory budget.
absl::StatusOr<int64_t> ExpectedBytes(const onnx::TensorProto& proto) {
  OC_ASSIGN_OR_RETURN(DType dtype, TensorProtoDType(proto));
  OC_ASSIGN_OR_RETURN(Shape shape, TensorProtoShape(proto));
  OC_RETURN_IF_ERROR(
      Annotate(CheckTensorSize(dtype, shape), TensorLabel(proto)));
  return NumElements(shape) * static_cast<int64_t>(DTypeSize(dtype));
}

// The byte range of an external tensor, checked to lie inside its (in-memory)
// file.
absl::StatusOr<ExternalDataRef> LocateExternal(const onnx::TensorProto& proto,
                                               const ExternalFiles* external) {
  OC_ASSIGN_OR_RETURN(ExternalDataRef ref, ParseExternalDataRef(proto));
  if (external == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(TensorLabel(proto), " has external data ('", ref.location,
                     "') but no external data files were loaded"));
  }
  if (!external->Has(ref.location)) {
    return absl::InvalidArgumentError(
        absl::StrCat(TensorLabel(proto), ": external data file '", ref.location,
                     "' was not loaded"));
  }
  const int64_t file_size = external->FileSize(ref.location);
  if (ref.offset > file_size || ref.length > file_size - ref.offset) {
    return absl::InvalidArgumentError(absl::StrCat(
        TensorLabel(proto), ": external data range of ", ref.length,
        " bytes at offset ", ref.offset, " lies outside '", ref.location, "' (",
        file_size, " bytes)"));
  }
  return ref;
}

}  // namespace

absl::StatusOr<std::string> NormalizeExternalLocation(
    const std::string& location, const std::string& tensor_name) {
  const std::string label = absl::StrCat(
      "tensor '", tensor_name, "': external data location '", location, "'");
  if (location.empty())
    return absl::InvalidArgumentError(absl::StrCat(label, " is empty"));
  if (location.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(label, " contains a NUL byte"));
  }
  std::filesystem::path path(location);
  if (path.is_absolute() || path.has_root_directory() || location[0] == '/') {
    return absl::InvalidArgumentError(absl::StrCat(
        label, " is absolute; it must be relative to the model's folder"));
  }
  std::filesystem::path normal = path.lexically_normal();
  if (normal.empty() || normal == "." || !normal.has_filename()) {
    return absl::InvalidArgumentError(
        absl::StrCat(label, " does not name a file"));
  }
  if (*normal.begin() == "..") {
    return absl::InvalidArgumentError(absl::StrCat(
        label, " leaves the model's folder; only paths inside it are allowed"));
  }
  return normal.generic_string();
}

absl::StatusOr<DType> TensorProtoDType(const onnx::TensorProto& proto) {
  const int32_t type = proto.data_type();
  DType dtype = static_cast<DType>(type);
  switch (dtype) {
    case DType::kUndefined:
      return absl::InvalidArgumentError(
          absl::StrCat(TensorLabel(proto), " has no data_type"));
    case DType::kString:
      return absl::UnimplementedError(absl::StrCat(
          TensorLabel(proto), ": string tensors are not supported"));
    default:
      if (DTypeSize(dtype) == 0) {
        return absl::UnimplementedError(
            absl::StrCat(TensorLabel(proto), ": data_type ", type,
                         " is not supported (complex or unknown)"));
      }
      return dtype;
  }
}

absl::StatusOr<Shape> TensorProtoShape(const onnx::TensorProto& proto) {
  Shape shape(proto.dims().begin(), proto.dims().end());
  int64_t numel = 1;
  for (int64_t d : shape) {
    if (d < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(TensorLabel(proto),
                       " has a negative dimension: ", ShapeToString(shape)));
    }
    // 2^60 bytes at 8 bytes per element: beyond any budget, and the products
    // below cannot overflow.
    if (d != 0 && numel > (int64_t{1} << 57) / d) {
      return absl::InvalidArgumentError(absl::StrCat(
          TensorLabel(proto), " is implausibly large: ", ShapeToString(shape)));
    }
    numel *= d;
  }
  return shape;
}

absl::StatusOr<ExternalDataRef> ParseExternalDataRef(
    const onnx::TensorProto& proto) {
  if (proto.data_location() != onnx::TensorProto::EXTERNAL) {
    return absl::InvalidArgumentError(
        absl::StrCat(TensorLabel(proto), " does not have external data"));
  }
  OC_ASSIGN_OR_RETURN(int64_t expected, ExpectedBytes(proto));
  ExternalDataRef ref;
  bool has_location = false, has_offset = false, has_length = false;
  for (const auto& entry : proto.external_data()) {
    const std::string& key = entry.key();
    if (key == "location") {
      if (has_location) {
        return absl::InvalidArgumentError(absl::StrCat(
            TensorLabel(proto), " has two external_data 'location' entries"));
      }
      has_location = true;
      OC_ASSIGN_OR_RETURN(
          ref.location, NormalizeExternalLocation(entry.value(), proto.name()));
    } else if (key == "offset" || key == "length") {
      bool& seen = key == "offset" ? has_offset : has_length;
      if (seen) {
        return absl::InvalidArgumentError(absl::StrCat(
            TensorLabel(proto), " has two external_data '", key, "' entries"));
      }
      seen = true;
      int64_t value = 0;
      if (!absl::SimpleAtoi(entry.value(), &value) || value < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(TensorLabel(proto), ": external_data '", key,
                         "' is not a byte count: '", entry.value(), "'"));
      }
      (key == "offset" ? ref.offset : ref.length) = value;
    }
    // "checksum" and unknown keys carry no layout information.
  }
  if (!has_location) {
    return absl::InvalidArgumentError(absl::StrCat(
        TensorLabel(proto), " has external data without a 'location'"));
  }
  if (!has_length) ref.length = expected;
  if (ref.length != expected) {
    return absl::InvalidArgumentError(absl::StrCat(
        TensorLabel(proto), ": external data length ", ref.length,
        " does not match ", expected, " bytes for ",
        DTypeName(static_cast<DType>(proto.data_type())),
        ShapeToString(Shape(proto.dims().begin(), proto.dims().end()))));
  }
  return ref;
}

absl::StatusOr<Tensor> TensorFromProto(const onnx::TensorProto& proto,
                                       const ExternalFiles* external) {
  OC_ASSIGN_OR_RETURN(DType dtype, TensorProtoDType(proto));
  OC_ASSIGN_OR_RETURN(Shape shape, TensorProtoShape(proto));
  if (proto.has_segment()) {
    return absl::UnimplementedError(absl::StrCat(
        TensorLabel(proto), ": segmented tensors are not supported"));
  }
  OC_RETURN_IF_ERROR(
      Annotate(CheckTensorSize(dtype, shape), TensorLabel(proto)));
  const int64_t numel = NumElements(shape);
  const int64_t nbytes = numel * static_cast<int64_t>(DTypeSize(dtype));
  const std::string desc = absl::StrCat(DTypeName(dtype), ShapeToString(shape));

  if (proto.data_location() == onnx::TensorProto::EXTERNAL) {
    OC_ASSIGN_OR_RETURN(ExternalDataRef ref, LocateExternal(proto, external));
    // Every byte is read from the file: no need to zero it first.
    Tensor tensor = Tensor::Uninitialized(dtype, std::move(shape));
    if (nbytes > 0) {
      OC_RETURN_IF_ERROR(Annotate(external->Read(ref.location, ref.offset,
                                                 nbytes, tensor.mutable_raw()),
                                  TensorLabel(proto)));
    }
    return tensor;
  }
  if (proto.has_raw_data()) {
    if (static_cast<int64_t>(proto.raw_data().size()) != nbytes) {
      return absl::InvalidArgumentError(
          absl::StrCat(TensorLabel(proto), " has ", proto.raw_data().size(),
                       " bytes of raw_data; ", desc, " needs ", nbytes));
    }
    Tensor tensor(dtype, std::move(shape));
    if (nbytes > 0)
      std::memcpy(tensor.mutable_raw(), proto.raw_data().data(), nbytes);
    return tensor;
  }
  const TypedField field = TypedFieldFor(dtype);
  const int64_t count = TypedFieldSize(proto, field);
  if (count != numel) {
    return absl::InvalidArgumentError(
        absl::StrCat(TensorLabel(proto), " has ", count, " values in ",
                     TypedFieldName(field), "; ", desc, " needs ", numel));
  }
  Tensor tensor(dtype, std::move(shape));
  switch (field) {
    case TypedField::kFloat:
      CopyElements<float>(proto.float_data(), &tensor);
      break;
    case TypedField::kDouble:
      CopyElements<double>(proto.double_data(), &tensor);
      break;
    case TypedField::kInt64:
      CopyElements<int64_t>(proto.int64_data(), &tensor);
      break;
    case TypedField::kUint64:
      if (dtype == DType::kUint32) {
        CopyElements<uint32_t>(proto.uint64_data(), &tensor);
      } else {
        CopyElements<uint64_t>(proto.uint64_data(), &tensor);
      }
      break;
    case TypedField::kInt32:
      CopyFromInt32Data(proto, &tensor);
      break;
    case TypedField::kNone:
      break;
  }
  return tensor;
}

absl::Status WriteTensorValues(const Tensor& value, onnx::TensorProto* proto,
                               ExternalFiles* external) {
  OC_ASSIGN_OR_RETURN(DType dtype, TensorProtoDType(*proto));
  OC_ASSIGN_OR_RETURN(Shape shape, TensorProtoShape(*proto));
  if (value.dtype() != dtype || value.shape() != shape) {
    return absl::InvalidArgumentError(absl::StrCat(
        TensorLabel(*proto), " is ", DTypeName(dtype), ShapeToString(shape),
        "; the new value is ", value.DebugString()));
  }
  const int64_t nbytes = static_cast<int64_t>(value.nbytes());
  if (proto->data_location() == onnx::TensorProto::EXTERNAL) {
    OC_ASSIGN_OR_RETURN(ExternalDataRef ref, LocateExternal(*proto, external));
    if (nbytes > 0) {
      OC_RETURN_IF_ERROR(Annotate(
          external->Write(ref.location, ref.offset, nbytes, value.raw()),
          TensorLabel(*proto)));
    }
    return absl::OkStatus();
  }
  if (proto->has_raw_data()) {
    if (static_cast<int64_t>(proto->raw_data().size()) != nbytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          TensorLabel(*proto), ": raw_data size ", proto->raw_data().size(),
          " does not match its shape (", nbytes, " bytes)"));
    }
    proto->mutable_raw_data()->assign(
        reinterpret_cast<const char*>(value.raw()),
        static_cast<size_t>(nbytes));
    return absl::OkStatus();
  }
  const TypedField field = TypedFieldFor(dtype);
  if (TypedFieldSize(*proto, field) != value.numel()) {
    return absl::InvalidArgumentError(absl::StrCat(
        TensorLabel(*proto), " has ", TypedFieldSize(*proto, field),
        " values in ", TypedFieldName(field), " but its shape holds ",
        value.numel()));
  }
  switch (field) {
    case TypedField::kFloat:
      StoreElements<float>(value, proto->mutable_float_data());
      break;
    case TypedField::kDouble:
      StoreElements<double>(value, proto->mutable_double_data());
      break;
    case TypedField::kInt64:
      StoreElements<int64_t>(value, proto->mutable_int64_data());
      break;
    case TypedField::kUint64:
      if (dtype == DType::kUint32) {
        StoreElements<uint32_t>(value, proto->mutable_uint64_data());
      } else {
        StoreElements<uint64_t>(value, proto->mutable_uint64_data());
      }
      break;
    case TypedField::kInt32:
      StoreToInt32Data(value, proto);
      break;
    case TypedField::kNone:
      break;
  }
  return absl::OkStatus();
}

absl::StatusOr<Tensor> LoadTensorProtoFile(const std::string& path) {
  OC_ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
  onnx::TensorProto proto;
  if (!proto.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", path, "' is not a valid serialized TensorProto"));
  }
  absl::StatusOr<Tensor> tensor = TensorFromProto(proto, nullptr);
  if (!tensor.ok()) return Annotate(tensor.status(), path);
  return tensor;
}

}  // namespace onnx_crypt
