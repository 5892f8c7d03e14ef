# OpenBLAS (Debian libopenblas-dev 0.3.21) through its CBLAS interface, as the interface target
# oc_blas; and oneDNN (libdnnl-dev 2.6, built on GNU OpenMP) for the fast CPU kernels, found when
# ONNX_CRYPT_WITH_DNNL is on: sets ONNX_CRYPT_DNNL_ENABLED, DNNL_INCLUDE_DIR, DNNL_LIBRARY and
# OpenMP's variables. Version notes: third_party/README.md.
find_path(CBLAS_INCLUDE_DIR NAMES cblas.h PATH_SUFFIXES openblas)
find_library(OPENBLAS_LIBRARY NAMES openblas)
if(NOT CBLAS_INCLUDE_DIR OR NOT OPENBLAS_LIBRARY)
  message(FATAL_ERROR "OpenBLAS not found: run tools/setup.sh (libopenblas-dev)")
endif()
add_library(oc_blas INTERFACE)
target_include_directories(oc_blas INTERFACE ${CBLAS_INCLUDE_DIR})
target_link_libraries(oc_blas INTERFACE ${OPENBLAS_LIBRARY})

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
