#!/usr/bin/env python3
"""Batch lock throughput: `onnx-crypt lock-batch --variants N` against the single-model command
`onnx-crypt lock` run N times in a loop (seeds 0..N-1), same model, data, device and threads.
Prints locks per second for both and the ratio (batch / loop; > 1 means the batch is faster).

Usage: bench_batch.py [--model tools/models/lenet5.onnx] [--variants 4] [--device cpu]
                      [--threads 2] [--out FILE.md]
"""
import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time

from bench_util import write_report

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CLI = os.environ.get("ONNX_CRYPT_CLI", os.path.join(ROOT, "build", "tools", "onnx-crypt"))
OWNER = os.path.join(ROOT, "tools", "data", "fmnist_owner256.npz")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=os.path.join(ROOT, "tools", "models", "lenet5.onnx"))
    ap.add_argument("--variants", type=int, default=4)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=os.path.join(ROOT, "tools", "bench", "results",
                                                  "batch_cpu.md"))
    a = ap.parse_args()
    # --fast: the loop batch_cpu.md was first measured with (the batch's gain is engine reuse
    # and overlapped writes, the same for either loop).
    common = ["--data", OWNER, "--device", a.device, "--threads", str(a.threads), "--fast"]
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        for i in range(a.variants):
            subprocess.run([CLI, "lock", a.model, "-o", os.path.join(tmp, f"l{i}.onnx"),
                            "--key", os.path.join(tmp, f"l{i}.key"), "--seed", str(i)] + common,
                           check=True, capture_output=True)
        loop = time.perf_counter() - t0
        t0 = time.perf_counter()
        subprocess.run([CLI, "lock-batch", a.model, "--variants", str(a.variants),
                        "--output-dir", os.path.join(tmp, "batch")] + common,
                       check=True, capture_output=True)
        batch = time.perf_counter() - t0
    row = (f"| {os.path.basename(a.model)} | {a.variants} | {a.device} | "
           f"{a.variants / loop:.3f} | {a.variants / batch:.3f} | {loop / batch:.2f} |")
    table = ("| model | variants | device | loop of `lock` (locks/s) | `lock-batch` (locks/s) | "
             "ratio |\n|---|---:|---|---:|---:|---:|\n" + row)
    head = (f"Batch throughput on {platform.machine()} ({os.cpu_count()} cores, {a.threads} "
            "BLAS threads), 256 owner samples, default options, wall time including process "
            "start, loading and writing. Variants in lock-batch leave out a seeded half of the "
            "positions each, so they may need a different number of values than the plain "
            "locks. Made by `tools/bench/bench_batch.py`.\n\n")
    write_report(a.out, head + table + "\n")
    print(table)


if __name__ == "__main__":
    sys.exit(main())
