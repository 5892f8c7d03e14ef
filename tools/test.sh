#!/usr/bin/env bash
# Sets up a fresh machine, builds, and runs every test (unit tests, ONNX node-test conformance,
# ONNX Runtime agreement, PyTorch gradient agreement, lock/unlock end to end), then the sanitized
# stage: the C++ suite (and the Python tests that only run the CLI) built with ASan + UBSan in
# build-asan/, and each libFuzzer harness for a fixed number of inputs; and the pip package test
# (tools/wheel_test.sh: wheel, auditwheel repair, fresh venv, lock -> unlock -> ONNX Runtime).
# Exits non-zero on any failure.
#
# Usage: tools/test.sh
#   ONNX_CRYPT_SKIP_SANITIZED=1   skip the sanitized stage (local iteration; CI runs it)
#   FUZZ_RUNS=N                   inputs per fuzzer after its seeds (default 2000)
#   ONNX_CRYPT_SKIP_WHEEL=1       skip the wheel test
#   ONNX_CRYPT_SKIP_BIG=1         skip the large external-data test
#   ONNX_CRYPT_BIG_TMP=DIR        where that test writes its temporary model (default: the build dir)
#   ONNX_CRYPT_SKIP_ZOO=1         skip the model zoo (tools/zoo/run_zoo.sh)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${ONNX_CRYPT_BUILD_DIR:-${ROOT}/build}"
ASAN_BUILD="${ONNX_CRYPT_ASAN_BUILD_DIR:-${ROOT}/build-asan}"
"${ROOT}/tools/setup.sh"
"${ROOT}/tools/build.sh"
cd "${BUILD}"
ctest --output-on-failure -j"${JOBS:-$(nproc)}" --timeout 1500
# The large external-data test (issue #12): a ~2.45 GB external-data model generated at test time
# (three copies on disk: original, locked, unlocked), locked and unlocked with peak RSS below its
# size + 2 GB. Not in ctest (minutes, and GBs of disk); run here when 8 GiB are free, and then it
# must pass.
big_tmp="${ONNX_CRYPT_BIG_TMP:-${BUILD}}"
big_free=$(df --output=avail -B1 "${big_tmp}" | tail -1)
if [[ "${ONNX_CRYPT_SKIP_BIG:-0}" == "1" ]]; then
  echo "[test] large external-data test skipped (ONNX_CRYPT_SKIP_BIG=1)"
elif ((big_free < 8 * 1024 ** 3)); then
  echo "[test] large external-data test skipped: $((big_free / 1024 ** 3)) GiB free in ${big_tmp}, needs 8 GiB"
else
  ONNX_CRYPT_CLI="${BUILD}/tools/onnx-crypt" ONNX_CRYPT_BIG_TMP="${big_tmp}" \
    "${ROOT}/.venv/bin/python" "${ROOT}/tests/onnx/big_external_data.py"
fi
# The model zoo (issue #12): the models other tools export (torchvision at opsets 13 and 17, a
# small BERT, tf2onnx- and Paddle-style graphs), each through info, eval against ONNX Runtime,
# gradients against PyTorch, lock, unlock and storage form. About 7 minutes on 2 cores and 3.7 GB
# of files in tools/data/zoo (made once, reused while make_zoo.py's stamp holds).
zoo_free=$(df --output=avail -B1 "${ROOT}/tools/data" | tail -1)
if [[ "${ONNX_CRYPT_SKIP_ZOO:-0}" == "1" ]]; then
  echo "[test] model zoo skipped (ONNX_CRYPT_SKIP_ZOO=1)"
elif [[ ! -f "${ROOT}/tools/data/zoo/COMPLETE" ]] && ((zoo_free < 6 * 1024 ** 3)); then
  echo "[test] model zoo: $((zoo_free / 1024 ** 3)) GiB free in tools/data, it needs 6 GiB" >&2
  exit 1
else
  ONNX_CRYPT_BUILD_DIR="${BUILD}" "${ROOT}/tools/zoo/run_zoo.sh"
fi
# The pip package: wheel, auditwheel repair, fresh venv, lock -> unlock -> ONNX Runtime.
if [[ "${ONNX_CRYPT_SKIP_WHEEL:-0}" != "1" ]]; then
  "${ROOT}/tools/wheel_test.sh"
fi

if [[ "${ONNX_CRYPT_SKIP_SANITIZED:-0}" == 1 ]]; then
  echo "[test] sanitized stage skipped (ONNX_CRYPT_SKIP_SANITIZED=1)"
  exit 0
fi
stage_start=$(date +%s)
"${ROOT}/tools/build_sanitized.sh"
# Every process of the suite writes its sanitizer reports here (tests/CMakeLists.txt), so a
# finding in a CLI run by a Python test is seen even when the test only checks for failure.
reports="${ASAN_BUILD}/sanitizer-reports"
rm -rf "${reports}"
mkdir -p "${reports}"
cd "${ASAN_BUILD}"
rc=0
ctest --output-on-failure -j"${JOBS:-$(nproc)}" --timeout 3000 || rc=$?
if compgen -G "${reports}/*" >/dev/null; then
  echo "[test] sanitizer reports in ${reports}:" >&2
  cat "${reports}"/* >&2
  rc=1
fi
((rc == 0)) || exit "${rc}"
echo "[test] sanitized ctest: no findings ($(($(date +%s) - stage_start)) s so far)"
FUZZ_BUILD=0 "${ROOT}/tools/fuzz.sh" --runs "${FUZZ_RUNS:-2000}"
echo "[test] sanitized stage: $(($(date +%s) - stage_start)) s"
