// Gradient-check cases for the elementwise ops group (see op_check.h).
#include "tests/support/op_check.h"

namespace onnx_crypt::testing {

void AddElementwiseCases(std::vector<OpCase>& cases) {}

}  // namespace onnx_crypt::testing
