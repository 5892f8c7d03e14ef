#!/usr/bin/env bash
# Configures and builds onnx-crypt in ./build (Release). CUDA targets build when nvcc is found
# (architecture 90); pass -DONNX_CRYPT_WITH_CUDA=OFF (or set ONNX_CRYPT_CMAKE_ARGS) to skip them.
# Usage: tools/build.sh [extra cmake args...]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${ONNX_CRYPT_BUILD_DIR:-${ROOT}/build}"
JOBS="${JOBS:-$(nproc)}"
# shellcheck disable=SC2086
cmake -S "${ROOT}" -B "${BUILD}" -DCMAKE_BUILD_TYPE=Release ${ONNX_CRYPT_CMAKE_ARGS:-} "$@"
cmake --build "${BUILD}" -j"${JOBS}"
