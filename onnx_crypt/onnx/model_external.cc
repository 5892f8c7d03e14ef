#include "onnx_crypt/onnx/model_external.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "onnx_crypt/base/file.h"
#include "onnx_crypt/base/status.h"
#include "onnx_crypt/ir/tensor.h"
#include "onnx_crypt/onnx/tensor_proto.h"

namespace onnx_crypt {

namespace {

// Calls fn(TensorProto*) for every tensor in `graph`: initializers, sparse
// initializers' values and indices, tensor attributes, and recursively the
// tensors of subgraph attributes.
template <typename Fn>
void ForEachTensorInGraph(onnx::GraphProto* graph, Fn& fn);

template <typename Fn>
void ForEachTensorInNode(onnx::NodeProto* node, Fn& fn) {
  for (onnx::AttributeProto& attr : *node->mutable_attribute()) {
    if (attr.has_t()) fn(attr.mutable_t());
    for (onnx::TensorProto& t : *attr.mutable_tensors()) fn(&t);
    if (attr.has_sparse_tensor()) {
      fn(attr.mutable_sparse_tensor()->mutable_values());
      fn(attr.mutable_sparse_tensor()->mutable_indices());
    }
    for (onnx::SparseTensorProto& s : *attr.mutable_sparse_tensors()) {
      fn(s.mutable_values());
      fn(s.mutable_indices());
    }
    if (attr.has_g()) ForEachTensorInGraph(attr.mutable_g(), fn);
    for (onnx::GraphProto& g : *attr.mutable_graphs())
      ForEachTensorInGraph(&g, fn);
  }
}

template <typename Fn>
void ForEachTensorInGraph(onnx::GraphProto* graph, Fn& fn) {
  for (onnx::TensorProto& t : *graph->mutable_initializer()) fn(&t);
  for (onnx::SparseTensorProto& s : *graph->mutable_sparse_initializer()) {
    fn(s.mutable_values());
    fn(s.mutable_indices());
  }
  for (onnx::NodeProto& node : *graph->mutable_node())
    ForEachTensorInNode(&node, fn);
}

template <typename Fn>
void ForEachTensor(onnx::ModelProto* model, Fn fn) {
  if (model->has_graph()) ForEachTensorInGraph(model->mutable_graph(), fn);
  for (onnx::FunctionProto& function : *model->mutable_functions()) {
    for (onnx::NodeProto& node : *function.mutable_node())
      ForEachTensorInNode(&node, fn);
  }
}

}  // namespace

absl::Status LoadExternalFiles(onnx::ModelProto* model,
                               const std::string& base_dir,
                               ExternalFiles* files) {
  absl::Status status;
  ForEachTensor(model, [&](onnx::TensorProto* tensor) {
    if (!status.ok() || tensor->data_location() != onnx::TensorProto::EXTERNAL)
      return;
    absl::StatusOr<ExternalDataRef> ref = ParseExternalDataRef(*tensor);
    if (!ref.ok()) {
      status = ref.status();
      return;
    }
    if (base_dir.empty()) {
      status = absl::InvalidArgumentError(absl::StrCat(
          "tensor '", tensor->name(), "' has external data ('", ref->location,
          "') but the model was given without a base folder to read it from"));
      return;
    }
    if (!files->Has(ref->location)) {
      // Inside the model's folder after symlinks (as onnx's checker
      // requires), then a regular file, kept open.
      absl::StatusOr<std::string> file =
          ResolveInsideFolder(base_dir, ref->location);
      absl::Status opened =
          file.ok() ? files->Open(ref->location, *file) : file.status();
      if (!opened.ok()) {
        status = Annotate(opened, absl::StrCat("external data of tensor '",
                                               tensor->name(), "'"));
        return;
      }
    }
    const int64_t size = files->FileSize(ref->location);
    if (ref->offset > size || ref->length > size - ref->offset) {
      status = absl::InvalidArgumentError(absl::StrCat(
          "tensor '", tensor->name(), "': external data range of ", ref->length,
          " bytes at offset ", ref->offset, " lies outside '", ref->location,
          "' (", size, " bytes)"));
    }
  });
  return status;
}

absl::Status InlineExternal(onnx::ModelProto* model, const ExternalFiles& files,
                            bool placeholders) {
  absl::Status status;
  ForEachTensor(model, [&](onnx::TensorProto* tensor) {
    if (!status.ok() || tensor->data_location() != onnx::TensorProto::EXTERNAL)
      return;
    // LoadExternalFiles validated every reference, so this cannot fail.
    absl::StatusOr<ExternalDataRef> ref = ParseExternalDataRef(*tensor);
    if (!ref.ok()) return;
    std::string bytes;
    if (placeholders && ref->length > kInlineForChecksBytes) {
      const int64_t numel =
          NumElements(Shape(tensor->dims().begin(), tensor->dims().end()));
      bytes.assign(numel > 0 ? ref->length / numel : 0, '\0');
    } else {
      bytes.resize(static_cast<size_t>(ref->length));
      status = Annotate(
          files.Read(ref->location, ref->offset, ref->length,
                     reinterpret_cast<uint8_t*>(bytes.data())),
          absl::StrCat("external data of tensor '", tensor->name(), "'"));
      if (!status.ok()) return;
    }
    tensor->set_raw_data(std::move(bytes));
    tensor->clear_external_data();
    tensor->clear_data_location();
  });
  return status;
}

}  // namespace onnx_crypt
