// main() of every C++ test: gtest, after the OpenBLAS kernel fix the CLI also
// applies.
#include "gtest/gtest.h"
#include "onnx_crypt/base/openblas_env.h"

int main(int argc, char** argv) {
  onnx_crypt::ReexecWithKernelRuntimeSettings(argv);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
