#!/usr/bin/env bash
# Regenerates tests/data/ort_shape_ops (see make_shape_cases.py): the onnx package of the system
# Python writes the models and tensors, the project venv's onnxruntime computes the outputs.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="${ROOT}/tests/data/ort_shape_ops"
SCRIPT="${ROOT}/tools/ort_cases/make_shape_cases.py"
/usr/bin/python3 "${SCRIPT}" build "${OUT}"
"${ROOT}/.venv/bin/python" "${SCRIPT}" run "${OUT}"
/usr/bin/python3 "${SCRIPT}" finish "${OUT}"
echo "wrote $(ls "${OUT}" | wc -l) cases to ${OUT}"
