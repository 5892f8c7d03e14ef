# cuDNN 9, which ships beside the CUDA 13 toolkit here (/usr/local/cuda/{include,lib64}), as the
# interface target onnx_crypt_cudnn that the CUDA engine's host code links. Included by
# cuda/CMakeLists.txt once CUDA is enabled.
find_path(ONNX_CRYPT_CUDNN_INCLUDE_DIR cudnn.h
  HINTS ${CUDAToolkit_INCLUDE_DIRS} /usr/local/cuda/include)
find_library(ONNX_CRYPT_CUDNN_LIBRARY NAMES cudnn
  HINTS ${CUDAToolkit_LIBRARY_DIR} /usr/local/cuda/lib64 /usr/local/cuda/lib)
if(NOT ONNX_CRYPT_CUDNN_INCLUDE_DIR OR NOT ONNX_CRYPT_CUDNN_LIBRARY)
  message(FATAL_ERROR "cuDNN not found (cudnn.h / libcudnn under /usr/local/cuda); "
                      "install cuDNN 9 or configure with -DONNX_CRYPT_WITH_CUDA=OFF")
endif()
message(STATUS "onnx-crypt: cuDNN ${ONNX_CRYPT_CUDNN_LIBRARY}")
add_library(onnx_crypt_cudnn INTERFACE)
target_include_directories(onnx_crypt_cudnn INTERFACE ${ONNX_CRYPT_CUDNN_INCLUDE_DIR})
target_link_libraries(onnx_crypt_cudnn INTERFACE ${ONNX_CRYPT_CUDNN_LIBRARY})
