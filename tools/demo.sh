#!/usr/bin/env bash
# The main job on the bundled default, from a fresh machine: set up, build, lock the bundled
# Fashion-MNIST LeNet-5 with 256 owner samples, report test accuracy before and after, unlock,
# check the unlocked model is bit-identical, and verify all three in ONNX Runtime.
# Usage: tools/demo.sh [MODEL.onnx]   (default tools/models/lenet5.onnx)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${ONNX_CRYPT_BUILD_DIR:-${ROOT}/build}"
MODEL="${1:-${ROOT}/tools/models/lenet5.onnx}"
"${ROOT}/tools/setup.sh"
"${ROOT}/tools/build.sh" >/dev/null
OC="${BUILD}/tools/onnx-crypt"
PY="${ROOT}/.venv/bin/python"
DATA="${ROOT}/tools/data"
OUT="${ROOT}/out/demo"
mkdir -p "${OUT}"
name="$(basename "${MODEL}" .onnx)"
step() { printf '\n== %s\n' "$*"; }

step "model"
"${OC}" info "${MODEL}" | head -20
step "accuracy of the original model on the 10,000 test images (onnx-crypt engine)"
"${OC}" eval "${MODEL}" --data "${DATA}/fmnist_test.npz" 2>/dev/null
step "lock with 256 owner samples from the training set"
rm -f "${OUT}/${name}.locked.onnx" "${OUT}/${name}.key" "${OUT}/${name}.unlocked.onnx"
"${OC}" lock "${MODEL}" --data "${DATA}/fmnist_owner256.npz" \
  -o "${OUT}/${name}.locked.onnx" --key "${OUT}/${name}.key"
step "accuracy of the locked model on the test images (onnx-crypt engine)"
"${OC}" eval "${OUT}/${name}.locked.onnx" --data "${DATA}/fmnist_test.npz" 2>/dev/null
step "unlock"
"${OC}" unlock "${OUT}/${name}.locked.onnx" --key "${OUT}/${name}.key" \
  -o "${OUT}/${name}.unlocked.onnx"
cmp "${MODEL}" "${OUT}/${name}.unlocked.onnx" && echo "unlocked model is byte-identical to the original"
"${OC}" verify "${MODEL}" "${OUT}/${name}.locked.onnx" "${OUT}/${name}.key"
step "ONNX Runtime: original, locked, unlocked"
for m in "${MODEL}" "${OUT}/${name}.locked.onnx" "${OUT}/${name}.unlocked.onnx"; do
  "${PY}" "${ROOT}/tools/ort_eval.py" "${m}" --data "${DATA}/fmnist_test.npz" | tail -1
done
