// Paths of the source tree, build tree and generated test data, for tests.
#ifndef ONNX_CRYPT_TESTS_SUPPORT_PATHS_H_
#define ONNX_CRYPT_TESTS_SUPPORT_PATHS_H_

#include <string>

namespace onnx_crypt::testing {

inline std::string SourceDir() { return OC_SOURCE_DIR; }
inline std::string BinaryDir() { return OC_BINARY_DIR; }
// Bundled models (committed): <source>/tools/models
inline std::string ModelsDir() { return SourceDir() + "/tools/models"; }
// Generated data (tools/make_data.py, gitignored): <source>/tools/data
inline std::string DataDir() { return SourceDir() + "/tools/data"; }

}  // namespace onnx_crypt::testing

#endif  // ONNX_CRYPT_TESTS_SUPPORT_PATHS_H_
