"""`python -m onnx_crypt ...` runs the onnx-crypt CLI (see onnx_crypt._cli)."""
from onnx_crypt._cli import main

main()
