#!/usr/bin/env bash
# The model zoo of issue #12: makes (or reuses) the zoo, then runs the model check
# (tests/zoo/zoo_models_check.py: info, eval vs ONNX Runtime, lock with pseudo-labels, verify,
# storage form) and the gradient check (zoo_gradients_check: the engine in float64 and float32
# against PyTorch float64), and writes tools/bench/results/zoo.md (tools/bench/zoo_table.py).
# tools/test.sh (and so CI) runs it; about 7 minutes on 2 cores when the zoo is made from
# scratch. Exits non-zero when any model fails.
# Usage: tools/zoo/run_zoo.sh            (ONNX_CRYPT_ZOO=ci|full, ONNX_CRYPT_ZOO_ONLY=a,b as in
#                                         the checks)
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${ONNX_CRYPT_BUILD_DIR:-${ROOT}/build}"
rc=0
(cd "${ROOT}" && ONNX_CRYPT_CLI="${BUILD}/tools/onnx-crypt" \
  "${ROOT}/.venv/bin/python" -m unittest -v tests/zoo/zoo_models_check.py) || rc=1
(cd "${ROOT}" && "${BUILD}/tests/zoo_gradients_check") || rc=1
exit "${rc}"
