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

# oneDNN (libdnnl-dev): the fast CPU Conv (onnx_crypt/ops/cpu/conv_dnnl.cc). Debian's build runs
# on GNU OpenMP, so OpenMP comes with it (omp_set_num_threads shares --threads). Without it the
# reference kernels run alone. onnx_crypt/CMakeLists.txt applies it to the files that use it.
option(ONNX_CRYPT_WITH_DNNL "Use oneDNN for the fast CPU kernels when it is found" ON)
set(ONNX_CRYPT_DNNL_ENABLED OFF)
if(ONNX_CRYPT_WITH_DNNL)
  find_path(DNNL_INCLUDE_DIR NAMES oneapi/dnnl/dnnl.hpp)
  find_library(DNNL_LIBRARY NAMES dnnl)
  find_package(OpenMP COMPONENTS CXX)
  if(DNNL_INCLUDE_DIR AND DNNL_LIBRARY AND OpenMP_CXX_FOUND)
    set(ONNX_CRYPT_DNNL_ENABLED ON)
  else()
    message(WARNING "oneDNN or OpenMP not found (tools/setup.sh installs libdnnl-dev): "
                    "the CPU engine runs its reference kernels only")
  endif()
endif()
message(STATUS "onnx-crypt: oneDNN CPU kernels ${ONNX_CRYPT_DNNL_ENABLED}")

find_package(OpenSSL REQUIRED)
find_package(ZLIB REQUIRED)
if(ONNX_CRYPT_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
