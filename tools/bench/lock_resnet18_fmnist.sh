#!/usr/bin/env bash
# Locks tools/models/rgb32/resnet18_fmnist.onnx (torchvision resnet18 trained on Fashion-MNIST at
# 3x32x32 by tools/train_models.py) with the 256 owner samples in the 3x32x32 form, once per
# option set given on the command line, and measures each lock: values changed, % of the
# parameters, test accuracy of the locked model on all 10,000 test images (onnx-crypt eval, and
# ONNX Runtime), lock seconds, the lock process's peak RSS (/usr/bin/time -v), unlock byte for
# byte and `onnx-crypt verify`. The numbers are in tools/bench/results/resnet18_fmnist.md.
#
# Usage: tools/bench/lock_resnet18_fmnist.sh [--threads N] ['LOCK OPTIONS' ...]
#   e.g. tools/bench/lock_resnet18_fmnist.sh '' '--max-values 23' '--values-per-round 1'
#   (each quoted argument is one lock; '' is the default lock). Default threads 1.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OC="${ONNX_CRYPT_CLI:-${ROOT}/build/tools/onnx-crypt}"
PY="${ROOT}/.venv/bin/python"
MODEL="${RESNET18_MODEL:-${ROOT}/tools/models/rgb32/resnet18_fmnist.onnx}"  # override: a test
OWNER="${ROOT}/tools/data/fmnist_rgb32_owner256.npz"
TEST="${ROOT}/tools/data/fmnist_rgb32_test.npz"
THREADS=1
if [[ "${1:-}" == "--threads" ]]; then THREADS="$2"; shift 2; fi
(($#)) || set -- ""
for f in "${MODEL}" "${OWNER}" "${TEST}"; do
  [[ -f "${f}" ]] || { echo "lock_resnet18_fmnist.sh: ${f} missing (tools/setup.sh)" >&2; exit 2; }
done
OUT="$(mktemp -d)"
trap 'rm -rf "${OUT}"' EXIT

json_field() {  # file field: the field of the JSON object on the file's last line
  "${PY}" -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])[sys.argv[2]])' "$1" "$2"
}

echo "== original: ${MODEL}"
"${OC}" eval "${MODEL}" --data "${TEST}" --threads "${THREADS}" --json -q >"${OUT}/eval0.json"
echo "test accuracy (onnx-crypt eval, 10,000 images): $(json_field "${OUT}/eval0.json" accuracy)"
i=0
for opts in "$@"; do
  i=$((i + 1))
  locked="${OUT}/locked${i}.onnx" key="${OUT}/${i}.key" unlocked="${OUT}/unlocked${i}.onnx"
  read -ra extra <<<"${opts}"
  cmd=("${OC}" lock "${MODEL}" --data "${OWNER}" -o "${locked}" --key "${key}"
       --threads "${THREADS}" --json -q "${extra[@]}")
  echo "== lock ${i}: options '${opts}'"
  echo "\$ onnx-crypt lock MODEL --data fmnist_rgb32_owner256.npz -o L --key K --threads ${THREADS} --json ${opts}"
  /usr/bin/time -v "${cmd[@]}" >"${OUT}/lock${i}.json" 2>"${OUT}/time${i}.txt" ||
    { cat "${OUT}/time${i}.txt" >&2; exit 1; }
  tail -1 "${OUT}/lock${i}.json"
  rss_kb="$(sed -n 's/.*Maximum resident set size (kbytes): //p' "${OUT}/time${i}.txt")"
  echo "peak RSS (lock process): $((rss_kb / 1024)) MiB"
  "${OC}" eval "${locked}" --data "${TEST}" --threads "${THREADS}" --json -q >"${OUT}/eval${i}.json"
  echo "locked test accuracy (onnx-crypt eval, 10,000 images): $(json_field "${OUT}/eval${i}.json" accuracy)"
  "${PY}" "${ROOT}/tools/ort_eval.py" "${locked}" --data "${TEST}" --threads "${THREADS}" --json |
    tail -1 >"${OUT}/ort${i}.json"
  echo "locked test accuracy (ONNX Runtime): $(json_field "${OUT}/ort${i}.json" accuracy)"
  "${OC}" unlock "${locked}" --key "${key}" -o "${unlocked}"
  cmp "${MODEL}" "${unlocked}" && echo "unlocked: byte-identical to the original"
  "${OC}" verify "${MODEL}" "${locked}" "${key}"
done
