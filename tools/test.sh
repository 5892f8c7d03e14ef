#!/usr/bin/env bash
# Sets up a fresh machine, builds, and runs every test (unit tests, ONNX node-test conformance,
# ONNX Runtime agreement, PyTorch gradient agreement, lock/unlock end to end).
# Exits non-zero on any failure. Usage: tools/test.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${ONNX_CRYPT_BUILD_DIR:-${ROOT}/build}"
"${ROOT}/tools/setup.sh"
"${ROOT}/tools/build.sh"
cd "${BUILD}"
ctest --output-on-failure -j"${JOBS:-$(nproc)}" --timeout 1500
# The pip package: wheel, auditwheel repair, fresh venv, lock -> unlock -> ONNX Runtime.
if [[ "${ONNX_CRYPT_SKIP_WHEEL:-0}" != "1" ]]; then
  "${ROOT}/tools/wheel_test.sh"
fi
