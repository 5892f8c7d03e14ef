// Gradient-check cases for the shape ops group (see op_check.h).
#include "tests/support/op_check.h"

namespace onnx_crypt::testing {

void AddShapeCases(std::vector<OpCase>& cases) {}

}  // namespace onnx_crypt::testing
