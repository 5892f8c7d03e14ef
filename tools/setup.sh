#!/usr/bin/env bash
# Sets up a fresh Debian (bookworm) machine for onnx-crypt. Idempotent: each step runs only when
# its result is missing, so a second run takes a few seconds.
#
#   1. Debian packages (apt-get, only the ones `dpkg -s` reports as not installed).
#   2. The project virtual environment .venv (from /usr/bin/python3, --system-site-packages so
#      Debian's torch/onnx/numpy are visible) with third_party/python/requirements.txt pip-installed into it.
#   3. The Fashion-MNIST arrays in tools/data/ (tools/make_data.py), when any is missing.
#
# Usage: tools/setup.sh        (as root, or as a user who may sudo)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ROOT}/.venv"
REQS="${ROOT}/third_party/python/requirements.txt"

log() { printf '[setup] %s\n' "$*"; }

DEBIAN_PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libonnx-dev libprotobuf-dev protobuf-compiler libabsl-dev libgtest-dev
  libopenblas-dev libdnnl-dev libssl-dev zlib1g-dev pybind11-dev python3-dev
  dataset-fashion-mnist libonnx-testdata
  python3-torch python3-torchvision python3-onnx python3-numpy python3-venv python3-pip
  python3-matplotlib python3-yaml python3-pil
  clang libclang-rt-dev llvm
)

# --- 1. Debian packages ------------------------------------------------------------------------
missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  # `dpkg -s` succeeds for removed-but-configured packages too; check the status line.
  if ! dpkg-query -W -f='${Status}' "${pkg}" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("${pkg}")
  fi
done
if ((${#missing[@]})); then
  SUDO=()
  if [[ "$(id -u)" -ne 0 ]]; then SUDO=(sudo); fi
  log "installing Debian packages: ${missing[*]}"
  "${SUDO[@]}" apt-get update
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    "${missing[@]}"
else
  log "Debian packages: all ${#DEBIAN_PACKAGES[@]} installed"
fi

# --- 2. Virtual environment --------------------------------------------------------------------
if [[ ! -x "${VENV}/bin/python" ]]; then
  log "creating ${VENV} (from /usr/bin/python3, --system-site-packages)"
  /usr/bin/python3 -m venv --system-site-packages "${VENV}"
else
  log "venv ${VENV} exists"
fi

# The stamp holds the hash of the requirements that were installed; pip runs only when the file
# changed or the packages no longer import.
STAMP="${VENV}/.requirements.sha256"
want="$(sha256sum "${REQS}" | cut -d' ' -f1)"
have="$(cat "${STAMP}" 2>/dev/null || true)"
if [[ "${want}" != "${have}" ]] || ! "${VENV}/bin/python" -c 'import onnxruntime' 2>/dev/null; then
  log "pip-installing ${REQS}"
  "${VENV}/bin/python" -m pip install --disable-pip-version-check --no-input -r "${REQS}"
  echo "${want}" >"${STAMP}"
else
  log "requirements up to date ($(basename "${REQS}"))"
fi
"${VENV}/bin/python" - <<'EOF'
import numpy, onnx, onnxruntime, torch
print(f"[setup] python ok: numpy {numpy.__version__}, onnx {onnx.__version__}, "
      f"onnxruntime {onnxruntime.__version__}, torch {torch.__version__}")
EOF

# --- 3. Data -----------------------------------------------------------------------------------
DATA_DIR="${ROOT}/tools/data"
need_data=0
for f in fmnist_test fmnist_train fmnist_owner256 fmnist_train1pct fmnist_train5pct \
  fmnist_rgb32_test fmnist_rgb32_owner256; do
  [[ -f "${DATA_DIR}/${f}.npz" ]] || need_data=1
done
if ((need_data)); then
  log "writing Fashion-MNIST arrays to ${DATA_DIR}"
  "${VENV}/bin/python" "${ROOT}/tools/make_data.py"
else
  log "data in ${DATA_DIR} present"
fi
log "done"
