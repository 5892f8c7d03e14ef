#!/usr/bin/env bash
# Configures and builds the sanitized tree in ./build-asan: clang, AddressSanitizer (with
# LeakSanitizer) + UndefinedBehaviorSanitizer on every target, the libFuzzer harnesses of
# tests/fuzz/, CPU only, no Python module (cmake/Sanitizers.cmake says why). tools/test.sh runs
# its ctest suite, tools/fuzz.sh its fuzzers.
# Usage: tools/build_sanitized.sh [extra cmake args...]   (JOBS=N build jobs; default nproc)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ONNX_CRYPT_BUILD_DIR="${ONNX_CRYPT_ASAN_BUILD_DIR:-${ROOT}/build-asan}" ONNX_CRYPT_CMAKE_ARGS="" \
  exec "${ROOT}/tools/build.sh" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DONNX_CRYPT_SANITIZE=ON -DONNX_CRYPT_FUZZERS=ON -DONNX_CRYPT_WITH_CUDA=OFF \
  -DONNX_CRYPT_BUILD_PYTHON=OFF "$@"
