// float16 / bfloat16 models, computed in float32.
//
// The kernels compute in float32 and float64. A model whose weights, inputs
// or inputs are float16 or bfloat16 runs as the same graph with each such
// tensor widened to float32: initializers (exactly: every half and bfloat16
// value is a float), graph inputs and outputs, Constant and ConstantOfShape
// values. A Cast to float16 still rounds to float16, then widens back (an IR
// node is added after it), so the model's own casts round where they did.
// Results differ from a runtime that rounds to the narrow type after every op
// by that rounding only. A float32 model whose only narrow values come from
// such casts is left as it is (the kernels take float16 where they can).
//
// Graph::narrow_storage records the initializers the file holds in a narrow
// type, so that the lock keeps their locked values representable in it
// (lock/lock_steps.h, TensorTails::storage) and writes them back, and keys
// their bits, in their own type (lock/model_lock.cc).
#ifndef ONNX_CRYPT_ENGINE_NARROW_FLOATS_H_
#define ONNX_CRYPT_ENGINE_NARROW_FLOATS_H_

#include "onnx_crypt/ir/graph.h"

namespace onnx_crypt {

// Widens `graph` as above (in place); a graph without narrow floats is left
// as it is.
void ComputeNarrowFloatsInFloat32(Graph& graph);

// `value` rounded to the nearest value of `storage` (float16 or bfloat16,
// ties to even) and widened back; `value` itself for any other type.
float RoundToStorage(float value, DType storage);

}  // namespace onnx_crypt

#endif  // ONNX_CRYPT_ENGINE_NARROW_FLOATS_H_
