// Gradient-check cases for the nn ops group (see op_check.h).
#include "tests/support/op_check.h"

namespace onnx_crypt::testing {

void AddNnCases(std::vector<OpCase>& cases) {}

}  // namespace onnx_crypt::testing
