// Samples for a graph: one batch-first array per data input, by input name
// (Feeds), all with the same number of rows. The lock, evaluation and the
// attacks take their owner or test samples in this form, so that models with
// several inputs (a text classifier's input_ids and attention_mask), integer
// inputs and any layout work the same way as a one-input image classifier.
#ifndef ONNX_CRYPT_ENGINE_SAMPLES_H_
#define ONNX_CRYPT_ENGINE_SAMPLES_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "onnx_crypt/engine/engine.h"
#include "onnx_crypt/ir/graph.h"

namespace onnx_crypt {

// The number of rows (dim 0 of every array; 0 for no arrays).
int64_t SampleCount(const Feeds& samples);
// Rows [begin, end) of every array.
Feeds SliceSamples(const Feeds& samples, int64_t begin, int64_t end);
// The given rows of every array, in that order.
Feeds GatherSamples(const Feeds& samples, const std::vector<int64_t>& rows);

// Binds named arrays (a data file's, say) to `graph`'s data inputs. Each input
// takes the array of its own name; a graph with a single input also takes
// array "x" when no array has the input's name (the one-input convention of
// the data files), or else the only array there is. Every input needs an array
// whose dtype is the input's and whose shape fits the input's declared shape
// (rank, and every fixed dimension after the batch); all arrays need the same
// number of rows, at least one. `labels`, when not empty, must have one entry
// per row. InvalidArgument naming `source`, the array and the input otherwise:
// an input without an array is named with its dtype and shape, and the message
// lists the arrays `source` holds. Arrays no input takes are ignored.
absl::StatusOr<Feeds> BindSamples(const Graph& graph,
                                  const std::map<std::string, Tensor>& arrays,
                                  const std::vector<int64_t>& labels,
                                  const std::string& source);

// A graph's single data input, for callers that pass one batch-first array:
// {name: x}. InvalidArgument when the graph has another number of inputs,
// naming them.
absl::StatusOr<Feeds> SingleInputSamples(const Graph& graph, Tensor x);

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_ENGINE_SAMPLES_H_
