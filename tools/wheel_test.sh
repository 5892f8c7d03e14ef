#!/usr/bin/env bash
# The pip package, as a user gets it: builds the wheel from this checkout (`pip wheel .`,
# scikit-build-core driving the CMake build), makes it self-contained with `auditwheel repair`
# (the shared libraries it needs are copied into the wheel), installs it into a fresh venv that
# sees neither this checkout nor any build folder, and there runs the console script (lock),
# `python -m onnx_crypt` (unlock, bit-exact) and the README's Python snippet (lock, unlock in
# memory, ONNX Runtime gives the original model's outputs exactly). Exits non-zero on any
# failure. Called by tools/test.sh; ONNX_CRYPT_SKIP_WHEEL=1 skips it there.
# Usage: tools/wheel_test.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="${ROOT}/build/wheel-test"
log() { printf '[wheel-test] %s\n' "$*"; }
rm -rf "${WORK}/dist" "${WORK}/wheelhouse" "${WORK}/venv" "${WORK}/run"
mkdir -p "${WORK}/dist" "${WORK}/wheelhouse" "${WORK}/run"

log "pip wheel . (scikit-build-core; build folder build/wheel-*)"
"${ROOT}/.venv/bin/pip" wheel --no-deps --quiet -w "${WORK}/dist" "${ROOT}"
wheel="$(ls "${WORK}"/dist/onnx_crypt-*.whl)"
log "built $(basename "${wheel}")"

log "auditwheel repair"
PATH="${ROOT}/.venv/bin:${PATH}" "${ROOT}/.venv/bin/auditwheel" repair --wheel-dir "${WORK}/wheelhouse" "${wheel}" >"${WORK}/auditwheel.log" 2>&1 ||
  { cat "${WORK}/auditwheel.log"; exit 1; }
repaired="$(ls "${WORK}"/wheelhouse/onnx_crypt-*.whl)"
log "repaired: $(basename "${repaired}")"

log "fresh venv (no system site packages), pip install the wheel and onnxruntime"
/usr/bin/python3 -m venv "${WORK}/venv"
VPY="${WORK}/venv/bin/python"
"${VPY}" -m pip install --quiet "${repaired}" "onnxruntime==$(sed -n 's/^onnxruntime==//p' "${ROOT}/third_party/python/requirements.txt")"

log "self-contained: every library outside the manylinux set comes from the wheel"
site="$("${VPY}" -c 'import sysconfig; print(sysconfig.get_paths()["platlib"])')"
for elf in "${site}"/onnx_crypt/bin/onnx-crypt "${site}"/onnx_crypt/_core*.so; do
  outside="$(ldd "${elf}" | grep '=>' | grep -v "=> ${site}/onnx_crypt[^ ]*onnx_crypt.libs/" |
    grep -Ev '^\s*(libc|libm|libstdc\+\+|libgcc_s|libz|libpthread|libdl|librt)\.so' || true)"
  if [[ -n "${outside}" ]]; then
    echo "[wheel-test] $(basename "${elf}") needs libraries from outside the wheel:" >&2
    echo "${outside}" >&2
    exit 1
  fi
done

cd "${WORK}/run"  # not the checkout: nothing of it is importable from here
MODEL="${ROOT}/tools/models/lenet5.onnx"
OWNER="${ROOT}/tools/data/fmnist_owner256.npz"
TEST="${ROOT}/tools/data/fmnist_test.npz"
log "console script: onnx-crypt lock"
"${WORK}/venv/bin/onnx-crypt" lock "${MODEL}" --data "${OWNER}" -o locked.onnx --key model.key --quiet
log "python -m onnx_crypt unlock (bit-exact)"
"${VPY}" -m onnx_crypt unlock locked.onnx --key model.key -o unlocked.onnx
cmp unlocked.onnx "${MODEL}"
log "the README's Python snippet with ONNX Runtime"
PYTHONNOUSERSITE=1 "${VPY}" - "${MODEL}" "${OWNER}" "${TEST}" "${ROOT}" <<'PY'
import os, sys
model, owner, test, root = sys.argv[1:]
import numpy as np
import onnxruntime as ort
import onnx_crypt

here = os.path.dirname(onnx_crypt.__file__)
assert not here.startswith(root + os.sep) or "/build/wheel-test/venv/" in here, here
assert all(not p.startswith(root) or "/build/wheel-test/" in p for p in sys.path if p), sys.path

result = onnx_crypt.lock(model, owner)
print(result)
session = ort.InferenceSession(onnx_crypt.unlock_to_bytes(result.locked_model, result.key),
                               providers=["CPUExecutionProvider"])
reference = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
x = np.load(test)["x"][:2000]
name = session.get_inputs()[0].name
got, want = session.run(None, {name: x})[0], reference.run(None, {name: x})[0]
assert np.array_equal(got, want), "the unlocked model's outputs differ"
locked = ort.InferenceSession(result.locked_model, providers=["CPUExecutionProvider"])
y = np.load(test)["y"][:2000]
acc_locked = float((locked.run(None, {name: x})[0].argmax(1) == y).mean())
acc = float((got.argmax(1) == y).mean())
print(f"ONNX Runtime: original/unlocked accuracy {acc:.4f}, locked {acc_locked:.4f}")
assert acc_locked < 0.2 < acc
print("onnx_crypt", onnx_crypt.__version__, "from", here)
PY
log "OK: $(basename "${repaired}")"
