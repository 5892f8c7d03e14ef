#!/usr/bin/env bash
# Runs the libFuzzer harnesses of tests/fuzz/ (built by tools/build_sanitized.sh: ASan + UBSan)
# over seeds from tools/make_fuzz_corpus.py, one fuzzer after the other, one process each
# (niced: the machine is shared), and prints the executions of each.
#
#   tools/fuzz.sh SECONDS [FUZZER...]   long runs: SECONDS per fuzzer; the corpus each one grows
#                                       is kept in fuzz/corpus/FUZZER/ (gitignored) for the next
#                                       run; crashing inputs go to fuzz/crashes/FUZZER/, logs to
#                                       fuzz/logs/
#   tools/fuzz.sh --runs N [FUZZER...]  short runs (tools/test.sh, CI): the seeds, then N more
#                                       inputs each with a fixed random seed, in a throwaway
#                                       corpus; crashes go to build-asan/fuzz-crashes/
#
# FUZZER is a name without the fuzz_ prefix (model_loader, external_data, key_parser,
# npz_reader; default all). Exits 1 when any fuzzer crashed, leaked or hit a sanitizer report;
# reproduce with build-asan/tests/fuzz/fuzz_FUZZER CRASH_FILE, and turn the input into a
# regression test (tests/fuzz/README.md). Environment: FUZZ_BUILD=0 skips the build step,
# FUZZ_ARGS adds libFuzzer flags (e.g. FUZZ_ARGS=-seed=7).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ASAN_BUILD="${ONNX_CRYPT_ASAN_BUILD_DIR:-${ROOT}/build-asan}"
ALL_FUZZERS=(model_loader external_data key_parser npz_reader)

usage() {
  sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit 2
}
(($#)) || usage
runs=""
seconds=""
if [[ "$1" == "--runs" ]]; then
  (($# >= 2)) || usage
  runs="$2"
  shift 2
else
  seconds="$1"
  shift
fi
[[ "${runs}${seconds}" =~ ^[0-9]+$ ]] || usage
fuzzers=("$@")
((${#fuzzers[@]})) || fuzzers=("${ALL_FUZZERS[@]}")

if [[ "${FUZZ_BUILD:-1}" != 0 ]]; then
  "${ROOT}/tools/build_sanitized.sh" >/dev/null
fi

# Seeds. The key harness needs a locked model: the release CLI locks faster when it is built.
cli="${ROOT}/build/tools/onnx-crypt"
[[ -x "${cli}" ]] || cli="${ASAN_BUILD}/tools/onnx-crypt"
SEEDS="${ASAN_BUILD}/fuzz-seeds"
"${ROOT}/.venv/bin/python" "${ROOT}/tools/make_fuzz_corpus.py" --cli "${cli}" --out "${SEEDS}"
export ONNX_CRYPT_FUZZ_LOCKED_MODEL="${SEEDS}/lenet5.locked.onnx"

# Sanitizer settings as in the ctest suite (tests/CMakeLists.txt); libFuzzer does its own leak
# check after each input that allocated more than it freed.
SUPP="${ROOT}/tests/sanitizers"
export ASAN_OPTIONS="detect_leaks=1:check_initialization_order=1:strict_init_order=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:suppressions=${SUPP}/ubsan.supp:${UBSAN_OPTIONS:-}"
export LSAN_OPTIONS="suppressions=${SUPP}/lsan.supp:print_suppressions=0:${LSAN_OPTIONS:-}"

if [[ -n "${runs}" ]]; then
  work="$(mktemp -d "${TMPDIR:-/tmp}/onnx_crypt_fuzz.XXXXXX")"
  trap 'rm -rf "${work}"' EXIT
  crashes="${ASAN_BUILD}/fuzz-crashes"
  logs="${work}"
else
  crashes="${ROOT}/fuzz/crashes"
  logs="${ROOT}/fuzz/logs"
fi
mkdir -p "${logs}"

failed=0
summary=()
for name in "${fuzzers[@]}"; do
  bin="${ASAN_BUILD}/tests/fuzz/fuzz_${name}"
  [[ -x "${bin}" ]] || { echo "[fuzz] no ${bin} (unknown fuzzer '${name}'?)" >&2; exit 2; }
  mkdir -p "${crashes}/${name}"
  if [[ -n "${runs}" ]]; then
    corpus="${work}/corpus_${name}"
    # -runs counts the seeds too.
    limit=(-runs="$((runs + $(find "${SEEDS}/${name}" -type f | wc -l)))" -seed=1)
  else
    corpus="${ROOT}/fuzz/corpus/${name}"
    limit=(-max_total_time="${seconds}")
  fi
  mkdir -p "${corpus}"
  log="${logs}/${name}.log"
  echo "[fuzz] ${name}: ${limit[*]} over ${corpus} + ${SEEDS}/${name}"
  start=$(date +%s)
  rc=0
  # shellcheck disable=SC2086
  nice -n 19 "${bin}" "${limit[@]}" -timeout=60 -rss_limit_mb=4096 -print_final_stats=1 \
    -artifact_prefix="${crashes}/${name}/" ${FUZZ_ARGS:-} "${corpus}" "${SEEDS}/${name}" \
    >"${log}" 2>&1 || rc=$?
  secs=$(($(date +%s) - start))
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "${log}" | tail -1)"
  speed="$(sed -n 's/^stat::average_exec_per_sec: *//p' "${log}" | tail -1)"
  if ((rc != 0)); then
    failed=1
    echo "[fuzz] ${name}: FAILED (exit ${rc}); the end of ${log}:" >&2
    tail -n 60 "${log}" >&2
  fi
  size="$(find "${corpus}" -type f | wc -l)"
  summary+=("$(printf '%-14s %12s executions %7s s %7s exec/s %6s new corpus files  exit %d' \
    "${name}" "${execs:-?}" "${secs}" "${speed:-?}" "${size}" "${rc}")")
done
echo "[fuzz] summary:"
printf '[fuzz]   %s\n' "${summary[@]}"
exit "${failed}"
