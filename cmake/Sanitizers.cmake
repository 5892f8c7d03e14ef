# Sanitized and fuzzing builds (tools/test.sh and tools/fuzz.sh configure them in build-asan/).
#
#   ONNX_CRYPT_SANITIZE  AddressSanitizer (with LeakSanitizer) and UndefinedBehaviorSanitizer on
#                        every target of this project: the first finding ends the process
#                        (-fno-sanitize-recover=all). System libraries (libonnx, protobuf,
#                        OpenBLAS, oneDNN) stay uninstrumented; their memory is still checked
#                        where our code touches it.
#   ONNX_CRYPT_FUZZERS   The libFuzzer harnesses of tests/fuzz/ (clang only). Every target is
#                        compiled with coverage instrumentation (-fsanitize=fuzzer-no-link) and
#                        only the harnesses link libFuzzer, so one build tree serves both the
#                        sanitized test suite and the fuzzers: the tests ignore the coverage
#                        counters (the sanitizer runtime defines their hooks).
#
# With clang, OpenMP is LLVM's libomp. oneDNN (Debian builds it for GNU libgomp) then binds its
# GOMP_* and omp_* calls to libomp's GNU-compatible entry points, which come first in the
# process's symbol scope (LD_DEBUG=bindings shows it): the process runs one OpenMP runtime, and
# --threads still sets oneDNN's thread count.
#
# Both need a CPU-only build (-DONNX_CRYPT_WITH_CUDA=OFF): nvcc does not take these flags, and
# the CUDA runtime's own allocations confuse LeakSanitizer. Included before anything else is
# configured, so the flags reach every target.
option(ONNX_CRYPT_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
option(ONNX_CRYPT_FUZZERS "Build the libFuzzer harnesses in tests/fuzz (clang)" OFF)

if(ONNX_CRYPT_SANITIZE OR ONNX_CRYPT_FUZZERS)
  if(ONNX_CRYPT_WITH_CUDA)
    message(FATAL_ERROR "ONNX_CRYPT_SANITIZE / ONNX_CRYPT_FUZZERS need -DONNX_CRYPT_WITH_CUDA=OFF")
  endif()
  # Line tables are enough for symbolized stack traces and cost far less to build than -g.
  set(OC_SANITIZER_COMPILE_FLAGS -fno-omit-frame-pointer)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    list(APPEND OC_SANITIZER_COMPILE_FLAGS -gline-tables-only)
  else()
    list(APPEND OC_SANITIZER_COMPILE_FLAGS -g1)
  endif()
  add_compile_options(${OC_SANITIZER_COMPILE_FLAGS})
endif()

if(ONNX_CRYPT_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all)
  add_link_options(-fsanitize=address,undefined)
  message(STATUS "onnx-crypt: ASan + UBSan build")
endif()

if(ONNX_CRYPT_FUZZERS)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "ONNX_CRYPT_FUZZERS needs clang (libFuzzer): configure with "
                        "-DCMAKE_CXX_COMPILER=clang++")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
  message(STATUS "onnx-crypt: libFuzzer harnesses (tests/fuzz)")
endif()
