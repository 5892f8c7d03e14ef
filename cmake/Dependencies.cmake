# Which external libraries onnx-crypt builds against, and the options that choose them. How each
# is found (and its version notes) lives in third_party/: our glue to others' code.
# tools/setup.sh installs them all (Debian packages).
set(OC_THIRD_PARTY ${CMAKE_SOURCE_DIR}/third_party)
include(${OC_THIRD_PARTY}/onnx.cmake)
include(${OC_THIRD_PARTY}/abseil.cmake)
find_package(Threads REQUIRED)

# oneDNN for the fast CPU kernels (Conv forward/backward, float32 GEMM); without it the
# reference kernels run alone. onnx_crypt/CMakeLists.txt applies it to the files that use it.
option(ONNX_CRYPT_WITH_DNNL "Use oneDNN for the fast CPU kernels when it is found" ON)
include(${OC_THIRD_PARTY}/blas.cmake)
message(STATUS "onnx-crypt: oneDNN CPU kernels ${ONNX_CRYPT_DNNL_ENABLED}")

include(${OC_THIRD_PARTY}/crypto.cmake)
if(ONNX_CRYPT_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
