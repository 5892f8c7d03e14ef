// ONNX shape inference on untrusted models, one node at a time.
//
// libonnx's shape inference (Debian's onnx 1.12) trusts what it reads: the
// inference functions of the convolution family index the weight's dimensions
// by the input's rank, so a model whose W has another rank than X makes them
// read past their vectors (crashes found by tests/fuzz/fuzz_model_loader, as
// was LayerNormalization's on a scalar),
// and a node inside a subgraph or a model-local function is inferred deep
// inside libonnx where no check can reach it. So InferValueTypes runs
// onnx::shape_inference::InferShapes on one node at a time (a one-node model
// holding the types known so far, and the small constants data-dependent
// inference reads), after checking that node against the preconditions below;
// a node that fails them, has a subgraph attribute or calls a model-local
// function is not inferred (its outputs keep the types the file declares, if
// any). For a valid model the result matches whole-graph inference.
//
// Preconditions (each names what libonnx would otherwise misread):
//  - Conv, ConvInteger, QLinearConv, ConvTranspose: when both the input X and
//    the weight W have shapes, the same rank, at least 3 (N, C and a spatial
//    axis, as the ONNX spec requires); else W's dims are read by X's rank.
//  - LayerNormalization: when X has a shape, rank >= 1 and axis in
//    [-rank, rank); else the mean's dims are indexed from axis + rank < 0.
//
// A node of a domain whose opset is newer than libonnx knows (the default
// domain past 17) is not inferred either: libonnx would read it by an older
// schema of its type.
//
// Thread-compatible; throws nothing (libonnx's exceptions are caught here).
#ifndef ONNX_CRYPT_ONNX_INFER_SHAPES_H_
#define ONNX_CRYPT_ONNX_INFER_SHAPES_H_

#include <onnx/onnx_pb.h>

#include <set>
#include <string>
#include <vector>

namespace onnx_crypt {

// The types of the main graph's values: its inputs, the outputs of every node
// that could be inferred (or that the file declares in value_info), then its
// outputs; each value once. `model` must have passed onnx::checker (so its
// nodes are in topological order) and hold no external data.
std::vector<onnx::ValueInfoProto> InferValueTypes(
    const onnx::ModelProto& model);

// The domains (as spelled in `model`'s opset imports; "" and "ai.onnx" both
// for the default domain) that `model` imports at a version newer than
// libonnx's schemas know.
std::set<std::string> DomainsNewerThanLibonnx(const onnx::ModelProto& model);

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_ONNX_INFER_SHAPES_H_
