// OnnxModel: an ONNX model as read from disk, its conversion to our Graph IR,
// and saving it back.
//
// The ModelProto is kept exactly as parsed. The only change ever made to it is
// WriteInitializer, which replaces the values of one initializer in its own
// storage form (raw_data, a typed field, or external data). A model loaded and
// saved without changes is therefore equal field for field to the input,
// unknown fields included.
//
// External data (tensors with data_location = EXTERNAL) stays on disk: each
// referenced file is opened at load time and kept open, and tensors are read
// from it when they are decoded (external_data.h); WriteInitializer keeps only
// the bytes that differ from the file. Memory therefore holds the graph and
// whatever the caller decodes, never a copy of the files. Locations must be
// relative paths that stay inside the model's folder after lexical
// normalization. Save writes each referenced file next to the output model
// under the same relative location with the same offsets (a kernel copy of the
// input's file with the changed bytes written over it), so the output is a
// complete copy that does not depend on the input's files. An external file
// changed in place while the model is loaded makes reads and Save fail with
// DataLoss.
//
// Errors: Load* give NotFound for a missing file and InvalidArgument for a
// malformed, truncated or invalid model (the onnx checker's message included);
// ToGraph gives Unimplemented for features the engines cannot run (subgraphs,
// sparse initializers, string tensors). Messages name the file, node or tensor.
// Nothing throws.
//
// Thread safety: const methods may run concurrently; WriteInitializer and
// InlineExternalData need exclusive access. A moved-from OnnxModel may only be
// assigned to or destroyed.
#ifndef ONNX_CRYPT_ONNX_MODEL_H_
#define ONNX_CRYPT_ONNX_MODEL_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "onnx_crypt/base/file.h"
#include "onnx_crypt/ir/graph.h"
#include "onnx_crypt/ir/tensor.h"

namespace onnx {
class ModelProto;
}  // namespace onnx

namespace onnx_crypt {

class OnnxModel {
 public:
  // Reads, parses (2 GiB limit) and checks (onnx::checker) the model at `path`,
  // loading its external data files from the model's folder.
  static absl::StatusOr<OnnxModel> Load(const std::string& path);
  // The same from serialized bytes. `base_dir` is the folder external data
  // locations are relative to; with "" a model with external data is
  // InvalidArgument.
  static absl::StatusOr<OnnxModel> LoadFromBytes(std::string bytes,
                                                 std::string base_dir = "");

  OnnxModel(OnnxModel&& other) noexcept;
  OnnxModel& operator=(OnnxModel&& other) noexcept;
  ~OnnxModel();

  // The graph as our IR: nodes (topologically sorted; domain "ai.onnx"
  // normalized to "", opset from the model's opset_import), decoded
  // initializers (file order in initializer_order), inputs that are not
  // initializers, outputs, opsets. Each call decodes afresh, so it reflects
  // earlier WriteInitializer calls.
  absl::StatusOr<Graph> ToGraph() const;

  // Names of the graph's initializers in file order.
  std::vector<std::string> InitializerNames() const;
  // InitializerNames, then the outputs of the Constant nodes that hold
  // parameters (Graph::constant_order): every name ReadInitializer and
  // WriteInitializer take.
  std::vector<std::string> ParameterNames() const;
  // Decodes one initializer. NotFound if there is no initializer of that name.
  absl::StatusOr<Tensor> ReadInitializer(const std::string& name) const;
  // Replaces the values of initializer `name`, keeping its storage form
  // (external tensors are changed in the in-memory copy of their file and
  // written by Save). `value` must have the initializer's dtype and shape
  // (InvalidArgument otherwise); NotFound for an unknown name.
  absl::Status WriteInitializer(const std::string& name, const Tensor& value);

  // Writes the model to `path` atomically (temporary file, fsync, rename),
  // serialized deterministically, plus its external data files next to it.
  // InvalidArgument when `path` is the file this model was loaded from, or when
  // an external data file would overwrite one of the input's.
  absl::Status Save(const std::string& path) const;
  // The same, staged: the model's files are written to temporaries in
  // `outputs` and appear only when the caller commits it (with other outputs,
  // such as a key: all or none).
  absl::Status StageSave(const std::string& path, OutputSet& outputs) const;

  // Whether any tensor in the model (initializers, node attributes, subgraphs,
  // functions) stores its data externally.
  bool HasExternalData() const;
  // Moves all external data into raw_data (the only storage-form change this
  // class makes), so the model serializes to a single buffer.
  absl::Status InlineExternalData();
  // The model serialized deterministically. FailedPrecondition for a model with
  // external data (its bytes alone would not be a usable model): call
  // InlineExternalData() first, or Save().
  absl::StatusOr<std::string> SerializeToBytes() const;
  // The model serialized deterministically with the element data of its graph
  // initializers left out (raw_data and the typed fields; names, types, shapes
  // and external-data entries stay): everything a lock does not change, for
  // the key's whole-model fingerprint. Works with external data too.
  absl::StatusOr<std::string> SerializeStructure() const;

  // The path given to Load ("" after LoadFromBytes) and the folder of external
  // data.
  std::string path() const;
  std::string base_dir() const;
  // The model as read (plus WriteInitializer changes).
  const onnx::ModelProto& proto() const;
  // Value shapes from onnx shape inference (run node by node on a copy at load
  // time, infer_shapes.h), by value name: graph inputs, outputs and inferred
  // intermediate values. For information only; may be incomplete.
  const std::map<std::string, ValueInfo>& inferred_values() const;

 private:
  struct Impl;
  explicit OnnxModel(std::unique_ptr<Impl> impl);
  static absl::StatusOr<OnnxModel> Parse(const std::string& bytes,
                                         std::string base_dir,
                                         std::string path);
  std::unique_ptr<Impl> impl_;
};

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_ONNX_MODEL_H_
