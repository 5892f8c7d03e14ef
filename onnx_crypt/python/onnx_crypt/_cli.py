"""The `onnx-crypt` console script and `python -m onnx_crypt`: the C++ CLI itself.

Both replace the Python process with the CLI binary shipped in the package
(onnx_crypt/bin/onnx-crypt), so they are the same program as a CMake build's
build/tools/onnx-crypt: the same commands, flags, output and exit codes.
"""
import os
import sys
from pathlib import Path


def binary() -> Path:
    """The path of the CLI binary inside the installed package."""
    return Path(__file__).resolve().parent / "bin" / "onnx-crypt"


def main(argv=None) -> None:
    """Runs the CLI with `argv` (default: sys.argv[1:]); does not return."""
    args = sys.argv[1:] if argv is None else list(argv)
    exe = binary()
    if not os.access(exe, os.X_OK):
        sys.stderr.write(f"onnx-crypt: error: the CLI binary is missing from the package: {exe}\n")
        raise SystemExit(1)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(str(exe), [str(exe), *args])
