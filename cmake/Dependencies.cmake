# Finds every system dependency once. tools/setup.sh installs them (Debian packages).
find_package(ONNX REQUIRED CONFIG)
find_package(Protobuf REQUIRED)
find_package(absl REQUIRED CONFIG)
find_package(Threads REQUIRED)

# BLAS: OpenBLAS through its CBLAS interface (libopenblas-dev).
find_path(CBLAS_INCLUDE_DIR NAMES cblas.h PATH_SUFFIXES openblas)
find_library(OPENBLAS_LIBRARY NAMES openblas)
if(NOT CBLAS_INCLUDE_DIR OR NOT OPENBLAS_LIBRARY)
  message(FATAL_ERROR "OpenBLAS not found: run tools/setup.sh (libopenblas-dev)")
endif()
add_library(oc_blas INTERFACE)
target_include_directories(oc_blas INTERFACE ${CBLAS_INCLUDE_DIR})
target_link_libraries(oc_blas INTERFACE ${OPENBLAS_LIBRARY})

find_package(OpenSSL REQUIRED)
find_package(ZLIB REQUIRED)
if(ONNX_CRYPT_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
